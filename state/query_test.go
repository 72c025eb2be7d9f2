package state

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

type queryPoint struct {
	X int `json:"x"`
	Y int `json:"y"`
}

func TestQueryParseKey(t *testing.T) {
	str := KeyValueStoreBuilder("s", serde.String(), serde.Int64())
	i64 := KeyValueStoreBuilder("i", serde.Int64(), serde.Int64())
	js := KeyValueStoreBuilder("j", serde.JSON[queryPoint](), serde.Int64())
	type userID string
	named := KeyValueStoreBuilder("n", serde.JSON[userID](), serde.Int64())

	for _, c := range []struct {
		name string
		p    KeyParser
		text string
		want string
	}{
		{"string as is", str, "a/b \"c\"", "a/b \"c\""},
		{"string that looks like JSON", str, "42", "42"},
		{"int64", i64, "258", "\x00\x00\x00\x00\x00\x00\x01\x02"},
		{"negative int64", i64, "-1", "\xff\xff\xff\xff\xff\xff\xff\xff"},
		{"struct", js, ` {"y": 2, "x": 1} `, `{"x":1,"y":2}`},
		{"named string kind", named, "u1", `"u1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.p.ParseKey(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("ParseKey(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}

	for _, c := range []struct {
		name string
		p    KeyParser
		text string
		want string
	}{
		{"not a number", i64, "abc", `key "abc" is not a JSON int64`},
		{"fraction", i64, "1.5", `key "1.5" is not a JSON int64`},
		{"trailing data", i64, "1 2", `key "1 2" has data after its JSON value`},
		{"unknown field", js, `{"z":1}`, `unknown field "z"`},
		{"null", KeyValueStoreBuilder("p", serde.JSON[*queryPoint](), serde.Int64()), "null", `key "null" is null`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.p.ParseKey(c.text)
			if err == nil || !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseKey(%q) = %v, want an ErrBadKey error containing %q", c.text, err, c.want)
			}
		})
	}
}

// queryTask writes through a store of one task and commits.
func queryTask[S Store](t *testing.T, db *DB, b Builder, write func(S)) {
	t.Helper()
	ts, err := db.Task(processor.TaskID{Partition: 0})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Build(Env{State: ts, Record: func() RecordContext { return RecordContext{Timestamp: 7} }})
	if err != nil {
		t.Fatal(err)
	}
	write(s.(S))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ts.Close()
}

func readOnly[Q any](t *testing.T, db *DB, b ReadOnlyBuilder, name string) Q {
	t.Helper()
	s, err := b.BuildReadOnly(db.Committed(processor.TaskID{Partition: 0}, name))
	if err != nil {
		t.Fatal(err)
	}
	return s.(Q)
}

func TestQueryKeyValue(t *testing.T) {
	db := openMemory(t)
	b := KeyValueStoreBuilder("kv", serde.String(), serde.JSON[queryPoint](), WithLogging(false))
	queryTask(t, db, b, func(s *KeyValueStore[string, queryPoint]) {
		for i, k := range []string{"a", "b", "c", "d", "e"} {
			if err := s.Put(k, queryPoint{i, -i}); err != nil {
				t.Fatal(err)
			}
		}
	})
	q := readOnly[KeyValueQuerier](t, db, b, "kv")
	v, ok, err := q.QueryGet([]byte("c"))
	if err != nil || !ok || string(v) != `{"x":2,"y":-2}` {
		t.Fatalf("QueryGet(c) = %s, %v, %v", v, ok, err)
	}
	if _, ok, err := q.QueryGet([]byte("zz")); ok || err != nil {
		t.Fatalf("QueryGet(zz) = %v, %v; want absent", ok, err)
	}

	keys := func(es []QueryEntry) string {
		var sb strings.Builder
		for _, e := range es {
			sb.WriteString(string(e.KeyJSON))
		}
		return sb.String()
	}
	for _, c := range []struct {
		name            string
		from, to, after string
		limit           int
		want            string
		more            bool
	}{
		{"all", "", "", "", 10, `"a""b""c""d""e"`, false},
		{"inclusive bounds", "b", "d", "", 10, `"b""c""d"`, false},
		{"limit", "", "", "", 2, `"a""b"`, true},
		{"limit equal to the rest", "", "", "c", 2, `"d""e"`, false},
		{"after", "", "", "b", 10, `"c""d""e"`, false},
		{"after before from", "c", "", "a", 10, `"c""d""e"`, false},
		{"after past to", "", "c", "c", 10, ``, false},
		{"open from", "", "b", "", 10, `"a""b"`, false},
		{"missing bounds", "bb", "dd", "", 10, `"c""d"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := func(s string) []byte {
				if s == "" {
					return nil
				}
				return []byte(s)
			}
			got, more, err := q.QueryRange(b(c.from), b(c.to), b(c.after), c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if keys(got) != c.want || more != c.more {
				t.Fatalf("QueryRange = %s (more %v), want %s (more %v)", keys(got), more, c.want, c.more)
			}
		})
	}
	got, _, _ := q.QueryRange([]byte("e"), nil, nil, 1)
	if len(got) != 1 || string(got[0].Key) != "e" || string(got[0].Value) != `{"x":4,"y":-4}` {
		t.Fatalf("entry e = %+v", got)
	}
}

func TestQueryTimestamped(t *testing.T) {
	db := openMemory(t)
	b := TimestampedKeyValueStoreBuilder("t", serde.Int64(), serde.String(), WithLogging(false))
	queryTask(t, db, b, func(s *KeyValueStore[int64, ValueAndTimestamp[string]]) {
		if err := s.Put(5, ValueAndTimestamp[string]{Value: "five", Timestamp: 1234}); err != nil {
			t.Fatal(err)
		}
	})
	q := readOnly[KeyValueQuerier](t, db, b, "t")
	kb, err := q.ParseKey("5")
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := q.QueryGet(kb)
	if err != nil || !ok || string(v) != `{"value":"five","timestamp":1234}` {
		t.Fatalf("QueryGet = %s, %v, %v", v, ok, err)
	}
	kj, err := q.KeyJSON(kb)
	if err != nil || string(kj) != "5" {
		t.Fatalf("KeyJSON = %s, %v", kj, err)
	}
}

func TestQueryWindowsAndSessions(t *testing.T) {
	db := openMemory(t)
	wb := WindowStoreBuilder("w", serde.String(), serde.Int64(), time.Hour, time.Minute, false, WithLogging(false))
	queryTask(t, db, wb, func(s *WindowStore[string, int64]) {
		for i := range int64(5) {
			if err := s.Put("k", 10+i, i*60_000); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put("other", 99, 0); err != nil {
			t.Fatal(err)
		}
	})
	wq := readOnly[WindowQuerier](t, db, wb, "w")
	ws, more, err := wq.QueryWindows([]byte("k"), 60_000, 180_000, 10)
	if err != nil || more || len(ws) != 3 {
		t.Fatalf("QueryWindows = %+v, %v, %v", ws, more, err)
	}
	if ws[0].Start != 60_000 || ws[0].End != 120_000 || string(ws[0].Value) != "11" || string(ws[2].Value) != "13" {
		t.Fatalf("QueryWindows = %+v", ws)
	}
	ws, more, err = wq.QueryWindows([]byte("k"), 0, math.MaxInt64, 2)
	if err != nil || !more || len(ws) != 2 {
		t.Fatalf("QueryWindows with limit 2 = %+v, %v, %v", ws, more, err)
	}

	db2 := openMemory(t)
	sb := SessionStoreBuilder("s", serde.String(), serde.Int64(), time.Hour, WithLogging(false))
	queryTask(t, db2, sb, func(s *SessionStore[string, int64]) {
		for _, x := range [][3]int64{{0, 10, 1}, {100, 150, 2}, {300, 300, 3}} {
			if err := s.Put("k", x[0], x[1], x[2]); err != nil {
				t.Fatal(err)
			}
		}
	})
	sq := readOnly[SessionQuerier](t, db2, sb, "s")
	ss, more, err := sq.QuerySessions([]byte("k"), 0, math.MaxInt64, 10)
	if err != nil || more || len(ss) != 3 || ss[1].Start != 100 || ss[1].End != 150 || string(ss[1].Value) != "2" {
		t.Fatalf("QuerySessions = %+v, %v, %v", ss, more, err)
	}
	ss, _, err = sq.QuerySessions([]byte("k"), 11, 200, 10)
	if err != nil || len(ss) != 1 || ss[0].Start != 100 {
		t.Fatalf("QuerySessions(11, 200) = %+v, %v", ss, err)
	}
	if ss, _, _ := sq.QuerySessions([]byte("none"), 0, math.MaxInt64, 10); len(ss) != 0 {
		t.Fatalf("sessions of an absent key: %+v", ss)
	}
}
