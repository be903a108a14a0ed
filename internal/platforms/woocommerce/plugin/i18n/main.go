// Command i18n compiles the WooCommerce plugin's translations: each
// languages/*.po (the source, edited by hand) into the .mo that WordPress
// before 6.5 reads and the .l10n.php that WordPress 6.5 and later reads,
// side by side. Run it from the module root after editing a .po:
//
//	go run ./internal/platforms/woocommerce/plugin/i18n
//
// Its test fails when a compiled file is out of date.
//
// The .po reader and the .mo writer are written here: Go has no maintained
// library that writes .mo (github.com/leonelquinteros/gotext, which the test
// uses to read the result back, only reads it), and the plugin's .po files
// use a small part of the format: a header, msgctxt, msgid, msgid_plural,
// msgstr and msgstr[n], with C escapes. GNU msgfmt makes the same files;
// this keeps the build to the Go toolchain.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// defaultDir is the plugin's languages directory, from the module root.
const defaultDir = "internal/platforms/woocommerce/plugin/paybridge-upayments/languages"

func main() {
	dir := flag.String("dir", defaultDir, "directory of the .po files")
	flag.Parse()
	if err := compileDir(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "i18n:", err)
		os.Exit(1)
	}
}

// compileDir writes the .mo and .l10n.php of every .po in dir.
func compileDir(dir string) error {
	pos, err := filepath.Glob(filepath.Join(dir, "*.po"))
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("no .po files in %s", dir)
	}
	for _, po := range pos {
		mo, php, err := compileFile(po)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(po, ".po")
		if err := os.WriteFile(base+".mo", mo, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(base+".l10n.php", php, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// compileFile reads the .po at path and returns its .mo and .l10n.php.
func compileFile(path string) (mo, php []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := parsePO(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.mo(), c.l10nPHP(filepath.Base(path)), nil
}

// entry is one message: its context, id, plural id and translations (one,
// or one per plural form).
type entry struct {
	ctx, id, plural string
	hasCtx          bool
	strs            []string
}

// key is the entry's original string in a .mo: "ctx\x04id", and
// "\x00plural" after the id for a plural entry.
func (e entry) key() string {
	k := e.id
	if e.hasCtx {
		k = e.ctx + "\x04" + k
	}
	if e.plural != "" {
		k += "\x00" + e.plural
	}
	return k
}

// translated reports whether every form has a translation (msgfmt leaves
// out the others, so WordPress falls back to the original).
func (e entry) translated() bool {
	for _, s := range e.strs {
		if s == "" {
			return false
		}
	}
	return len(e.strs) > 0
}

// catalog is a parsed .po: its header (msgstr of msgid "") and messages.
type catalog struct {
	header  string
	entries []entry
}

// headerField returns the value of a header line "Name: value".
func (c catalog) headerField(name string) string {
	for _, line := range strings.Split(c.header, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

var errSyntax = errors.New("po syntax error")

// parsePO reads the subset of the PO format described in the package
// comment. Entries marked "#, fuzzy" are skipped, as msgfmt does; obsolete
// ones ("#~") are comments.
func parsePO(b []byte) (catalog, error) {
	var (
		c      catalog
		cur    entry
		target *string // the string continuation lines append to
		fuzzy  bool
		seen   = map[string]int{}
		open   bool // an entry has started
		line   int
	)
	flush := func() error {
		if !open {
			return nil
		}
		open, target = false, nil
		if len(cur.strs) == 0 {
			return fmt.Errorf("%w: line %d: msgid %q has no msgstr", errSyntax, line, cur.id)
		}
		if cur.plural != "" && len(cur.strs) < 2 {
			return fmt.Errorf("%w: line %d: plural msgid %q needs msgstr[0] and msgstr[1]", errSyntax, line, cur.id)
		}
		k := cur.key()
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("%w: line %d: msgid %q already defined at entry %d", errSyntax, line, cur.id, prev)
		}
		seen[k] = len(seen) + 1
		if !cur.hasCtx && cur.id == "" {
			c.header = cur.strs[0]
		} else if !fuzzy {
			c.entries = append(c.entries, cur)
		}
		cur, fuzzy = entry{}, false
		return nil
	}
	pendingFuzzy, afterCtx := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			if err := flush(); err != nil {
				return c, err
			}
			continue
		case strings.HasPrefix(l, "#"):
			if strings.HasPrefix(l, "#,") && strings.Contains(l, "fuzzy") {
				pendingFuzzy = true
			}
			continue
		case strings.HasPrefix(l, `"`):
			if target == nil {
				return c, fmt.Errorf("%w: line %d: a string outside an entry", errSyntax, line)
			}
			s, err := unquote(l)
			if err != nil {
				return c, fmt.Errorf("%w: line %d: %v", errSyntax, line, err)
			}
			*target += s
			continue
		}
		kw, rest, _ := strings.Cut(l, " ")
		s, err := unquote(strings.TrimSpace(rest))
		if err != nil {
			return c, fmt.Errorf("%w: line %d: %s: %v", errSyntax, line, kw, err)
		}
		// An entry starts with msgctxt, or with a msgid that no msgctxt
		// just opened.
		if kw == "msgctxt" || (kw == "msgid" && !afterCtx) {
			if err := flush(); err != nil {
				return c, err
			}
			open, fuzzy, pendingFuzzy = true, pendingFuzzy, false
		}
		if afterCtx && kw != "msgid" {
			return c, fmt.Errorf("%w: line %d: msgctxt without a msgid", errSyntax, line)
		}
		afterCtx = kw == "msgctxt"
		switch {
		case kw == "msgctxt":
			cur.ctx, cur.hasCtx = s, true
			target = &cur.ctx
		case kw == "msgid" && open:
			cur.id = s
			target = &cur.id
		case kw == "msgid_plural" && open && len(cur.strs) == 0:
			cur.plural = s
			target = &cur.plural
		case kw == "msgstr" && open && cur.plural == "" && len(cur.strs) == 0:
			cur.strs = append(cur.strs, s)
			target = &cur.strs[0]
		case strings.HasPrefix(kw, "msgstr[") && strings.HasSuffix(kw, "]") && open && cur.plural != "":
			n, err := strconv.Atoi(kw[len("msgstr[") : len(kw)-1])
			if err != nil || n != len(cur.strs) {
				return c, fmt.Errorf("%w: line %d: %s out of order", errSyntax, line, kw)
			}
			cur.strs = append(cur.strs, s)
			target = &cur.strs[n]
		default:
			return c, fmt.Errorf("%w: line %d: unexpected %q", errSyntax, line, kw)
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if err := flush(); err != nil {
		return c, err
	}
	if c.header == "" {
		return c, fmt.Errorf("%w: no header (msgid \"\")", errSyntax)
	}
	if cs := c.headerField("Content-Type"); !strings.Contains(strings.ToLower(cs), "charset=utf-8") {
		return c, fmt.Errorf("%w: the header's Content-Type %q is not UTF-8", errSyntax, cs)
	}
	return c, nil
}

// unquote reads one C-quoted PO string.
func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("want a quoted string, got %q", s)
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '"' {
			return "", errors.New(`an unescaped " inside the string`)
		}
		if ch != '\\' {
			b.WriteByte(ch)
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("a lone \\ at the end")
		}
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '"', '\\':
			b.WriteByte(s[i])
		default:
			return "", fmt.Errorf("unsupported escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

// mo encodes the catalog as a GNU .mo file, little-endian, without the
// optional hash table: the header (original ""), then every translated
// entry, sorted by original string as readers that bisect expect.
//
//	offset 0   magic 0x950412de, revision 0, count N
//	       12  offset of the originals table (28), of the translations table
//	       20  hash table size 0, its offset
//	       28  N × (length, offset) of the originals, then N × of the translations,
//	           then the strings, each followed by a NUL (not counted in its length)
func (c catalog) mo() []byte {
	type pair struct{ k, v string }
	pairs := []pair{{"", c.header}}
	for _, e := range c.entries {
		if e.translated() {
			pairs = append(pairs, pair{e.key(), strings.Join(e.strs, "\x00")})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	n := uint32(len(pairs))
	const headerLen = 28
	origTable, transTable := uint32(headerLen), uint32(headerLen)+8*n
	data := transTable + 8*n
	var tables, strs bytes.Buffer
	le := binary.LittleEndian
	put := func(w *bytes.Buffer, v uint32) { _ = binary.Write(w, le, v) }
	var origs, trans bytes.Buffer
	for _, p := range pairs {
		put(&origs, uint32(len(p.k)))
		put(&origs, data+uint32(strs.Len()))
		strs.WriteString(p.k)
		strs.WriteByte(0)
	}
	for _, p := range pairs {
		put(&trans, uint32(len(p.v)))
		put(&trans, data+uint32(strs.Len()))
		strs.WriteString(p.v)
		strs.WriteByte(0)
	}
	for _, v := range []uint32{0x950412de, 0, n, origTable, transTable, 0, data} {
		put(&tables, v)
	}
	tables.Write(origs.Bytes())
	tables.Write(trans.Bytes())
	tables.Write(strs.Bytes())
	return tables.Bytes()
}

// phpString writes s as a PHP string literal: single-quoted, or, when it
// holds a NUL or EOT (plural and context separators), single-quoted parts
// joined with "\0" / "\4".
func phpString(s string) string {
	quote := func(p string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p) + "'"
	}
	if !strings.ContainsAny(s, "\x00\x04") {
		return quote(s)
	}
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] == 4 {
			if i > start {
				parts = append(parts, quote(s[start:i]))
			}
			parts = append(parts, fmt.Sprintf(`"\%d"`, s[i]))
			start = i + 1
		}
	}
	if start < len(s) {
		parts = append(parts, quote(s[start:]))
	}
	return strings.Join(parts, " . ")
}

// l10nPHP writes the catalog as a WordPress 6.5+ PHP translation file:
// messages keyed by the original ("ctx\4id" with a context; the singular
// for a plural entry, whose forms are joined with "\0").
func (c catalog) l10nPHP(source string) []byte {
	var b bytes.Buffer
	lang := c.headerField("Language")
	fmt.Fprintf(&b, "<?php\n/**\n * Translations for %s (WordPress 6.5+ PHP translation file), compiled from\n", lang)
	fmt.Fprintf(&b, " * %s by ../../i18n: edit the .po, then run\n", source)
	b.WriteString(" * go run ./internal/platforms/woocommerce/plugin/i18n from the module root.\n *\n * @package Paybridge_UPayments\n */\n\n")
	b.WriteString("return array(\n")
	fmt.Fprintf(&b, "\t'domain'       => %s,\n", phpString(c.headerField("X-Domain")))
	fmt.Fprintf(&b, "\t'language'     => %s,\n", phpString(lang))
	fmt.Fprintf(&b, "\t'plural-forms' => %s,\n", phpString(c.headerField("Plural-Forms")))
	b.WriteString("\t'messages'     => array(\n")
	for _, e := range c.entries {
		if !e.translated() {
			continue
		}
		k := e.id
		if e.hasCtx {
			k = e.ctx + "\x04" + k
		}
		fmt.Fprintf(&b, "\t\t%s => %s,\n", phpString(k), phpString(strings.Join(e.strs, "\x00")))
	}
	b.WriteString("\t),\n);\n")
	return b.Bytes()
}
