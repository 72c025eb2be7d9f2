package docsnippets

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSnippetsMirrored checks that every line of every Go code block of the
// pages this package mirrors (the blocks with statements; declarations of
// signatures are left out) appears in this package's sources, so that the
// snippets the pages show are the ones compiled and run here.
func TestSnippetsMirrored(t *testing.T) {
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, f := range sources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			lines[strings.Join(strings.Fields(l), " ")] = true
		}
	}
	block := regexp.MustCompile("(?s)```go\n(.*?)```")
	for _, page := range []string{"dsl.md", "concepts.md", "migrating.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatchIndex(b, -1) {
			code := string(b[m[2]:m[3]])
			if !strings.Contains(code, ":=") {
				continue // signatures and type declarations
			}
			line := strings.Count(string(b[:m[0]]), "\n") + 1
			for _, l := range strings.Split(code, "\n") {
				if n := strings.Join(strings.Fields(l), " "); n != "" && !lines[n] {
					t.Errorf("docs/%s:%d: the snippet's line %q is not in examples/internal/docsnippets", page, line, strings.TrimSpace(l))
				}
			}
		}
	}
}
