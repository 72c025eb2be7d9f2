package query

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// forward sends the request for path and query to endpoint and returns the
// answer's status and body.
func (h *handler) forward(ctx context.Context, in *http.Request, endpoint, path string, q url.Values) (int, http.Header, []byte, *apiError) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.ForwardTimeout)
	defer cancel()
	if !ValidEndpoint(endpoint) {
		return 0, nil, nil, errorf(http.StatusBadGateway, CodeBadGateway, "the owner's endpoint %q is not host:port", endpoint)
	}
	if !h.acquirePeer(endpoint) {
		return 0, nil, nil, unavailable(CodeOverloaded, "%d requests to the owner %s are in flight, the limit (MaxForwardsPerPeer): it is slow or stalled", h.opts.MaxForwardsPerPeer, endpoint)
	}
	defer h.releasePeer(endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.opts.Scheme+"://"+endpoint+path+"?"+q.Encode(), nil)
	if err != nil {
		return 0, nil, nil, errorf(http.StatusInternalServerError, CodeInternal, "forwarding to %s: %v", endpoint, err)
	}
	hop := h.inst.Endpoint()
	if hop == "" {
		hop = "unknown"
	}
	req.Header.Set(HopHeader, hop)
	req.Header.Set("Accept", "application/json")
	if h.opts.ForwardToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.opts.ForwardToken)
	}
	if h.opts.PrepareForward != nil {
		h.opts.PrepareForward(req, in)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.opts.Logger.Debug("forwarding a query", "endpoint", endpoint, "error", err)
		return 0, nil, nil, unavailable(CodeUnavailable, "the owner %s is unreachable: %v", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return 0, nil, nil, errorf(http.StatusBadGateway, CodeBadGateway, "the owner %s answered with a redirect (%d)", endpoint, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.opts.MaxForwardBytes+1))
	if err != nil {
		return 0, nil, nil, unavailable(CodeUnavailable, "reading the answer of %s: %v", endpoint, err)
	}
	if int64(len(body)) > h.opts.MaxForwardBytes {
		return 0, nil, nil, errorf(http.StatusBadGateway, CodeBadGateway, "the answer of %s is larger than %d bytes", endpoint, h.opts.MaxForwardBytes)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// relay forwards a request and writes the owner's answer.
func (h *handler) relay(w http.ResponseWriter, r *http.Request, endpoint, path string) {
	status, hdr, body, e := h.forward(r.Context(), r, endpoint, path, r.URL.Query())
	if e != nil {
		h.fail(w, e)
		return
	}
	if ct := hdr.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if ra := hdr.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ValidEndpoint reports whether endpoint is a plain host:port (a host name,
// IPv4 or bracketed IPv6 address, and a port number), the only form that
// requests are forwarded or sent to.
func ValidEndpoint(endpoint string) bool {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" {
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || strconv.Itoa(n) != port {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func storePath(store, suffix string) string {
	return "/v1/stores/" + EscapeSegment(store) + suffix
}

// EscapeSegment escapes a key (or store name) as one path segment of the
// API: url.PathEscape, and "." and ".." as "%2E" and "%2E%2E", which would
// otherwise be taken for path navigation.
func EscapeSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}
