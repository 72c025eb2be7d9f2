package query

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Auth says who may use the query API. A request is let in when it carries
// one of Tokens as a bearer token (Authorization: Bearer <token>), or, with
// ClientCerts, when it came over TLS with a client certificate that the
// server verified. A nil or empty Auth lets every request in.
type Auth struct {
	// Tokens are the accepted bearer tokens. Give several to rotate them:
	// add the new one everywhere, move clients over, remove the old one.
	Tokens []string
	// ClientCerts lets in requests whose TLS connection presented a client
	// certificate that the server verified (mutual TLS): the server's
	// tls.Config must ask for and verify them (ClientAuth
	// VerifyClientCertIfGiven or RequireAndVerifyClientCert, with ClientCAs).
	ClientCerts bool
}

// Enabled reports whether a accepts only some requests.
func (a *Auth) Enabled() bool {
	return a != nil && (len(a.Tokens) > 0 || a.ClientCerts)
}

// Allow reports whether r is authenticated.
func (a *Auth) Allow(r *http.Request) bool {
	if !a.Enabled() {
		return true
	}
	if a.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	tok, ok := bearer(r)
	if !ok {
		return false
	}
	// Compare digests in constant time, against every token: the answer
	// time says nothing about a token's prefix or its position.
	got := sha256.Sum256([]byte(tok))
	match := 0
	for _, t := range a.Tokens {
		want := sha256.Sum256([]byte(t))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

// bearer returns the bearer token of r.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Protect returns h behind a: unauthenticated requests get a 401 with code
// "unauthorized" and a WWW-Authenticate challenge.
func (a *Auth) Protect(h http.Handler) http.Handler {
	if !a.Enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Allow(r) {
			unauthorized(w, r, a)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter, r *http.Request, a *Auth) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="streams"`)
	var msg string
	switch _, ok := bearer(r); {
	case ok && len(a.Tokens) > 0:
		msg = "the bearer token is not valid"
	case len(a.Tokens) == 0:
		msg = "authentication required: connect with a client certificate the server trusts"
	case a.ClientCerts:
		msg = "authentication required: send Authorization: Bearer <token>, or connect with a client certificate the server trusts"
	default:
		msg = "authentication required: send Authorization: Bearer <token>"
	}
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: msg, Code: CodeUnauthorized})
}
