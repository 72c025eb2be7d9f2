package query

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// The fuzz targets of this file feed arbitrary text to the parsers of the
// query API's parameters: what a client sends in a URL.

// FuzzParsePosition parses minPosition values.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"", "t/0:1", "a/b/3:4,c/1:0", "//0:0", "../0:1", "t/1:2,t/1:3", "t/01:5", "/0:1", "t/-1:1", "t/0:-1",
		"t/0:9223372036854775808", "t:1", "t/0", ",", "t/2147483648:1", "wordcount-counts-changelog/5:4711,words/5:10233"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := ParsePosition(s)
		if err != nil {
			return
		}
		if len(pos) == 0 || len(pos) > maxPositionEntries {
			t.Fatalf("ParsePosition(%q) = %v", s, pos)
		}
		for tp, off := range pos {
			i := strings.LastIndexByte(tp, '/')
			if off < 0 || i < 0 || !legalTopic(tp[:i]) {
				t.Fatalf("ParsePosition(%q) has %q: %d", s, tp, off)
			}
		}
		again, err := ParsePosition(FormatPosition(pos))
		if err != nil || !maps.Equal(pos, again) {
			t.Fatalf("ParsePosition(%q) = %v, which round trips to %v, %v", s, pos, again, err)
		}
	})
}

// FuzzDecodeToken decodes range continuation tokens.
func FuzzDecodeToken(f *testing.F) {
	for _, tok := range []rangeToken{
		{V: 1, Store: "counts"},
		{V: 1, Store: "counts", P: 3, After: []byte("k"), From: []byte("a"), To: []byte{0xff}},
	} {
		f.Add(tok.encode())
	}
	for _, s := range []string{"", "e30", "!!", `eyJ2IjoxLCJzIjoiY291bnRzIiwicCI6LTF9`, "eyJ2IjoxLCJ4IjoxfQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeToken(s)
		if err != nil {
			return
		}
		if tok.V != 1 || tok.P < 0 {
			t.Fatalf("decodeToken(%q) = %+v", s, tok)
		}
		again, err := decodeToken(tok.encode())
		if err != nil || again.V != tok.V || again.Store != tok.Store || again.P != tok.P ||
			!bytes.Equal(again.After, tok.After) || !bytes.Equal(again.From, tok.From) || !bytes.Equal(again.To, tok.To) {
			t.Fatalf("decodeToken(%q) = %+v, which round trips to %+v, %v", s, tok, again, err)
		}
	})
}

// FuzzParseParams parses a request's query string as the reads do:
// parameters, minPosition, allowStandby, times and limits.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "from=a&to=b&limit=10", "minPosition=t/0:1&allowStandby=true", "limit=0", "limit=-1",
		"limit=99999999999999999999", "from=2024-05-01T10:00:00Z&to=1714558200000", "from=9999-12-31T23:59:59.999999999Z",
		"from=-292277022657-01-27T08:29:52Z", "a=1&a=2", "allowStandby=maybe", "%zz", "to=1e3", "limit=1&limit=2", "token=e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rp, e := parseParams(q, "from", "to", "limit", "token", "partition")
		if e == nil {
			for k, vs := range q {
				if len(vs) != 1 {
					t.Fatalf("%q: parameter %s given %d times was accepted", raw, k, len(vs))
				}
			}
			if rp.minPosition != nil && len(rp.minPosition) == 0 {
				t.Fatalf("%q: empty minPosition", raw)
			}
		} else if e.status != 400 || e.code != CodeBadRequest {
			t.Fatalf("%q: %d %s %s", raw, e.status, e.code, e.msg)
		}
		for _, name := range []string{"from", "to"} {
			if ms, e := parseTime(q, name, -7); e == nil && q.Get(name) == "" && ms != -7 {
				t.Fatalf("%q: absent %s parsed as %d", raw, name, ms)
			}
		}
		if n, e := parseLimit(q, 5, 50, "MaxPageSize"); e == nil && (n < 1 || n > 50) {
			t.Fatalf("%q: limit %d accepted", raw, n)
		} else if e != nil && e.status != 400 {
			t.Fatalf("%q: limit: %d %s", raw, e.status, e.msg)
		}
	})
}

type fuzzKey struct {
	User   int64  `json:"user"`
	Region string `json:"region"`
}

// FuzzParseKey parses keys as they come in URL paths, for stores with
// string, integer and JSON keys: a key that parses renders as JSON that
// parses back to the same bytes.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"", "fox", "42", "-9223372036854775808", "9223372036854775808", "1.5", "\"s\"",
		`{"user":7,"region":"eu"}`, `{"user":7,"region":"eu","x":1}`, `{"user":7} {}`, `null`, "\xff", "[1]", `{"region":"\u0000"}`} {
		f.Add(s)
	}
	h := &handler{opts: HandlerOptions{MaxKeyBytes: 1 << 10}.withDefaults()}
	stores := []StoreInfo{
		{Name: "s", Keys: state.KeyValueStoreBuilder("s", serde.String(), serde.Int64())},
		{Name: "i", Keys: state.KeyValueStoreBuilder("i", serde.Int64(), serde.Int64())},
		{Name: "i32", Keys: state.WindowStoreBuilder("i32", serde.Int32(), serde.Int64(), time.Hour, time.Minute, false)},
		{Name: "j", Keys: state.KeyValueStoreBuilder("j", serde.JSON[fuzzKey](), serde.Int64())},
		{Name: "p", Keys: state.SessionStoreBuilder("p", serde.JSON[*fuzzKey](), serde.Int64(), time.Hour)},
		{Name: "none"},
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, info := range stores {
			kb, e := h.parseKey(info, text, "key")
			if e != nil {
				if e.status != 400 {
					t.Fatalf("store %s, key %q: %d %s", info.Name, text, e.status, e.msg)
				}
				continue
			}
			if kb == nil {
				t.Fatalf("store %s, key %q: nil bytes", info.Name, text)
			}
			kj, err := info.Keys.KeyJSON(kb)
			if err != nil {
				t.Fatalf("store %s, key %q: rendering: %v", info.Name, text, err)
			}
			again := string(kj)
			if info.Name == "s" && !utf8.ValidString(text) {
				// JSON has no way to write bytes that are not UTF-8: the
				// answer shows U+FFFD in their place (see docs/queries.md).
				continue
			}
			if info.Name == "s" {
				if err := jsonString(kj, &again); err != nil {
					t.Fatal(err)
				}
			}
			kb2, e := h.parseKey(info, again, "key")
			if e != nil || !bytes.Equal(kb, kb2) {
				if e != nil && len(again) > h.opts.MaxKeyBytes {
					continue // the JSON of a key may be longer than its text
				}
				t.Fatalf("store %s, key %q parses to %x, renders as %s, which parses to %x, %v", info.Name, text, kb, kj, kb2, e)
			}
		}
	})
}

func jsonString(b []byte, s *string) error { return json.Unmarshal(b, s) }

// TestParsePositionTopics is the regression test of a fuzzing find:
// minPosition accepted topics no Kafka topic can be named ("//0:0"), which
// made the read wait for a position that never comes.
func TestParsePositionTopics(t *testing.T) {
	for _, bad := range []string{"//0:0", "/0:0", "../0:1", "./0:1", "a b/0:1", "t\x00/1:1", "é/0:1", strings.Repeat("t", 250) + "/0:1"} {
		if pos, err := ParsePosition(bad); err == nil || !strings.Contains(err.Error(), "not a Kafka topic name") && !strings.Contains(err.Error(), "is not topic/partition:offset") {
			t.Errorf("ParsePosition(%q) = %v, %v", bad, pos, err)
		}
	}
	for _, good := range []string{"a.b_c-D/3:4", strings.Repeat("t", 249) + "/0:1", "app-counts-changelog/0:1,input/0:7"} {
		if _, err := ParsePosition(good); err != nil {
			t.Errorf("ParsePosition(%q): %v", good, err)
		}
	}
}
