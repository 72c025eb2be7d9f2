package streams

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams/internal/testcerts"
)

// TestCertReload checks that a certificate whose files change is read
// again, and that files that fail to load keep the previous one.
func TestCertReload(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	first, second := ca.Issue(t, "one"), ca.Issue(t, "two")
	dir := t.TempDir()
	certFile, keyFile := dir+"/cert.pem", dir+"/key.pem"
	write := func(cert, key []byte, at time.Time) {
		t.Helper()
		for _, f := range []struct {
			name string
			b    []byte
		}{{certFile, cert}, {keyFile, key}} {
			if err := os.WriteFile(f.name, f.b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(f.name, at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now()
	write(first.CertPEM, first.KeyPEM, now.Add(-time.Hour))
	r, err := newCertReloader("Config.QueryTLS", certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	is := func(want *testcerts.Leaf) {
		t.Helper()
		if got := r.get(); !bytes.Equal(got.Certificate[0], want.TLS.Certificate[0]) {
			t.Fatalf("serving %s, want %s", got.Leaf.Subject, want.TLS.Leaf.Subject)
		}
	}
	is(first)
	write(second.CertPEM, second.KeyPEM, now.Add(-time.Minute))
	is(first) // not checked again yet
	r.reloadCheckEvery = 0
	is(second)
	write([]byte("garbage"), second.KeyPEM, now)
	is(second)
	write(first.CertPEM, first.KeyPEM, now.Add(time.Minute))
	is(first)
}

// TestSASLGuard checks the count of authentications the broker cut off.
func TestSASLGuard(t *testing.T) {
	g, err := newSASLGuard(&KafkaSASL{Mechanism: "scram-sha-256", User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Name() != SASLScramSHA256 {
		t.Fatal(g.Name())
	}
	var meta kgo.BrokerMetadata
	cut := func() { g.OnBrokerRead(meta, int16(kmsg.SASLAuthenticate), 0, 0, 0, io.EOF) }
	g.OnBrokerRead(meta, int16(kmsg.Metadata), 0, 0, 0, io.EOF) // not an authentication
	cut()
	if _, _, err := g.Authenticate(context.Background(), "b:9092"); err != nil {
		t.Fatalf("one failure: %v", err)
	}
	cut()
	_, _, err = g.Authenticate(context.Background(), "b:9092")
	var se *SASLError
	if !errors.As(err, &se) || !se.Fatal() || se.Mechanism != SASLScramSHA256 || se.User != "u" {
		t.Fatalf("two failures: %v", err)
	}
	// A success resets the count.
	p, _ := newSASLGuard(&KafkaSASL{Mechanism: "PLAIN", User: "u", Password: "p"})
	p.failures = 1
	s, _, err := p.Authenticate(context.Background(), "b:9092")
	if err != nil {
		t.Fatal(err)
	}
	if done, _, err := s.Challenge(nil); !done || err != nil || p.failures != 0 {
		t.Fatalf("PLAIN challenge: %v %v, failures %d", done, err, p.failures)
	}
}
