package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzSeeds adds to f every seed kept for it in the module's top-level
// testdata/fuzz/<f.Name()>/, one file per input in Go's corpus format
// ("go test fuzz v1", then one value per line: string("…"), []byte("…"),
// bool, int, int64, uint64 …). The target's own package directory holds no
// corpus: `go test` reads only testdata/fuzz next to the test, and keeping
// every corpus in one top-level place (with the crashers found, as
// regression cases) is what the project's layout asks; loading them here,
// rather than copying them into each package, keeps one copy.
//
// A new crasher that `go test -fuzz` writes under the package's own
// testdata/fuzz/ belongs in the top-level folder: move it there. A folder
// that does not exist adds nothing; an unreadable file fails the test.
func FuzzSeeds(f *testing.F) {
	f.Helper()
	dir := filepath.Join(ModuleRoot(f), "testdata", "fuzz", f.Name())
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		f.Fatalf("testenv: fuzz seeds: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatalf("testenv: fuzz seed: %v", err)
		}
		vals, err := parseCorpusFile(b)
		if err != nil {
			f.Fatalf("testenv: fuzz seed %s/%s: %v", f.Name(), e.Name(), err)
		}
		f.Add(vals...)
	}
}

// parseCorpusFile reads Go's fuzz corpus format, for the value types the
// project's targets take. The format is the toolchain's (internal/fuzz,
// not importable), hence this reader.
func parseCorpusFile(b []byte) ([]any, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "go test fuzz v1" {
		return nil, fmt.Errorf(`first line is not "go test fuzz v1"`)
	}
	var vals []any
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		typ, arg, ok := strings.Cut(line, "(")
		if !ok || !strings.HasSuffix(arg, ")") {
			return nil, fmt.Errorf("line %q is not type(value)", line)
		}
		arg = strings.TrimSuffix(arg, ")")
		v, err := corpusValue(typ, arg)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		vals = append(vals, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("no values")
	}
	return vals, nil
}

func corpusValue(typ, arg string) (any, error) {
	switch typ {
	case "string", "[]byte":
		s, err := strconv.Unquote(arg)
		if err != nil {
			return nil, err
		}
		if typ == "string" {
			return s, nil
		}
		return []byte(s), nil
	case "bool":
		return strconv.ParseBool(arg)
	case "int":
		n, err := strconv.ParseInt(arg, 0, 64)
		return int(n), err
	case "int64":
		return strconv.ParseInt(arg, 0, 64)
	case "uint64":
		return strconv.ParseUint(arg, 0, 64)
	case "uint32":
		n, err := strconv.ParseUint(arg, 0, 32)
		return uint32(n), err
	}
	return nil, fmt.Errorf("type %s is not supported", typ)
}
