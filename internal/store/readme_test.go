package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"paybridge/internal/testenv"
)

// TestREADMEQueries runs the README's operating queries (its sql block)
// on every backend, so that the queries an operator copies at 3 a.m. name
// real columns and values. A statement using strftime is SQLite's, one
// using extract PostgreSQL's.
func TestREADMEQueries(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```sql\n")
	if !ok {
		t.Fatal("README has no sql block")
	}
	block, _, _ = strings.Cut(block, "```")
	var stmts []string
	var cur []string
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") || strings.TrimSpace(line) == "" {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			stmts = append(stmts, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	if len(cur) > 0 || len(stmts) < 4 {
		t.Fatalf("README's sql block: %d statements, %q left over", len(stmts), cur)
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			db := be.open(t)
			for _, q := range stmts {
				if (strings.Contains(q, "strftime(") && be.name != "sqlite") || (strings.Contains(q, "extract(") && be.name != "postgres") {
					continue
				}
				rows, err := db.w.QueryContext(t.Context(), q)
				if err != nil {
					t.Errorf("%s:\n%s", err, q)
					continue
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					t.Errorf("%s:\n%s", err, q)
				}
				rows.Close()
			}
		})
	}
}
