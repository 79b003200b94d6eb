package oauthflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// PKCE returns a fresh code verifier and its S256 code challenge (RFC
// 7636 §4.1, §4.2).
func PKCE() (verifier, challenge string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// State returns a fresh state parameter.
func State() string { return randomString(12) }

// MaxRedirects bounds FollowToCallback (an ORY Hydra authorization with its
// login and consent app takes five redirects).
const MaxRedirects = 12

// FollowToCallback GETs u with hc (which must not follow redirects itself;
// its jar carries the browser's cookies) and every redirect after it, at
// most MaxRedirects, until one to redirectURI (same scheme, host and path;
// never requested), and returns the code of that authorization response
// (RFC 6749 §4.1.2) after checking that its state is state. Any other
// answer fails: a page on the way means that the browser is not signed in
// or that its consent is not remembered. It works with any authorization
// server whose login and consent end in redirects (this project's when the
// browser is signed in and the consent remembered, node-oidc-provider's
// with a headless interaction, Hydra's with a headless login and consent
// app).
func FollowToCallback(ctx context.Context, hc *http.Client, u *url.URL, redirectURI, state string) (string, error) {
	cb, err := url.Parse(redirectURI)
	if err != nil {
		return "", fmt.Errorf("redirect URI: %w", err)
	}
	for range MaxRedirects {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Accept", "text/html")
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		loc, lerr := resp.Location()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || lerr != nil {
			return "", fmt.Errorf("GET %s answered %d, not a redirect (is the browser signed in and its consent remembered?): %s",
				u.Path, resp.StatusCode, snippet(body))
		}
		if loc.Scheme == cb.Scheme && loc.Host == cb.Host && loc.Path == cb.Path {
			return callbackCode(loc.Query(), state)
		}
		u = loc
	}
	return "", fmt.Errorf("more than %d redirects without reaching the redirect URI", MaxRedirects)
}

// callbackCode reads the code of an authorization response whose state
// must be want.
func callbackCode(q url.Values, want string) (string, error) {
	switch {
	case q.Get("error") != "":
		return "", fmt.Errorf("the redirect URI got error=%s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != want:
		return "", errors.New("the redirect's state differs from the request's")
	case q.Get("code") == "":
		return "", errors.New("the redirect has no code")
	}
	return q.Get("code"), nil
}
