package testenv

import (
	"reflect"
	"testing"
)

func TestParseCorpusFile(t *testing.T) {
	got, err := parseCorpusFile([]byte("go test fuzz v1\n[]byte(\"a\\x00\\\"b\")\nstring(\"é\\n\")\nbool(true)\nint64(-7)\nint(3)\nuint64(0x10)\n"))
	want := []any{[]byte("a\x00\"b"), "é\n", true, int64(-7), 3, uint64(16)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%#v %v", got, err)
	}
	for _, bad := range []string{"", "go test fuzz v2\nstring(\"a\")\n", "go test fuzz v1\n", "go test fuzz v1\nstring(a)\n",
		"go test fuzz v1\nfloat64(1)\n", "go test fuzz v1\nstring\n"} {
		if _, err := parseCorpusFile([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
