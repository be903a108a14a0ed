package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"paybridge/internal/upay/upaytest"
)

// An operator finds a payment and reads its story from the command line.
func TestPaymentsCommands(t *testing.T) {
	t.Parallel()
	b := startBridge(t, backends[0])
	paid := b.create("cli-paid", "3.250", "KWD")
	open := b.create("cli-open", "1.000", "KWD")
	_, track := b.visit(paid)
	ret, err := b.sim.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ret)
	b.waitStatus(paid["id"].(string), "paid", 10*time.Second)

	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := b.run(t.Context(), args, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(run("payments", "list", "--status", "paid", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["id"] != paid["id"] || list[0]["amount"] != "3.250" {
		t.Fatalf("paid payments: %v", list)
	}
	table := run("payments", "list", "--shop", b.shopID)
	if !strings.Contains(table, paid["id"].(string)) || !strings.Contains(table, open["id"].(string)) || !strings.Contains(table, "3.250 KWD") {
		t.Fatalf("list:\n%s", table)
	}
	show := run("payments", "show", paid["id"].(string))
	for _, want := range []string{"order    cli-paid", "amount   3.250 KWD", "status   paid", "created", "redirected → paid", "charge_created"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	for _, bad := range [][]string{{"payments", "show", "pay_nothing"}, {"payments", "list", "--status", "lost"}, {"payments", "list", "--shop", "shop_none"}} {
		if err := b.run(t.Context(), bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
