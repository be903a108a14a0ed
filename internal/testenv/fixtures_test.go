package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFixture(t *testing.T) {
	root := ModuleRoot(t)
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(b), "module paybridge\n") {
		t.Fatalf("ModuleRoot = %s: %v", root, err)
	}
	if p := FixturePath(t, "signatures/woocommerce.json"); p != filepath.Join(root, "testdata", "signatures", "woocommerce.json") {
		t.Fatalf("FixturePath = %s", p)
	}
	var v map[string]any
	if err := json.Unmarshal(Fixture(t, "signatures/woocommerce.json"), &v); err != nil || v["pay"] == nil {
		t.Fatalf("signature vectors: %v", err)
	}
}

// TestSeedFixturesAreJSON: every seed example under testdata/seeds is one
// valid JSON value, as the golden tests that compare against them need.
func TestSeedFixturesAreJSON(t *testing.T) {
	dir := filepath.Dir(FixturePath(t, "seeds/upay-charge-knet.request.json"))
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) < 11 {
		t.Fatalf("%d seed files: %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", filepath.Base(f))
		}
	}
}
