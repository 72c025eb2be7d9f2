package testdriven

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// selfTest runs the commands of testdata/self.txt.
func selfTest(d *TestData) string {
	switch d.Cmd {
	case "echo":
		return d.Input
	case "args":
		var sb strings.Builder
		for _, a := range d.Args {
			fmt.Fprintf(&sb, "[%s]\n", a)
		}
		if v, ok := d.Arg("key"); ok {
			fmt.Fprintf(&sb, "key=%s\n", v)
		}
		if v, ok := d.Arg("k"); ok {
			fmt.Fprintf(&sb, "k=%s\n", v)
		}
		fmt.Fprintf(&sb, "flag a: %t\nflag b: %t\n", d.Flag("a"), d.Flag("b"))
		return sb.String()
	case "lines":
		n, err := strconv.Atoi(d.Args[0])
		if err != nil {
			return err.Error()
		}
		var parts []string
		for i := 1; i <= n; i++ {
			parts = append(parts, fmt.Sprintf("line %d", i))
		}
		return strings.Join(parts, "\n\n")
	}
	return "unknown command " + d.Cmd
}

func TestWalk(t *testing.T) {
	var ran []string
	Walk(t, "testdata", func(t *testing.T, path string) {
		ran = append(ran, filepath.Base(path))
		RunTest(t, path, selfTest)
	})
	if want := []string{"self.txt"}; !reflect.DeepEqual(ran, want) {
		t.Errorf("Walk ran %v, want %v", ran, want)
	}
}

func TestParse(t *testing.T) {
	content := "# comment\n\ncmd a b=c\nin 1\nin 2\n----\nout 1\nout 2\n\nnext\n----\n----\nx\n\ny\n----\n----\n\n# tail\nlast\n----\n"
	f, err := parse("f.txt", content)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]TestData, len(f.blocks))
	for i, b := range f.blocks {
		got[i] = b.d
	}
	want := []TestData{
		{Pos: "f.txt:3", Cmd: "cmd", Args: []string{"a", "b=c"}, Input: "in 1\nin 2\n", Expected: "out 1\nout 2\n"},
		{Pos: "f.txt:10", Cmd: "next", Args: []string{}, Expected: "x\n\ny\n"},
		{Pos: "f.txt:20", Cmd: "last", Args: []string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parse:\n got %#v\nwant %#v", got, want)
	}
	terminated := []bool{f.blocks[0].terminated, f.blocks[1].terminated, f.blocks[2].terminated}
	if !reflect.DeepEqual(terminated, []bool{true, true, false}) {
		t.Errorf("terminated = %v, want [true true false]", terminated)
	}
	// Rewriting with the expected outputs gives the file back.
	for _, b := range f.blocks {
		b.actual = b.d.Expected
	}
	if s := f.String(); s != content {
		t.Errorf("round trip:\n got %q\nwant %q", s, content)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ content, want string }{
		{"cmd\nno separator\n", "f.txt:1: cmd: no ---- separator"},
		{"cmd\n----\n----\nnever closed\n", `f.txt:1: cmd: output not closed by ----\n----`},
		{"cmd\n----\n----\nx\n----\n----\ny\n", `f.txt:7: want a blank line after ----\n----`},
		{"cmd \"open\n----\n", `f.txt:1: unterminated quote in "cmd \"open"`},
		{"cmd \"bad\\q\"\n----\n", `f.txt:1: bad quoted string "bad\q": invalid syntax`},
	}
	for _, c := range cases {
		_, err := parse("f.txt", c.content)
		if err == nil || err.Error() != c.want {
			t.Errorf("parse(%q) error = %v, want %s", c.content, err, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"a  b\tc", []string{"a", "b", "c"}},
		{`k="a b" "" x`, []string{"k=a b", "", "x"}},
		{`"\t"z`, []string{"\tz"}},
		{"   ", nil},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// fakeTB records the failure RunTest reports.
type fakeTB struct{ failures []string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.txt")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunTestMismatch(t *testing.T) {
	path := writeTemp(t, "echo\na\n----\na\n\necho x\nb\n----\nc\n\necho\nnever run\n----\nnever run\n")
	var ran int
	tb := &fakeTB{}
	RunTest(tb, path, func(d *TestData) string { ran++; return d.Input })
	want := []string{path + ":6: echo x\nexpected:\nc\ngot:\nb\n"}
	if !reflect.DeepEqual(tb.failures, want) {
		t.Errorf("failures = %q, want %q", tb.failures, want)
	}
	if ran != 2 {
		t.Errorf("ran %d commands, want 2 (the runner stops at the first mismatch)", ran)
	}
}

func TestRunTestMissingNewline(t *testing.T) {
	// An output without a final newline gets one.
	path := writeTemp(t, "cmd\n----\nout\n")
	tb := &fakeTB{}
	RunTest(tb, path, func(*TestData) string { return "out" })
	if len(tb.failures) != 0 {
		t.Errorf("failures = %q, want none", tb.failures)
	}
}

func TestRunTestMissingFile(t *testing.T) {
	tb := &fakeTB{}
	RunTest(tb, filepath.Join(t.TempDir(), "absent.txt"), func(*TestData) string { return "" })
	if len(tb.failures) != 1 || !strings.HasPrefix(tb.failures[0], "testdriven: open ") {
		t.Errorf("failures = %q, want one open error", tb.failures)
	}
}

func TestRewrite(t *testing.T) {
	in := "# keep me\necho x\nnew\n----\nold\n\n" +
		"# blank lines in the new output\nlines 2\n----\nstale\n\n" +
		"# no more blank lines\nlines 1\n----\n----\nold\n\nold\n----\n----\n\n" +
		"echo\n----\n\n" +
		"echo\nlast\n----\n"
	want := "# keep me\necho x\nnew\n----\nnew\n\n" +
		"# blank lines in the new output\nlines 2\n----\n----\nline 1\n\nline 2\n----\n----\n\n" +
		"# no more blank lines\nlines 1\n----\nline 1\n\n" +
		"echo\n----\n\n" +
		"echo\nlast\n----\nlast\n"
	path := writeTemp(t, in)
	t.Setenv("TESTDRIVEN_REWRITE", "1")
	tb := &fakeTB{}
	RunTest(tb, path, selfTest)
	if len(tb.failures) != 0 {
		t.Fatalf("failures = %q, want none", tb.failures)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", got, want)
	}
	// The rewritten file passes without rewriting.
	os.Unsetenv("TESTDRIVEN_REWRITE")
	RunTest(tb, path, selfTest)
	if len(tb.failures) != 0 {
		t.Errorf("failures after rewrite = %q, want none", tb.failures)
	}
}
