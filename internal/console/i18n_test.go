package console

import (
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/store"
)

// Every text the templates and handlers use exists in English and Arabic,
// and the two languages have the same keys.
func TestTexts(t *testing.T) {
	t.Parallel()
	en, ar := slices.Sorted(maps.Keys(texts["en"])), slices.Sorted(maps.Keys(texts["ar"]))
	if !slices.Equal(en, ar) {
		t.Fatalf("English and Arabic keys differ:\n en %v\n ar %v", en, ar)
	}
	used := map[string]bool{}
	tmplKey := regexp.MustCompile(`\{\{t \$?\.?[A-Za-z]* "([a-z_]+)"\}\}`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	// Keys handlers pass as messages (n_…, e_…, err_…, and the reasons).
	goKey := regexp.MustCompile(`"((?:n|e|err|refund|resync|login|jobs|shop|rotated)_[a-z_]+)"`)
	for _, f := range []string{"console.go", "auth.go", "payments.go", "jobs.go", "session.go", "render.go", "shops.go"} {
		b, err := fsRead(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(b, -1) {
			used[m[1]] = true
		}
	}
	for _, s := range []string{"created", "redirected", "pending", "paid", "failed", "canceled", "expired", "", "unsynced", "synced", "sync_failed", "succeeded", "connected", "connecting", "disabled", "secrets unreadable"} {
		used[statusKey(s)] = true
	}
	// A connection check's outcomes, their badges and their plain words
	// on each side (the templates build these keys).
	for _, o := range []checkout.CheckOutcome{checkout.CheckOK, checkout.CheckIncomplete, checkout.CheckRefused,
		checkout.CheckUnreachable, checkout.CheckFailed, checkout.CheckNotOffered} {
		used["chk_"+string(o)], used["chk_gateway_"+string(o)], used["chk_store_"+string(o)] = true, true, true
	}
	for _, k := range []string{store.ShopEventDisabled, store.ShopEventEnabled, store.ShopEventRemoved, store.ShopEventKeyRotated,
		store.ShopEventCredentialsChanged, store.ShopEventConnectionChecked} {
		used["ev_"+k] = true
	}
	used[statusKey(string(checkout.ShopRemoved))] = true
	for k := range used {
		if _, ok := texts["en"][k]; !ok {
			t.Errorf("text %q is used but not written", k)
		}
	}
	if len(used) < 60 {
		t.Errorf("found only %d keys in use: the patterns are broken", len(used))
	}
	if strings.Contains(tr("ar", "login_title"), "Sign") {
		t.Error("Arabic falls back to English")
	}
}

func fsRead(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
