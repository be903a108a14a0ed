package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// An operator adds, lists and removes console users from the command line.
func TestUsersCommands(t *testing.T) {
	setEnv(t)
	run1 := func(in string, args ...string) (string, error) {
		t.Helper()
		stdin = strings.NewReader(in)
		t.Cleanup(func() { stdin = nil })
		var out, errb bytes.Buffer
		err := run(t.Context(), args, &out, &errb)
		return out.String(), err
	}
	var shop struct{ ID string }
	out, err := run1("", "shops", "add", "--platform", "api", "--name", "A", "--gateway", "upay", "--gateway-key", "k", "--json")
	if err != nil || json.Unmarshal([]byte(out), &shop) != nil || shop.ID == "" {
		t.Fatalf("shops add: %q, %v", out, err)
	}
	if out, err := run1("correct horse battery\n", "users", "add", "--email", "Ops@Example.com"); err != nil || !strings.Contains(out, "ops@example.com, operator") {
		t.Fatalf("users add operator: %q, %v", out, err)
	}
	if out, err := run1("merchant password 1", "users", "add", "--email", "m@example.com", "--shop", shop.ID); err != nil || !strings.Contains(out, "merchant of shop "+shop.ID) {
		t.Fatalf("users add merchant: %q, %v", out, err)
	}
	for _, bad := range []struct {
		in   string
		args []string
		want string
	}{
		{"correct horse battery", []string{"users", "add", "--email", "ops@example.com"}, "already has an account"},
		{"short", []string{"users", "add", "--email", "x@example.com"}, "at least 12"},
		{"", []string{"users", "add", "--email", "x@example.com"}, "no password on standard input"},
		{"correct horse battery", []string{"users", "add"}, "--email is required"},
		{"correct horse battery", []string{"users", "add", "--email", "Bob <b@example.com>"}, "plain address"},
		{"correct horse battery", []string{"users", "add", "--email", "x@example.com", "--shop", "shop_none"}, "no such shop"},
		{"", []string{"users", "remove", "--email", "nobody@example.com"}, "no user nobody@example.com"},
		{"", []string{"users", "frob"}, "unknown subcommand"},
	} {
		if _, err := run1(bad.in, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want an error with %q", bad.args, err, bad.want)
		}
	}
	out, err = run1("", "users", "list", "--json")
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 ||
		list[0]["email"] != "ops@example.com" || list[0]["role"] != "operator" || list[1]["shop_id"] != shop.ID {
		t.Fatalf("users list: %q, %v", out, err)
	}
	if out, err := run1("", "users", "list"); err != nil || !strings.Contains(out, "(all)") || !strings.Contains(out, "merchant") {
		t.Fatalf("users list table: %q, %v", out, err)
	}
	if out, err := run1("", "users", "remove", "--email", "M@example.com"); err != nil || !strings.Contains(out, "removed m@example.com") {
		t.Fatalf("users remove: %q, %v", out, err)
	}
	if out, _ := run1("", "users", "list", "--json"); strings.Contains(out, "m@example.com") {
		t.Fatalf("removed user still listed: %s", out)
	}
}
