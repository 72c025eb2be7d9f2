package streams

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seed992c72d9/streams/query"
)

// QueryHandler returns the HTTP API of this instance's interactive queries
// (see package query and docs/queries.md), to mount in your own server when
// Config.QueryAddr is empty. Requests for keys held by other instances are
// forwarded to Config.AdvertisedEndpoint of their owner: set it to the
// address your server listens on.
//
// The handler applies Config.QueryAuth (health checks stay open unless
// QueryAuth.ProtectHealth), forwards over HTTPS with Config.QueryTLS, and
// bounds its work with Config.QueryLimits.
func (a *App) QueryHandler() http.Handler {
	return query.NewHandler(a.QueryInstance(), a.handlerOptions())
}

func (a *App) handlerOptions() query.HandlerOptions {
	l := a.cfg.QueryLimits
	o := query.HandlerOptions{
		Logger:             a.cfg.Logger,
		Auth:               a.sec.auth,
		ForwardTLS:         a.sec.forwardTLS,
		ForwardToken:       a.sec.forwardTok,
		ForwardTimeout:     l.ForwardTimeout,
		MaxKeyBytes:        l.MaxKeyBytes,
		MaxPageSize:        l.MaxPageSize,
		MaxRequestBytes:    l.MaxRequestBytes,
		MaxConcurrent:      l.MaxConcurrent,
		MaxForwardsPerPeer: l.MaxForwardsPerPeer,
	}
	if q := a.cfg.QueryAuth; q != nil {
		o.ProtectHealth = q.ProtectHealth
	}
	return o
}

// MetricsHandler returns a Prometheus handler for Config.Registerer when it
// is also a prometheus.Gatherer (a *prometheus.Registry is), or nil. It
// does not apply Config.QueryAuth: the server Run starts does, when
// QueryAuth.ProtectMetrics is set (or wrap it with QueryAuthenticator's
// Protect).
func (a *App) MetricsHandler() http.Handler {
	g, ok := a.cfg.Registerer.(prometheus.Gatherer)
	if !ok {
		return nil
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelWarn)})
}

// QueryAuthenticator returns the authentication Config.QueryAuth asks for
// (nil without QueryAuth), to protect handlers you mount next to
// QueryHandler, such as MetricsHandler.
func (a *App) QueryAuthenticator() *query.Auth { return a.sec.auth }

func (a *App) endpoint() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.AdvertisedEndpoint
}

// queryServer is the HTTP server Run starts when Config.QueryAddr is set.
type queryServer struct {
	srv  *http.Server
	done chan struct{}
	log  *slog.Logger
}

// startQueryServer listens on Config.QueryAddr, if set, and serves the
// query API and /metrics. It fills in Config.AdvertisedEndpoint when empty.
func (a *App) startQueryServer() (*queryServer, error) {
	if a.cfg.QueryAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.QueryAddr)
	if err != nil {
		return nil, fmt.Errorf("streams: listening on Config.QueryAddr: %w", err)
	}
	a.mu.Lock()
	if a.cfg.AdvertisedEndpoint == "" {
		a.cfg.AdvertisedEndpoint = advertised(ln.Addr())
	}
	a.mu.Unlock()
	mux := http.NewServeMux()
	if m := a.MetricsHandler(); m != nil {
		if q := a.cfg.QueryAuth; q != nil && q.ProtectMetrics {
			m = a.sec.auth.Protect(m)
		}
		mux.Handle("GET /metrics", m)
	}
	mux.Handle("/", a.QueryHandler())
	l := a.cfg.QueryLimits
	qs := &queryServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: l.ReadHeaderTimeout,
			ReadTimeout:       l.ReadTimeout,
			WriteTimeout:      l.WriteTimeout,
			IdleTimeout:       l.IdleTimeout,
			// Above MaxRequestBytes, so that the handler answers an
			// oversized request with a 400 that names the limit.
			MaxHeaderBytes: 2 * l.MaxRequestBytes,
			TLSConfig:      a.sec.serverTLS,
			ErrorLog:       slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
		log:  a.cfg.Logger,
	}
	scheme := "http"
	if a.sec.serverTLS != nil {
		scheme = "https"
		ln = tls.NewListener(ln, qs.srv.TLSConfig)
	} else if a.sec.auth.Enabled() && len(a.sec.auth.Tokens) > 0 {
		a.cfg.Logger.Warn("the query API takes bearer tokens over plain HTTP: set Config.QueryTLS unless the network is trusted")
	}
	go func() {
		defer close(qs.done)
		if err := qs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			qs.log.Error("query server stopped", "error", err)
		}
	}()
	a.cfg.Logger.Info("query server listening", "addr", ln.Addr().String(), "endpoint", a.endpoint(), "scheme", scheme,
		"auth", a.sec.auth.Enabled())
	return qs, nil
}

// stop shuts the server down, letting requests in flight finish for a few
// seconds.
func (qs *queryServer) stop() {
	if qs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := qs.srv.Shutdown(ctx); err != nil {
		_ = qs.srv.Close()
	}
	<-qs.done
}

// advertised returns the endpoint for a listener's address: its host, or
// the host name when it listens on every address.
func advertised(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}
