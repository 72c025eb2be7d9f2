package streams_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// TestShutDownApplication runs two instances with the ShutDownApplication
// policy. A record whose processing fails (the counting topology rejects the
// value "poison") stops the instance that meets it, which tells the other
// through the group: both exit with an error naming the failure.
func TestShutDownApplication(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	ps := []*kafkatest.Process{
		startInstance(t, "shutdown", brokers, t.TempDir(), "eos", "STREAMS_TEST_FAILURE=app"),
		startInstance(t, "shutdown", brokers, t.TempDir(), "eos", "STREAMS_TEST_FAILURE=app"),
	}
	waitStable(t, ps, time.Second, 60*time.Second)
	kafkatest.Produce(t, c.ListenAddrs(), &kgo.Record{Topic: "input", Key: []byte("k"), Value: []byte("poison")})
	for i, p := range ps {
		if _, err := p.WaitFor("instance error:", 0, 60*time.Second); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	for i, p := range ps {
		found := false
		for _, l := range p.Lines() {
			if strings.Contains(l, "instance error:") && strings.Contains(l, "the application was shut down by one of its instances") &&
				strings.Contains(l, "poison") {
				found = true
			}
		}
		if !found {
			t.Errorf("instance %d did not exit with the application shutdown naming the poison record:\n%s", i, strings.Join(p.Lines(), "\n"))
		}
	}
}
