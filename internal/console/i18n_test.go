package console

import (
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
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
	goKey := regexp.MustCompile(`"((?:n|e|err|refund|resync|login|jobs)_[a-z_]+)"`)
	for _, f := range []string{"console.go", "auth.go", "payments.go", "jobs.go", "session.go", "render.go"} {
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
