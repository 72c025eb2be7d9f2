package streams_test

import (
	"strings"
	"testing"

	"github.com/seed992c72d9/streams"
)

// TestConfigErrors checks that New refuses an invalid Config with an error
// naming the field, and reports every invalid field at once.
func TestConfigErrors(t *testing.T) {
	topo := wordCountTopology(t)
	base := func() streams.Config {
		return streams.Config{ApplicationID: "cfg", Brokers: []string{"127.0.0.1:1"}, StateDir: t.TempDir()}
	}
	for _, tc := range []struct {
		name string
		mod  func(*streams.Config)
		want []string
	}{
		{"ok", func(*streams.Config) {}, nil},
		{"pebble memory", func(c *streams.Config) { c.PebbleBlockCacheBytes, c.PebbleMemTableBytes = 8<<20, 4<<20 }, nil},
		{"never idle", func(c *streams.Config) { c.MaxTaskIdle = -1 }, nil},
		{"no id", func(c *streams.Config) { c.ApplicationID = "" }, []string{"streams: Config.ApplicationID is required"}},
		{"bad id", func(c *streams.Config) { c.ApplicationID = "a b" }, []string{`Config.ApplicationID "a b" may contain only letters`}},
		{"no brokers", func(c *streams.Config) { c.Brokers = nil }, []string{"streams: Config.Brokers is required"}},
		{"block cache", func(c *streams.Config) { c.PebbleBlockCacheBytes = -1 }, []string{"streams: Config.PebbleBlockCacheBytes -1 is negative"}},
		{"several", func(c *streams.Config) { c.Threads, c.NumStandbyReplicas = -1, -2 }, []string{
			"streams: Config.Threads -1 is negative", "streams: Config.NumStandbyReplicas -2 is negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mod(&cfg)
			_, err := streams.New(topo, cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded; want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v; want it to contain %q", err, w)
				}
			}
		})
	}
}
