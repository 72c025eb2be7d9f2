package streams

import (
	"context"
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
func (a *App) QueryHandler() http.Handler {
	return query.NewHandler(a.QueryInstance(), query.HandlerOptions{Logger: a.cfg.Logger})
}

// MetricsHandler returns a Prometheus handler for Config.Registerer when it
// is also a prometheus.Gatherer (a *prometheus.Registry is), or nil.
func (a *App) MetricsHandler() http.Handler {
	g, ok := a.cfg.Registerer.(prometheus.Gatherer)
	if !ok {
		return nil
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelWarn)})
}

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
		mux.Handle("GET /metrics", m)
	}
	mux.Handle("/", a.QueryHandler())
	qs := &queryServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
		log:  a.cfg.Logger,
	}
	go func() {
		defer close(qs.done)
		if err := qs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			qs.log.Error("query server stopped", "error", err)
		}
	}()
	a.cfg.Logger.Info("query server listening", "addr", ln.Addr().String(), "endpoint", a.endpoint())
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
