package streams

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/seed992c72d9/streams/query"
)

// SASL mechanisms of KafkaSASL.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// KafkaTLS configures TLS for every connection to the brokers.
type KafkaTLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the
	// brokers' certificates (default: the system's roots).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that require client certificates (mutual TLS). Both or
	// neither. They are read again when they change (certificate
	// rotation).
	CertFile, KeyFile string
	// ServerName is the name checked in the brokers' certificates
	// (default: the host of the address dialed).
	ServerName string
	// Config, if set, is the base configuration (it is cloned; the fields
	// above are added to the clone). Use it for settings the fields do not
	// cover; leave it nil otherwise.
	Config *tls.Config
}

// KafkaSASL configures SASL authentication to the brokers. Use it over
// TLS: PLAIN sends the password as it is.
type KafkaSASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512.
	Mechanism string
	// User is the user name. Required.
	User string
	// Password is the password; or leave it empty and name an environment
	// variable that holds it in PasswordEnv.
	Password string
	// PasswordEnv names the environment variable holding the password,
	// read by New.
	PasswordEnv string
}

// QueryTLS serves the query API over HTTPS and makes the instances forward
// requests to each other over HTTPS. Every instance of an application must
// use TLS, or none.
type QueryTLS struct {
	// CertFile and KeyFile are the server's PEM certificate and key.
	// Required. Its names must include the host of
	// Config.AdvertisedEndpoint: the other instances check it. With
	// ClientCAFile, the instance presents it as its client certificate when
	// it forwards requests, so it must allow client authentication too
	// (extended key usage clientAuth). They are read again when they
	// change (certificate rotation).
	CertFile, KeyFile string
	// CAFile is a PEM file of the authorities that sign the other
	// instances' certificates, which forwarded requests verify (default:
	// the system's roots).
	CAFile string
	// ClientCAFile is a PEM file of the authorities that sign client
	// certificates. When set, a client may present a certificate; one that
	// does not verify fails the TLS handshake, and one that does
	// authenticates its requests when QueryAuth.ClientCerts is set.
	ClientCAFile string
	// ServerName, if set, is the name checked in the other instances'
	// certificates instead of the host of their endpoint (one certificate
	// shared by every instance, say).
	ServerName string
}

// QueryAuth requires authentication on the query API: every /v1 path (and
// every unknown path), and, when asked, /healthz, /readyz and /metrics.
// Unauthenticated requests get a 401.
type QueryAuth struct {
	// Tokens are the accepted bearer tokens (Authorization: Bearer
	// <token>). Several may be given, to rotate them.
	Tokens []string
	// TokensEnv names an environment variable holding more tokens,
	// separated by commas, read by New. It must be set and not empty.
	TokensEnv string
	// ClientCerts lets in requests whose connection presented a client
	// certificate signed by QueryTLS.ClientCAFile (mutual TLS).
	ClientCerts bool
	// ForwardToken is the token this instance sends when it forwards a
	// request to another instance (default: the first token). The
	// credentials of the request being forwarded are never passed on.
	ForwardToken string
	// ProtectHealth puts /healthz and /readyz behind authentication
	// (default: open, for probes; they tell only the instance's state).
	ProtectHealth bool
	// ProtectMetrics puts /metrics behind authentication (default: open).
	ProtectMetrics bool
}

// QueryLimits bounds the work of the query server. Zero values take the
// defaults.
type QueryLimits struct {
	// MaxConcurrent bounds the requests served at once (default 256);
	// past it a request waits up to 100 ms, then gets a 503 (overloaded).
	MaxConcurrent int
	// MaxForwardsPerPeer bounds the requests forwarded to one other
	// instance at once (default MaxConcurrent/4), so that a slow or stalled
	// instance cannot take every slot.
	MaxForwardsPerPeer int
	// ForwardTimeout bounds a forwarded request (default 10 s).
	ForwardTimeout time.Duration
	// MaxKeyBytes bounds a key's text (default 16 KiB).
	MaxKeyBytes int
	// MaxPageSize bounds the limit of a range page (default 1000).
	MaxPageSize int
	// MaxRequestBytes bounds a request's line and headers (default
	// 64 KiB); larger ones are a 400.
	MaxRequestBytes int
	// ReadHeaderTimeout (default 10 s), ReadTimeout (30 s), WriteTimeout
	// (60 s) and IdleTimeout (2 min) are the server's http.Server
	// timeouts.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// security is the resolved security configuration of an instance.
type security struct {
	kafkaOpts  []kgo.Opt
	guard      *saslGuard
	kafkaTLS   bool
	serverTLS  *tls.Config
	forwardTLS *tls.Config
	auth       *query.Auth
	forwardTok string
}

// buildSecurity checks the security settings of c, reads the files and
// environment variables they name, and prepares the clients' and
// servers' configurations. Errors name the field.
func buildSecurity(c Config) (*security, error) {
	s := &security{}
	var errs []error
	if k := c.KafkaTLS; k != nil {
		cfg, err := clientTLS("Config.KafkaTLS", k.Config, k.CAFile, k.CertFile, k.KeyFile, k.ServerName, c.Logger)
		if err != nil {
			errs = append(errs, err)
		} else {
			s.kafkaOpts = append(s.kafkaOpts, kgo.DialTLSConfig(cfg))
			s.kafkaTLS = true
		}
	}
	if k := c.KafkaSASL; k != nil {
		g, err := newSASLGuard(k)
		if err != nil {
			errs = append(errs, err)
		} else {
			s.guard = g
			s.kafkaOpts = append(s.kafkaOpts, kgo.SASL(g), kgo.WithHooks(g))
		}
	}
	if q := c.QueryTLS; q != nil {
		if err := s.buildQueryTLS(q, c.Logger); err != nil {
			errs = append(errs, err)
		}
	}
	if q := c.QueryAuth; q != nil {
		if err := s.buildQueryAuth(q, c.QueryTLS); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (s *security) buildQueryTLS(q *QueryTLS, log *slog.Logger) error {
	if q.CertFile == "" || q.KeyFile == "" {
		return errors.New("streams: Config.QueryTLS.CertFile and KeyFile are required")
	}
	cert, err := newCertReloader("Config.QueryTLS", q.CertFile, q.KeyFile, log)
	if err != nil {
		return err
	}
	srv := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.get(), nil
		},
	}
	if q.ClientCAFile != "" {
		pool, err := readPool("Config.QueryTLS.ClientCAFile", q.ClientCAFile)
		if err != nil {
			return err
		}
		srv.ClientCAs = pool
		srv.ClientAuth = tls.VerifyClientCertIfGiven
	}
	fwd := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: q.ServerName}
	if q.CAFile != "" {
		pool, err := readPool("Config.QueryTLS.CAFile", q.CAFile)
		if err != nil {
			return err
		}
		fwd.RootCAs = pool
	}
	if q.ClientCAFile != "" {
		fwd.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert.get(), nil
		}
	}
	s.serverTLS, s.forwardTLS = srv, fwd
	return nil
}

func (s *security) buildQueryAuth(q *QueryAuth, qt *QueryTLS) error {
	var tokens []string
	for i, t := range q.Tokens {
		if strings.TrimSpace(t) == "" || strings.TrimSpace(t) != t {
			return fmt.Errorf("streams: Config.QueryAuth.Tokens[%d] is empty or has surrounding spaces", i)
		}
		tokens = append(tokens, t)
	}
	if q.TokensEnv != "" {
		v := os.Getenv(q.TokensEnv)
		n := 0
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tokens = append(tokens, t)
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("streams: Config.QueryAuth.TokensEnv: environment variable %s holds no token", q.TokensEnv)
		}
	}
	for i, t := range tokens {
		if len(t) < 16 {
			return fmt.Errorf("streams: Config.QueryAuth: token %d is %d characters long; use at least 16 (random)", i+1, len(t))
		}
	}
	if q.ClientCerts && (qt == nil || qt.ClientCAFile == "") {
		return errors.New("streams: Config.QueryAuth.ClientCerts needs Config.QueryTLS.ClientCAFile")
	}
	if len(tokens) == 0 && !q.ClientCerts {
		return errors.New("streams: Config.QueryAuth needs Tokens, TokensEnv or ClientCerts")
	}
	fwd := q.ForwardToken
	if fwd == "" && len(tokens) > 0 {
		fwd = tokens[0]
	}
	if fwd != "" && len(tokens) > 0 && !contains(tokens, fwd) {
		return errors.New("streams: Config.QueryAuth.ForwardToken is not one of the accepted tokens: the other instances would refuse it")
	}
	s.auth = &query.Auth{Tokens: tokens, ClientCerts: q.ClientCerts}
	s.forwardTok = fwd
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// clientTLS builds the TLS configuration of a client from files.
func clientTLS(field string, base *tls.Config, caFile, certFile, keyFile, serverName string, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if caFile != "" {
		pool, err := readPool(field+".CAFile", caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("streams: %s.CertFile and KeyFile go together: give both or neither", field)
	}
	if certFile != "" {
		r, err := newCertReloader(field, certFile, keyFile, log)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return r.get(), nil
		}
	}
	if serverName != "" {
		cfg.ServerName = serverName
	}
	return cfg, nil
}

func readPool(field, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("streams: %s: %w", field, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("streams: %s: %s holds no PEM certificate", field, file)
	}
	return pool, nil
}

// certReloader serves a certificate and key from files, reading them again
// when their modification time changes (checked at most every few
// seconds), so that rotated certificates take effect without a restart. A
// file that fails to load keeps the previous certificate in use.
type certReloader struct {
	field, certFile, keyFile string
	log                      *slog.Logger

	mu               sync.Mutex
	cert             *tls.Certificate
	certMod, keyMod  time.Time
	checked          time.Time
	reloadCheckEvery time.Duration
}

func newCertReloader(field, certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{field: field, certFile: certFile, keyFile: keyFile, log: log, reloadCheckEvery: 5 * time.Second}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	cm, km, err := r.mods()
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("streams: %s.CertFile and KeyFile: %w", r.field, err)
	}
	r.cert, r.certMod, r.keyMod, r.checked = &c, cm, km, time.Now()
	return nil
}

func (r *certReloader) mods() (cert, key time.Time, err error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return cert, key, fmt.Errorf("streams: %s.CertFile: %w", r.field, err)
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("streams: %s.KeyFile: %w", r.field, err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func (r *certReloader) get() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < r.reloadCheckEvery {
		return r.cert
	}
	r.checked = time.Now()
	cm, km, err := r.mods()
	if err == nil && cm.Equal(r.certMod) && km.Equal(r.keyMod) {
		return r.cert
	}
	if err == nil {
		err = r.load()
	}
	if err != nil {
		r.log.Warn("reloading a certificate failed; keeping the previous one", "field", r.field, "error", err)
	} else {
		r.log.Info("certificate reloaded", "field", r.field, "file", r.certFile)
	}
	return r.cert
}

// saslFailuresFatal is how many authentications in a row the brokers may
// cut off before the guard declares the credentials wrong.
const saslFailuresFatal = 2

// saslGuard wraps a SASL mechanism so that wrong credentials fail fast. A
// broker that rejects credentials answers with an error code (which the
// client does not retry) or, as some brokers and proxies do, closes the
// connection in reply; the client then sees only a closed connection and
// retries it like any network failure. The guard hears (as a client hook)
// reads of SASL authentication answers that fail, and once
// saslFailuresFatal authentications in a row failed without one
// succeeding, it refuses to authenticate again with an error that names
// the mechanism and that no retry loop takes for a network failure.
type saslGuard struct {
	mech sasl.Mechanism
	user string

	mu       sync.Mutex
	failures int
}

func newSASLGuard(k *KafkaSASL) (*saslGuard, error) {
	if k.User == "" {
		return nil, errors.New("streams: Config.KafkaSASL.User is required")
	}
	pass := k.Password
	if k.PasswordEnv != "" {
		if pass != "" {
			return nil, errors.New("streams: Config.KafkaSASL: give Password or PasswordEnv, not both")
		}
		pass = os.Getenv(k.PasswordEnv)
		if pass == "" {
			return nil, fmt.Errorf("streams: Config.KafkaSASL.PasswordEnv: environment variable %s is empty", k.PasswordEnv)
		}
	}
	if pass == "" {
		return nil, errors.New("streams: Config.KafkaSASL.Password (or PasswordEnv) is required")
	}
	var m sasl.Mechanism
	switch strings.ToUpper(k.Mechanism) {
	case SASLPlain:
		m = plain.Auth{User: k.User, Pass: pass}.AsMechanism()
	case SASLScramSHA256:
		m = scram.Auth{User: k.User, Pass: pass}.AsSha256Mechanism()
	case SASLScramSHA512:
		m = scram.Auth{User: k.User, Pass: pass}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("streams: Config.KafkaSASL.Mechanism %q is not %s, %s or %s", k.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	return &saslGuard{mech: m, user: k.User}, nil
}

// Name implements sasl.Mechanism.
func (g *saslGuard) Name() string { return g.mech.Name() }

// Authenticate implements sasl.Mechanism.
func (g *saslGuard) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	g.mu.Lock()
	failed := g.failures >= saslFailuresFatal
	g.mu.Unlock()
	if failed {
		return nil, nil, &SASLError{Mechanism: g.mech.Name(), User: g.user,
			Reason: fmt.Sprintf("the broker %s closed the connection in reply to the credentials %d times in a row", host, saslFailuresFatal)}
	}
	s, first, err := g.mech.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, &SASLError{Mechanism: g.mech.Name(), User: g.user, Reason: err.Error()}
	}
	return guardedSession{s, g}, first, nil
}

type guardedSession struct {
	s sasl.Session
	g *saslGuard
}

func (s guardedSession) Challenge(b []byte) (bool, []byte, error) {
	done, out, err := s.s.Challenge(b)
	switch {
	case err != nil:
		// The broker's answer does not verify (a SCRAM server signature).
		s.g.failed()
		return done, out, &SASLError{Mechanism: s.g.mech.Name(), User: s.g.user, Reason: err.Error()}
	case done:
		s.g.mu.Lock()
		s.g.failures = 0
		s.g.mu.Unlock()
	}
	return done, out, nil
}

func (g *saslGuard) failed() {
	g.mu.Lock()
	g.failures++
	g.mu.Unlock()
}

// OnBrokerRead implements kgo.HookBrokerRead: a failed read of an answer to
// SASL authentication is a broker cutting the credentials off.
func (g *saslGuard) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == int16(kmsg.SASLAuthenticate) {
		g.failed()
	}
}

// SASLError is the error of a SASL authentication to the brokers that
// failed: Run returns it (wrapped) when the brokers refuse the credentials.
type SASLError struct {
	Mechanism, User string
	Reason          string
}

func (e *SASLError) Error() string {
	return fmt.Sprintf("SASL %s authentication as %q failed: %s; check Config.KafkaSASL (user, password, mechanism)", e.Mechanism, e.User, e.Reason)
}

// Fatal tells the engine not to retry.
func (e *SASLError) Fatal() bool { return true }

// kafkaSecurityError explains an error of Run that comes from the
// connection's security: it names the SASL mechanism and user, or says
// that TLS failed.
func (s *security) kafkaSecurityError(err error) error {
	var se *SASLError
	if errors.As(err, &se) {
		return err
	}
	if s.guard != nil && (errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState)) {
		return &kafkaAuthError{&SASLError{Mechanism: s.guard.Name(), User: s.guard.user, Reason: "the broker refused it"}, err}
	}
	var firstEOF *kgo.ErrFirstReadEOF
	if s.guard == nil && errors.As(err, &firstEOF) {
		return fmt.Errorf("%w (Config.KafkaSASL and Config.KafkaTLS configure the connection)", err)
	}
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		header  tls.RecordHeaderError
	)
	if s.kafkaTLS && (errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &header) ||
		strings.Contains(err.Error(), "tls: ")) {
		return fmt.Errorf("TLS to the brokers failed (check Config.KafkaTLS): %w", err)
	}
	return err
}

// kafkaAuthError is a SASLError with the broker's error beneath.
type kafkaAuthError struct {
	*SASLError
	cause error
}

func (e *kafkaAuthError) Error() string { return e.SASLError.Error() + ": " + e.cause.Error() }
func (e *kafkaAuthError) Unwrap() []error {
	return []error{e.SASLError, e.cause}
}

// KafkaClientOptions returns the franz-go options that connect a client
// the way an application configured with c connects: its brokers, TLS and
// SASL settings, then c.KafkaOptions. Use them for your own clients of the
// same cluster, such as producers of the input. Errors name the Config
// field at fault.
func KafkaClientOptions(c Config) ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("streams: Config.Brokers is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.QueryTLS, c.QueryAuth = nil, nil
	s, err := buildSecurity(c)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	opts = append(opts, s.kafkaOpts...)
	return append(opts, c.KafkaOptions...), nil
}
