package state

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

// Readers of the committed state (interactive queries) run concurrently
// with the task that writes and commits; run with -race.
func TestConcurrentCommittedReads(t *testing.T) {
	for name, open := range map[string]openFunc{"memory": openMemory, "pebble": openPebble} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			h := newHarness(t, db)
			kb := KeyValueStoreBuilder("kv", serde.String(), serde.String())
			wb := WindowStoreBuilder("w", serde.String(), serde.String(), 10*time.Minute, time.Minute, false)
			sb := SessionStoreBuilder("s", serde.String(), serde.String(), 10*time.Minute)
			kv := build[*KeyValueStore[string, string]](t, kb, h.env())
			w := build[*WindowStore[string, string]](t, wb, h.env())
			s := build[*SessionStore[string, string]](t, sb, h.env())
			// One read-only store of each kind, shared by every reader.
			rkv := kb.ReadOnly(db.Committed(h.id, "kv"))
			rw, err := wb.ReadOnly(db.Committed(h.id, "w"))
			must(t, err)
			rs, err := sb.ReadOnly(db.Committed(h.id, "s"))
			must(t, err)

			const batches, perBatch = 50, 20
			done := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for r := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-done:
							return
						default:
						}
						k := fmt.Sprint((i + r) % perBatch)
						if _, _, err := rkv.Get(k); err != nil {
							errs <- err
							return
						}
						// Every committed batch writes every key with one
						// value: a reader sees one batch, never a mix.
						var seen string
						for e, err := range rkv.All() {
							if err != nil {
								errs <- err
								return
							}
							if seen != "" && e.Value != seen {
								errs <- fmt.Errorf("a scan saw values %s and %s", seen, e.Value)
								return
							}
							seen = e.Value
						}
						for _, err := range rw.FetchRange(k, 0, 1<<40) {
							if err != nil {
								errs <- err
								return
							}
						}
						for _, err := range rs.Fetch(k) {
							if err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			for b := range batches {
				for i := range perBatch {
					k := fmt.Sprint(i)
					must(t, kv.Put(k, fmt.Sprint(b)))
					must(t, w.Put(k, fmt.Sprint(b), int64(b)*minute))
					must(t, s.Put(k, int64(b)*minute, int64(b)*minute+10, fmt.Sprint(b)))
				}
				h.commit()
			}
			close(done)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}
