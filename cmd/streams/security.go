package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/seed992c72d9/streams"
)

// kafkaFlags are the flags that secure the connection to the brokers.
type kafkaFlags struct {
	tls                        bool
	ca, cert, key, serverName  string
	mechanism, user, passwdEnv string
	given                      func() bool
}

func addKafkaFlags(fs *flag.FlagSet) *kafkaFlags {
	k := &kafkaFlags{}
	fs.BoolVar(&k.tls, "kafka-tls", false, "connect to the brokers with TLS (implied by --kafka-ca and --kafka-cert)")
	fs.StringVar(&k.ca, "kafka-ca", "", "PEM file of the authorities of the brokers' certificates (default: the system's)")
	fs.StringVar(&k.cert, "kafka-cert", "", "PEM client certificate, for brokers that require one (with --kafka-key)")
	fs.StringVar(&k.key, "kafka-key", "", "PEM key of --kafka-cert")
	fs.StringVar(&k.serverName, "kafka-server-name", "", "name to check in the brokers' certificates (default: their host)")
	fs.StringVar(&k.mechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&k.user, "sasl-user", "", "SASL user")
	fs.StringVar(&k.passwdEnv, "sasl-password-env", "STREAMS_SASL_PASSWORD", "environment variable holding the SASL password")
	k.given = func() bool {
		set := false
		fs.Visit(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "kafka-") || strings.HasPrefix(f.Name, "sasl-") {
				set = true
			}
		})
		return set
	}
	return k
}

// apply sets cfg's KafkaTLS and KafkaSASL from the flags.
func (k *kafkaFlags) apply(cfg *streams.Config) error {
	if k.tls || k.ca != "" || k.cert != "" || k.key != "" || k.serverName != "" {
		cfg.KafkaTLS = &streams.KafkaTLS{CAFile: k.ca, CertFile: k.cert, KeyFile: k.key, ServerName: k.serverName}
	}
	switch {
	case k.mechanism != "":
		cfg.KafkaSASL = &streams.KafkaSASL{Mechanism: k.mechanism, User: k.user, PasswordEnv: k.passwdEnv}
	case k.user != "":
		return errors.New("--sasl-user needs --sasl-mechanism")
	}
	return nil
}

// queryClientFlags are the flags that secure requests to a query server.
type queryClientFlags struct {
	ca, cert, key, tokenEnv string
	tls                     bool
}

func addQueryClientFlags(fs *flag.FlagSet) *queryClientFlags {
	q := &queryClientFlags{}
	fs.BoolVar(&q.tls, "tls", false, "use HTTPS (implied by --ca, --cert and an https:// --server)")
	fs.StringVar(&q.ca, "ca", "", "PEM file of the authorities of the server's certificate (default: the system's)")
	fs.StringVar(&q.cert, "cert", "", "PEM client certificate (with --key), for servers that accept client certificates")
	fs.StringVar(&q.key, "key", "", "PEM key of --cert")
	fs.StringVar(&q.tokenEnv, "token-env", "STREAMS_QUERY_TOKEN", "environment variable holding the bearer token, if set")
	return q
}

// client returns the base URL of server and an HTTP client that never
// follows redirects and sends the token.
func (q *queryClientFlags) client(server string) (string, *http.Client, error) {
	scheme := "http"
	switch {
	case strings.HasPrefix(server, "https://"):
		scheme, server = "https", strings.TrimPrefix(server, "https://")
	case strings.HasPrefix(server, "http://"):
		server = strings.TrimPrefix(server, "http://")
		if q.tls || q.ca != "" || q.cert != "" {
			return "", nil, errors.New("--server http://... contradicts --tls, --ca and --cert")
		}
	}
	server = strings.TrimSuffix(server, "/")
	t := &http.Transport{ResponseHeaderTimeout: 30 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	if q.tls || q.ca != "" || q.cert != "" || scheme == "https" {
		scheme = "https"
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if q.ca != "" {
			b, err := os.ReadFile(q.ca)
			if err != nil {
				return "", nil, fmt.Errorf("--ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(b) {
				return "", nil, fmt.Errorf("--ca: %s holds no PEM certificate", q.ca)
			}
		}
		if (q.cert == "") != (q.key == "") {
			return "", nil, errors.New("--cert and --key go together")
		}
		if q.cert != "" {
			c, err := tls.LoadX509KeyPair(q.cert, q.key)
			if err != nil {
				return "", nil, fmt.Errorf("--cert and --key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		t.TLSClientConfig = cfg
	}
	var rt http.RoundTripper = t
	if q.tokenEnv != "" {
		if tok := strings.TrimSpace(os.Getenv(q.tokenEnv)); tok != "" {
			rt = bearerTransport{t, tok}
		}
	}
	return scheme + "://" + server, &http.Client{Timeout: 30 * time.Second, Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// bearerTransport adds a bearer token to every request.
type bearerTransport struct {
	rt    http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}
