package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type pollStartHook struct{}

func (pollStartHook) OnPollStart(context.Context) {}

type connectHook struct{}

func (connectHook) OnBrokerConnect(kgo.BrokerMetadata, time.Duration, net.Conn, error) {}

// TestHooksPollStart checks that a thread polls with a nil context (without
// blocking) only when no hook of the user's would be handed that context.
func TestHooksPollStart(t *testing.T) {
	for _, c := range []struct {
		name  string
		hooks []kgo.Hook
		want  bool
	}{
		{"no hooks", nil, false},
		{"a connect hook", []kgo.Hook{connectHook{}}, false},
		{"a poll-start hook", []kgo.Hook{connectHook{}, pollStartHook{}}, true},
	} {
		opts := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
		if c.hooks != nil {
			opts = append(opts, kgo.WithHooks(c.hooks...))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := hooksPollStart(cl); got != c.want {
			t.Errorf("%s: hooksPollStart = %v, want %v", c.name, got, c.want)
		}
		cl.Close()
	}
}
