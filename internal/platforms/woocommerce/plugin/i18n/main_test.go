package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leonelquinteros/gotext"

	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const langDir = "../paybridge-upayments/languages"

// The shopper's notices after a declined, cancelled or expired payment
// (includes/paybridge-notices.php), in Arabic.
var notices = map[string]string{
	"Your payment was declined or could not be completed, and you have not been charged. You can try again or choose another payment method.": "رُفضت عملية الدفع أو تعذّر إتمامها، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى.",
	"You cancelled the payment, and you have not been charged. You can try again or choose another payment method.":                           "لقد ألغيت عملية الدفع، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى.",
	"The time to complete the payment ran out, and you have not been charged. Please try again.":                                              "انتهت المهلة المتاحة لإتمام عملية الدفع، ولم يُخصم منك أي مبلغ. يُرجى المحاولة مرة أخرى.",
}

// TestCompiledUpToDate: the shipped .mo and .l10n.php are what this
// command makes of the .po (run it after editing a .po).
func TestCompiledUpToDate(t *testing.T) {
	pos, err := filepath.Glob(filepath.Join(langDir, "*.po"))
	if err != nil || len(pos) == 0 {
		t.Fatalf("no .po in %s: %v", langDir, err)
	}
	for _, po := range pos {
		mo, php, err := compileFile(po)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(po, ".po")
		for file, want := range map[string][]byte{base + ".mo": mo, base + ".l10n.php": php} {
			got, err := os.ReadFile(file)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is not the compiled %s (%v): run go run ./internal/platforms/woocommerce/plugin/i18n", file, filepath.Base(po), err)
			}
		}
	}
}

// TestMOHoldsArabic reads the shipped .mo with another implementation
// (gotext's reader) and finds every .po message in it, the notices
// included, and the header's plural rule.
func TestMOHoldsArabic(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(langDir, "paybridge-upayments-ar.mo"))
	if err != nil {
		t.Fatal(err)
	}
	mo := gotext.NewMo()
	mo.Parse(b)
	po := gotext.NewPo()
	po.ParseFile(filepath.Join(langDir, "paybridge-upayments-ar.po"))
	trs := po.GetDomain().GetTranslations()
	got := mo.GetDomain().GetTranslations()
	if len(trs) < 45 {
		t.Fatalf("gotext read only %d messages from the .po", len(trs))
	}
	for id, tr := range trs {
		if id == "" {
			continue
		}
		if g, ok := got[id]; !ok || g.Get() != tr.Get() {
			t.Errorf("mo lacks %q = %q", id, tr.Get())
		}
	}
	if len(got) != len(trs) {
		t.Errorf("the mo has %d messages, the po %d", len(got), len(trs))
	}
	for en, ar := range notices {
		if g, ok := got[en]; !ok || g.Get() != ar {
			t.Errorf("mo lacks the notice %q = %q", en, ar)
		}
	}
	if got := mo.GetDomain().Headers.Get("Language"); got != "ar" {
		t.Errorf("mo Language header %q", got)
	}
	if got := mo.GetN("%d item", "%d items", 2); got != "%d items" {
		t.Errorf("untranslated plural: %q", got)
	}
}

// TestMOFormat checks the encoder on contexts, plurals, escapes and an
// untranslated message against gotext's reader and, byte for byte, GNU
// msgfmt's output (Debian's gettext, installed where scripts/test runs).
func TestMOFormat(t *testing.T) {
	src := `# A comment
msgid ""
msgstr ""
"Language: ar\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgctxt "button"
msgid "Pay"
msgstr "ادفع"

msgid "Pay"
msgstr "الدفع"

msgid "%d order"
msgid_plural "%d orders"
msgstr[0] "طلب %d"
msgstr[1] "%d طلبات"

msgid "Say \"hi\"\n"
"on two lines\t\\"
msgstr "قل \"مرحبا\"\n"
"على سطرين\t\\"

#, fuzzy
msgid "Fuzzy"
msgstr "غامض"

msgid "Untranslated"
msgstr ""
`
	c, err := parsePO([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := c.mo()
	mo := gotext.NewMo()
	mo.Parse(b)
	for _, tc := range []struct{ got, want string }{
		{mo.GetC("Pay", "button"), "ادفع"},
		{mo.Get("Pay"), "الدفع"},
		{mo.GetN("%d order", "%d orders", 1), "طلب %d"},
		{mo.GetN("%d order", "%d orders", 5), "%d طلبات"},
		{mo.GetDomain().GetTranslations()["Say \"hi\"\non two lines\t\\"].Get(), "قل \"مرحبا\"\nعلى سطرين\t\\"},
		{mo.Get("Fuzzy"), "Fuzzy"},
		{mo.Get("Untranslated"), "Untranslated"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	testenv.Servers(t) // msgfmt is a program from outside the toolchain
	msgfmt, err := exec.LookPath("msgfmt")
	if err != nil {
		t.Fatalf("msgfmt (Debian package gettext) is needed to check the .mo byte for byte: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.po"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(msgfmt, "--no-hash", "-o", filepath.Join(dir, "x.mo"), filepath.Join(dir, "x.po")).CombinedOutput(); err != nil {
		t.Fatalf("msgfmt: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(dir, "x.mo"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("the .mo differs from msgfmt --no-hash's:\n got %q\nwant %q", b, want)
	}
}

func TestParsePOErrors(t *testing.T) {
	const head = "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n\n"
	for name, src := range map[string]string{
		"no header":       "msgid \"a\"\nmsgstr \"b\"\n",
		"not utf-8":       "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n",
		"no msgstr":       head + "msgid \"a\"\n\nmsgid \"b\"\nmsgstr \"c\"\n",
		"duplicate":       head + "msgid \"a\"\nmsgstr \"b\"\n\nmsgid \"a\"\nmsgstr \"c\"\n",
		"bad escape":      head + "msgid \"a\\q\"\nmsgstr \"b\"\n",
		"unquoted":        head + "msgid a\nmsgstr \"b\"\n",
		"stray string":    "\"x\"\n" + head,
		"unknown keyword": head + "msgid \"a\"\nmsgtext \"b\"\n",
		"plural one form": head + "msgid \"a\"\nmsgid_plural \"as\"\nmsgstr[0] \"b\"\n",
		"plural order":    head + "msgid \"a\"\nmsgid_plural \"as\"\nmsgstr[1] \"b\"\n",
		"ctx alone":       head + "msgctxt \"c\"\nmsgstr \"b\"\n",
		"inner quote":     head + "msgid \"a\"b\"\nmsgstr \"b\"\n",
	} {
		if _, err := parsePO([]byte(src)); !errors.Is(err, errSyntax) {
			t.Errorf("%s: err = %v, want a syntax error", name, err)
		}
	}
}

func TestPHPString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "'plain'",
		`it's \ fine`:   `'it\'s \\ fine'`,
		"ctx\x04id":     `'ctx' . "\4" . 'id'`,
		"one\x00two":    `'one' . "\0" . 'two'`,
		"\x00":          `"\0"`,
		"عربي's":        `'عربي\'s'`,
		"trailing\x00":  `'trailing' . "\0"`,
		"\x04leading":   `"\4" . 'leading'`,
		"a\x00\x00b":    `'a' . "\0" . "\0" . 'b'`,
		"":              "''",
		"line\nbreak":   "'line\nbreak'",
		"$notvariable":  "'$notvariable'",
		`"double" kept`: `'"double" kept'`,
	} {
		if got := phpString(in); got != want {
			t.Errorf("phpString(%q) = %s, want %s", in, got, want)
		}
	}
}
