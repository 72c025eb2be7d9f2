package streams_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/internal/testcerts"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// secureCountTopology counts records per key of in and writes every new
// count to out.
func secureCountTopology(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	s := kstream.From(b, in, serde.String(), serde.String())
	kstream.FromTable(kstream.Count(kstream.GroupByKey(s), "counts")).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// secureInput is the input of the security tests and the exact output it
// makes: every count of every key, in order.
var (
	secureKeys = []string{"a", "b", "a", "c", "a", "b"}
	secureWant = map[string][]int64{"a": {1, 2, 3}, "b": {1, 2}, "c": {1}}
)

// runEndToEnd produces the input with clientOpts, runs an application
// configured by cfg (Brokers, KafkaTLS, KafkaSASL) until the output is
// complete, and checks it exactly.
func runEndToEnd(t *testing.T, clientOpts []kgo.Opt, cfg streams.Config, in, out string) {
	t.Helper()
	var recs []*kgo.Record
	for i, k := range secureKeys {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte(fmt.Sprint(i))})
	}
	kafkatest.ProduceWith(t, clientOpts, recs...)
	cfg.StateDir, cfg.CacheMaxBytes, cfg.Logger = t.TempDir(), -1, testLogger(t)
	app, err := streams.New(secureCountTopology(t, in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	got := kafkatest.ReadUntilWith(t, clientOpts, out, 30*time.Second, func(rs []*kgo.Record) bool {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		return len(rs) >= len(secureKeys)
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	seen := map[string][]int64{}
	for _, r := range got {
		seen[string(r.Key)] = append(seen[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
	}
	if len(got) != len(secureKeys) || len(seen) != len(secureWant) {
		t.Fatalf("output %v, want %v", seen, secureWant)
	}
	for k, want := range secureWant {
		if !slices.Equal(seen[k], want) {
			t.Fatalf("counts of %s: %v, want %v (all: %v)", k, seen[k], want, seen)
		}
	}
}

// runFails runs an application that must fail within a few seconds, and
// returns its error.
func runFails(t *testing.T, cfg streams.Config, in, out string) error {
	t.Helper()
	cfg.StateDir, cfg.Logger = t.TempDir(), testLogger(t)
	app, err := streams.New(secureCountTopology(t, in, out), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = app.Run(ctx)
	took := time.Since(start)
	t.Logf("Run returned after %v: %v", took.Round(time.Millisecond), err)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > 10*time.Second {
		t.Fatalf("Run returned %v after %v; want an error within 10 s", err, took)
	}
	if app.State() != streams.Error {
		t.Fatalf("state %s, want ERROR", app.State())
	}
	return err
}

func expectErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
}

// tlsCluster starts a kfake cluster that requires TLS with client
// certificates signed by ca, plus optional options.
func tlsCluster(t *testing.T, ca *testcerts.CA, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	srv := ca.Issue(t, "127.0.0.1", "localhost")
	opts = append(opts, kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}, ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestKafkaTLS runs a topology against a broker that requires mutual TLS,
// and checks that a wrong authority, a missing client certificate and a
// plaintext client fail fast.
func TestKafkaTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "broker-ca")
	c := tlsCluster(t, ca, kfake.SeedTopics(2, "tls-in", "tls-out"))
	client := ca.Issue(t, "app")
	testOpts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}})}

	t.Run("mutual TLS end to end", func(t *testing.T) {
		runEndToEnd(t, testOpts, streams.Config{ApplicationID: "tls-app", Brokers: c.ListenAddrs(),
			KafkaTLS: &streams.KafkaTLS{CAFile: ca.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile}}, "tls-in", "tls-out")
	})
	t.Run("broker certificate from another authority", func(t *testing.T) {
		other := testcerts.NewCA(t, "other-ca")
		err := runFails(t, streams.Config{ApplicationID: "tls-bad-ca", Brokers: c.ListenAddrs(),
			KafkaTLS: &streams.KafkaTLS{CAFile: other.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile}}, "tls-in", "tls-out")
		expectErr(t, err, "TLS to the brokers failed", "certificate")
	})
	t.Run("no client certificate", func(t *testing.T) {
		err := runFails(t, streams.Config{ApplicationID: "tls-no-cert", Brokers: c.ListenAddrs(),
			KafkaTLS: &streams.KafkaTLS{CAFile: ca.File(t)}}, "tls-in", "tls-out")
		expectErr(t, err, "TLS to the brokers failed", "certificate")
	})
	t.Run("client certificate from another authority", func(t *testing.T) {
		other := testcerts.NewCA(t, "other-ca").Issue(t, "intruder")
		err := runFails(t, streams.Config{ApplicationID: "tls-bad-cert", Brokers: c.ListenAddrs(),
			KafkaTLS: &streams.KafkaTLS{CAFile: ca.File(t), CertFile: other.CertFile, KeyFile: other.KeyFile}}, "tls-in", "tls-out")
		expectErr(t, err, "TLS to the brokers failed")
	})
	t.Run("plaintext client", func(t *testing.T) {
		err := runFails(t, streams.Config{ApplicationID: "tls-plain", Brokers: c.ListenAddrs()}, "tls-in", "tls-out")
		expectErr(t, err, "Config.KafkaTLS")
	})
}

// saslUsers are the users of the SASL cluster, by mechanism.
var saslUsers = map[string][2]string{
	streams.SASLPlain:       {"plain-user", "plain-secret"},
	streams.SASLScramSHA256: {"scram256-user", "scram256-secret"},
	streams.SASLScramSHA512: {"scram512-user", "scram512-secret"},
}

func saslOpt(mech, user, pass string) kgo.Opt {
	switch mech {
	case streams.SASLPlain:
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	case streams.SASLScramSHA256:
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
	}
	return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
}

func saslCluster(t *testing.T, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append(opts, kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.EnableSASL(), kfake.SeedTopics(2, topics...))
	for mech, up := range saslUsers {
		opts = append(opts, kfake.Superuser(mech, up[0], up[1]))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestKafkaSASL runs a topology against a broker that requires SASL, with
// each mechanism, and checks that wrong credentials fail within seconds
// with an error naming the mechanism.
func TestKafkaSASL(t *testing.T) {
	mechs := []string{streams.SASLPlain, streams.SASLScramSHA256, streams.SASLScramSHA512}
	var topics []string
	for _, m := range mechs {
		topics = append(topics, "in-"+m, "out-"+m)
	}
	c := saslCluster(t, topics)
	brokers := c.ListenAddrs()
	for _, mech := range mechs {
		user, pass := saslUsers[mech][0], saslUsers[mech][1]
		t.Run(mech+" end to end", func(t *testing.T) {
			runEndToEnd(t, []kgo.Opt{kgo.SeedBrokers(brokers...), saslOpt(mech, user, pass)},
				streams.Config{ApplicationID: "sasl-" + mech, Brokers: brokers,
					KafkaSASL: &streams.KafkaSASL{Mechanism: mech, User: user, Password: pass}}, "in-"+mech, "out-"+mech)
		})
		t.Run(mech+" wrong password", func(t *testing.T) {
			err := runFails(t, streams.Config{ApplicationID: "sasl-bad-" + mech, Brokers: brokers,
				KafkaSASL: &streams.KafkaSASL{Mechanism: mech, User: user, Password: pass + "x"}}, "in-"+mech, "out-"+mech)
			expectErr(t, err, "SASL "+mech+" authentication as \""+user+"\" failed")
			var se *streams.SASLError
			if !errors.As(err, &se) || se.Mechanism != mech {
				t.Fatalf("error %v is not a *SASLError of %s", err, mech)
			}
		})
		t.Run(mech+" unknown user", func(t *testing.T) {
			err := runFails(t, streams.Config{ApplicationID: "sasl-nouser-" + mech, Brokers: brokers,
				KafkaSASL: &streams.KafkaSASL{Mechanism: mech, User: "nobody", Password: pass}}, "in-"+mech, "out-"+mech)
			expectErr(t, err, "SASL "+mech+" authentication as \"nobody\" failed")
		})
	}
	t.Run("password from the environment", func(t *testing.T) {
		t.Setenv("STREAMS_TEST_SASL_PASSWORD", "wrong")
		err := runFails(t, streams.Config{ApplicationID: "sasl-env", Brokers: brokers,
			KafkaSASL: &streams.KafkaSASL{Mechanism: streams.SASLScramSHA256, User: saslUsers[streams.SASLScramSHA256][0],
				PasswordEnv: "STREAMS_TEST_SASL_PASSWORD"}}, "in-PLAIN", "out-PLAIN")
		expectErr(t, err, "SASL SCRAM-SHA-256 authentication")
	})
	t.Run("no SASL", func(t *testing.T) {
		err := runFails(t, streams.Config{ApplicationID: "sasl-none", Brokers: brokers}, "in-PLAIN", "out-PLAIN")
		expectErr(t, err, "SASL", "Config.KafkaSASL")
	})
}

// TestKafkaSASLOverTLS combines SCRAM with mutual TLS.
func TestKafkaSASLOverTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "broker-ca")
	client := ca.Issue(t, "app")
	c := tlsCluster(t, ca, kfake.EnableSASL(), kfake.Superuser(streams.SASLScramSHA512, "app", "app-secret"),
		kfake.SeedTopics(2, "in", "out"))
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), saslOpt(streams.SASLScramSHA512, "app", "app-secret"),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}})}
	runEndToEnd(t, opts, streams.Config{ApplicationID: "sasl-tls", Brokers: c.ListenAddrs(),
		KafkaTLS:  &streams.KafkaTLS{CAFile: ca.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile},
		KafkaSASL: &streams.KafkaSASL{Mechanism: streams.SASLScramSHA512, User: "app", Password: "app-secret"}}, "in", "out")
}

// TestSecurityConfig checks that New refuses bad security settings and
// names the field.
func TestSecurityConfig(t *testing.T) {
	topo, err := countTopology()
	if err != nil {
		t.Fatal(err)
	}
	ca := testcerts.NewCA(t, "ca")
	leaf := ca.Issue(t, "127.0.0.1")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STREAMS_TEST_EMPTY", "")
	t.Setenv("STREAMS_TEST_TOKENS", "0123456789abcdef0123, fedcba9876543210fedc")
	base := func() streams.Config { return streams.Config{ApplicationID: "sec", Brokers: []string{"x:1"}} }
	for _, tc := range []struct {
		name string
		mod  func(*streams.Config)
		want string // "" if valid
	}{
		{"sasl mechanism", func(c *streams.Config) {
			c.KafkaSASL = &streams.KafkaSASL{Mechanism: "GSSAPI", User: "u", Password: "p"}
		}, `Config.KafkaSASL.Mechanism "GSSAPI" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"sasl user", func(c *streams.Config) { c.KafkaSASL = &streams.KafkaSASL{Mechanism: "PLAIN", Password: "p"} }, "Config.KafkaSASL.User is required"},
		{"sasl password", func(c *streams.Config) { c.KafkaSASL = &streams.KafkaSASL{Mechanism: "PLAIN", User: "u"} }, "Config.KafkaSASL.Password"},
		{"sasl password env", func(c *streams.Config) {
			c.KafkaSASL = &streams.KafkaSASL{Mechanism: "PLAIN", User: "u", PasswordEnv: "STREAMS_TEST_EMPTY"}
		}, "Config.KafkaSASL.PasswordEnv: environment variable STREAMS_TEST_EMPTY is empty"},
		{"sasl lower case", func(c *streams.Config) {
			c.KafkaSASL = &streams.KafkaSASL{Mechanism: "scram-sha-512", User: "u", Password: "p"}
		}, ""},
		{"tls ca missing", func(c *streams.Config) { c.KafkaTLS = &streams.KafkaTLS{CAFile: missing} }, "Config.KafkaTLS.CAFile: open " + missing},
		{"tls ca not pem", func(c *streams.Config) { c.KafkaTLS = &streams.KafkaTLS{CAFile: notPEM} }, "Config.KafkaTLS.CAFile: " + notPEM + " holds no PEM certificate"},
		{"tls cert without key", func(c *streams.Config) { c.KafkaTLS = &streams.KafkaTLS{CertFile: leaf.CertFile} }, "Config.KafkaTLS.CertFile and KeyFile go together"},
		{"tls key mismatch", func(c *streams.Config) {
			c.KafkaTLS = &streams.KafkaTLS{CertFile: leaf.CertFile, KeyFile: ca.Issue(t, "x").KeyFile}
		}, "Config.KafkaTLS.CertFile and KeyFile: tls: private key does not match public key"},
		{"tls ok", func(c *streams.Config) {
			c.KafkaTLS = &streams.KafkaTLS{CAFile: ca.File(t), CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}
		}, ""},
		{"query tls cert", func(c *streams.Config) { c.QueryTLS = &streams.QueryTLS{CAFile: ca.File(t)} }, "Config.QueryTLS.CertFile and KeyFile are required"},
		{"query tls client ca", func(c *streams.Config) {
			c.QueryTLS = &streams.QueryTLS{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile, ClientCAFile: missing}
		}, "Config.QueryTLS.ClientCAFile: open"},
		{"query auth empty", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{} }, "Config.QueryAuth needs Tokens, TokensEnv or ClientCerts"},
		{"query auth short token", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{Tokens: []string{"secret"}} }, "Config.QueryAuth: token 1 is 6 characters long; use at least 16"},
		{"query auth blank token", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{Tokens: []string{" "}} }, "Config.QueryAuth.Tokens[0] is empty"},
		{"query auth env", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{TokensEnv: "STREAMS_TEST_EMPTY"} }, "Config.QueryAuth.TokensEnv: environment variable STREAMS_TEST_EMPTY holds no token"},
		{"query auth env ok", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{TokensEnv: "STREAMS_TEST_TOKENS"} }, ""},
		{"query auth forward token", func(c *streams.Config) {
			c.QueryAuth = &streams.QueryAuth{TokensEnv: "STREAMS_TEST_TOKENS", ForwardToken: "not-one-of-them-at-all"}
		}, "Config.QueryAuth.ForwardToken is not one of the accepted tokens"},
		{"query auth client certs", func(c *streams.Config) { c.QueryAuth = &streams.QueryAuth{ClientCerts: true} }, "Config.QueryAuth.ClientCerts needs Config.QueryTLS.ClientCAFile"},
		{"query limits", func(c *streams.Config) { c.QueryLimits.MaxPageSize = -1 }, "Config.QueryLimits.MaxPageSize is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mod(&cfg)
			_, err := streams.New(topo, cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: %v; want an error with %q", err, tc.want)
			}
		})
	}
}
