// Package testdriven runs data-driven tests, in the style of
// cockroachdb/datadriven, with no dependencies.
//
// A test file is a sequence of commands. Each command is a line
// "cmd arg arg...", optional input lines, a line "----", and the expected
// output, which ends at a blank line or at the end of the file:
//
//	pipe input a 1 @10
//	----
//	ok
//
// An output that contains blank lines is written between two double
// separators:
//
//	describe
//	----
//	----
//	first paragraph
//
//	second paragraph
//	----
//	----
//
// Blank lines and lines starting with '#' between commands are comments.
// Arguments are separated by spaces; double quotes group and escape, as in
// Go: key="a b" is the argument `key=a b`.
//
// Run a test with -rewrite (or the environment variable
// TESTDRIVEN_REWRITE=1) to replace every expected output with the actual
// one; comments and inputs are kept.
package testdriven

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewriteFlag = flag.Bool("rewrite", false, "rewrite the expected outputs of data-driven tests")

func rewriting() bool { return *rewriteFlag || os.Getenv("TESTDRIVEN_REWRITE") != "" }

// TB is the part of testing.TB the runner uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// TestData is one command of a test file.
type TestData struct {
	// Pos is "file:line" of the command line.
	Pos string
	// Cmd is the command, the first word of its line.
	Cmd string
	// Args are the other words of the command line, unquoted.
	Args []string
	// Input holds the lines between the command and "----", each ending
	// in a newline.
	Input string
	// Expected is the expected output, each line ending in a newline.
	Expected string
}

// Arg returns the value of the argument key=value.
func (d *TestData) Arg(key string) (string, bool) {
	for _, a := range d.Args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Flag reports whether the bare argument name is present.
func (d *TestData) Flag(name string) bool {
	for _, a := range d.Args {
		if a == name {
			return true
		}
	}
	return false
}

// block is a parsed command with the verbatim text that precedes its
// expected output, so that a rewrite keeps comments and inputs.
type block struct {
	d          TestData
	prefix     string
	terminated bool // a blank line followed the output
	actual     string
}

type file struct {
	blocks  []*block
	trailer string
}

func parse(name, content string) (*file, error) {
	lines := strings.Split(content, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	f := &file{}
	var pending strings.Builder
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			pending.WriteString(line + "\n")
			i++
			continue
		}
		pos := fmt.Sprintf("%s:%d", name, i+1)
		words, err := Split(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", pos, err)
		}
		b := &block{d: TestData{Pos: pos, Cmd: words[0], Args: words[1:]}}
		pending.WriteString(line + "\n")
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			b.d.Input += lines[i] + "\n"
			pending.WriteString(lines[i] + "\n")
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: %s: no ---- separator", pos, b.d.Cmd)
		}
		pending.WriteString("----\n")
		i++
		var out strings.Builder
		if i < len(lines) && lines[i] == "----" {
			for i++; ; i++ {
				if i >= len(lines) {
					return nil, fmt.Errorf("%s: %s: output not closed by ----\\n----", pos, b.d.Cmd)
				}
				if lines[i] == "----" && i+1 < len(lines) && lines[i+1] == "----" {
					i += 2
					break
				}
				out.WriteString(lines[i] + "\n")
			}
			if i < len(lines) {
				if lines[i] != "" {
					return nil, fmt.Errorf("%s:%d: want a blank line after ----\\n----", name, i+1)
				}
				i++
				b.terminated = true
			}
		} else {
			for ; i < len(lines) && lines[i] != ""; i++ {
				out.WriteString(lines[i] + "\n")
			}
			if i < len(lines) {
				i++
				b.terminated = true
			}
		}
		b.d.Expected = out.String()
		b.prefix = pending.String()
		pending.Reset()
		f.blocks = append(f.blocks, b)
	}
	f.trailer = pending.String()
	return f, nil
}

// format returns out as it is written in a test file.
func format(out string) string {
	if strings.HasPrefix(out, "\n") || strings.Contains(out, "\n\n") {
		return "----\n" + out + "----\n----\n"
	}
	return out
}

func (f *file) String() string {
	var sb strings.Builder
	for _, b := range f.blocks {
		sb.WriteString(b.prefix)
		sb.WriteString(format(b.actual))
		if b.terminated {
			sb.WriteString("\n")
		}
	}
	sb.WriteString(f.trailer)
	return sb.String()
}

// normalize ends a non-empty output with a newline.
func normalize(out string) string {
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// RunTest runs the commands of the test file at path through f, which
// returns each command's output, and fails t at the first output that
// differs from the expected one. Under -rewrite it writes the actual outputs
// into the file instead.
func RunTest(t TB, path string, f func(d *TestData) string) {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testdriven: %v", err)
		return
	}
	tf, err := parse(path, string(content))
	if err != nil {
		t.Fatalf("testdriven: %v", err)
		return
	}
	rewrite := rewriting()
	for _, b := range tf.blocks {
		d := b.d
		b.actual = normalize(f(&d))
		if !rewrite && b.actual != b.d.Expected {
			t.Fatalf("%s: %s\nexpected:\n%sgot:\n%s", b.d.Pos, strings.Join(append([]string{b.d.Cmd}, b.d.Args...), " "),
				b.d.Expected, b.actual)
			return
		}
	}
	if rewrite {
		if err := os.WriteFile(path, []byte(tf.String()), 0o644); err != nil {
			t.Fatalf("testdriven: %v", err)
		}
	}
}

// Walk runs f as a subtest for every file in dir, in name order, skipping
// hidden files and directories.
func Walk(t *testing.T, dir string, f func(t *testing.T, path string)) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("testdriven: %v", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n++
		path := filepath.Join(dir, e.Name())
		t.Run(e.Name(), func(t *testing.T) { f(t, path) })
	}
	if n == 0 {
		t.Fatalf("testdriven: no test files in %s", dir)
	}
}

// Split splits a line into words at spaces and tabs. Double-quoted parts
// are unquoted as Go strings and may hold spaces: a="b c" is one word, a=b c.
func Split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("bad quoted string %s: %v", line[i:j+1], err)
			}
			cur.WriteString(s)
			inWord = true
			i = j
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
