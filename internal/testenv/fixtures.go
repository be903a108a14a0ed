package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the module's root directory: the nearest directory
// holding go.mod, walking up from the test's working directory (its
// package's directory under go test). The test fails if there is none.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: working directory: %v", err)
	}
	for dir := wd; ; {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testenv: no go.mod in %s or any parent", wd)
		}
		dir = parent
	}
}

// FixturePath returns the path of a shared fixture, rel under the
// module's top-level testdata/ ("signatures/woocommerce.json"). The test
// fails if rel leaves testdata/ or the file does not exist.
func FixturePath(t testing.TB, rel string) string {
	t.Helper()
	if !filepath.IsLocal(rel) {
		t.Fatalf("testenv: fixture %q is not a path inside testdata/", rel)
	}
	p := filepath.Join(ModuleRoot(t), "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: fixture %s: %v", rel, err)
	}
	return p
}

// Fixture returns the contents of a shared fixture (see FixturePath).
func Fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(FixturePath(t, rel))
	if err != nil {
		t.Fatalf("testenv: fixture %s: %v", rel, err)
	}
	return b
}
