package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Golden says how a request the bridge built may differ from a seed's
// example request (testdata/seeds) and still match it field for field.
type Golden struct {
	// Ours are the paths ("order.id", "returnUrl") whose values are the
	// bridge's own (ids, URLs): they must be present, any value.
	Ours []string
	// Extra are the paths the bridge sends that the example lacks, each
	// with why ("isSaveCard": "seed 001 lists it; false is the default").
	// Any other field the example lacks fails the match.
	Extra map[string]string
	// Omitted are the example's paths the bridge does not send, each with
	// why (a field no merchant sets meaningfully). Any other missing field
	// fails the match.
	Omitted map[string]string
}

// MatchSeed compares got, a JSON request body, with the seed example in
// testdata/seeds/name: every field of the example is in got with the same
// value, numbers compared by their decimal value (20 and 20.000 match),
// except Ours; every field of got is in the example or in Extra. Arrays
// match element by element. It reports every difference.
func MatchSeed(t testing.TB, name string, got []byte, g Golden) {
	t.Helper()
	var want, have any
	if err := decodeNumbers(Fixture(t, "seeds/"+name), &want); err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	if err := decodeNumbers(got, &have); err != nil {
		t.Fatalf("built request: %v\n%s", err, got)
	}
	var diffs []string
	compare("", want, have, g, &diffs)
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Errorf("%s: %s", name, d)
	}
	if len(diffs) > 0 {
		t.Logf("built request:\n%s", got)
	}
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compare(path string, want, have any, g Golden, diffs *[]string) {
	if slices.Contains(g.Ours, path) {
		if have == nil {
			*diffs = append(*diffs, fmt.Sprintf("%s: missing (a value of ours)", path))
		}
		return
	}
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: want an object, got %v", path, have))
			return
		}
		for k, wv := range w {
			hv, ok := h[k]
			if _, why := g.Omitted[join(path, k)]; why {
				if ok {
					*diffs = append(*diffs, fmt.Sprintf("%s: sent (%v) but listed as omitted", join(path, k), hv))
				}
				continue
			}
			if !ok && !slices.Contains(g.Ours, join(path, k)) {
				*diffs = append(*diffs, fmt.Sprintf("%s: missing (want %v)", join(path, k), wv))
				continue
			}
			compare(join(path, k), wv, hv, g, diffs)
		}
		for k := range h {
			if _, ok := w[k]; !ok {
				if _, why := g.Extra[join(path, k)]; !why {
					*diffs = append(*diffs, fmt.Sprintf("%s: sent but not in the example (%v)", join(path, k), h[k]))
				}
			}
		}
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %d elements, got %v", path, len(w), have))
			return
		}
		for i := range w {
			compare(fmt.Sprintf("%s[%d]", path, i), w[i], h[i], g, diffs)
		}
	case json.Number:
		h, ok := have.(json.Number)
		if !ok || decimal(w.String()) != decimal(h.String()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %v", path, w, have))
		}
	default:
		if want != have {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %#v, got %#v", path, want, have))
		}
	}
}

// decimal normalises a JSON number's text for comparison by value:
// trailing fraction zeros and a bare point go ("20.000" and "20" match).
func decimal(s string) string {
	if strings.ContainsAny(s, "eE") {
		return s
	}
	if whole, frac, ok := strings.Cut(s, "."); ok {
		frac = strings.TrimRight(frac, "0")
		if frac == "" {
			return whole
		}
		return whole + "." + frac
	}
	return s
}
