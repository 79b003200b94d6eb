package oauthflow

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/tests/testkit/htmlform"
)

// Page is an answer a Browser read, whole: the URL it ended at (after the
// redirects the Browser follows), the status, the headers, the body and
// how long the request took.
type Page struct {
	URL     *url.URL
	Status  int
	Header  http.Header
	Body    string
	Elapsed time.Duration // from sending the request to the end of the body
}

// Location is the page's Location header resolved against its URL.
func (p Page) Location() (*url.URL, error) {
	loc := p.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("got no Location (status %d): %s", p.Status, snippet([]byte(p.Body)))
	}
	return p.URL.Parse(loc)
}

// Form reads the page's only <form method="post"> (htmlform.One).
func (p Page) Form() (htmlform.Form, error) {
	f, err := htmlform.One([]byte(p.Body))
	if err != nil {
		return htmlform.Form{}, fmt.Errorf("%s (status %d): %w", p.URL.Redacted(), p.Status, err)
	}
	return f, nil
}

// IsLogin reports whether the page is a login page: it has a password
// field.
func (p Page) IsLogin() bool { return strings.Contains(p.Body, `name="password"`) }

// IsConsent reports whether the page is a consent page: a 200 with the
// decision buttons.
func (p Page) IsConsent() bool {
	return p.Status == http.StatusOK && strings.Contains(p.Body, `name="decision"`)
}

// Browser is a user agent with cookies that reads pages the way a person
// does, through SPEC's contract only (one post form, hidden inputs, named
// fields and buttons): the one page-driving client of the suites and of
// CodeFlow. Its fields are set before first use.
type Browser struct {
	// HTTP sends the requests: its Jar holds the cookies and its
	// CheckRedirect says which redirects are followed (NewBrowser).
	HTTP *http.Client
	// Origin is the Origin header of the forms it posts; "" sends "null",
	// what browsers send under Referrer-Policy: no-referrer.
	Origin string
	// Accept, when set, is the Accept header of its GETs.
	Accept string
	// MaxBody, when positive, bounds what is read of each answer.
	MaxBody int64
}

// NewBrowser returns a Browser with a fresh cookie jar that sends through
// t (nil: http.DefaultTransport) and follows a redirect only when follow
// says so (nil: none).
func NewBrowser(t http.RoundTripper, timeout time.Duration, follow func(*http.Request) bool) *Browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Browser{HTTP: &http.Client{Transport: t, Jar: jar, Timeout: timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if follow == nil || !follow(req) {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// Within is a NewBrowser redirect policy: follow redirects to origin
// (scheme://host) only.
func Within(origin string) func(*http.Request) bool {
	return func(req *http.Request) bool { return req.URL.Scheme+"://"+req.URL.Host == origin }
}

// Do sends req and reads the whole answer.
func (b *Browser) Do(req *http.Request) (Page, error) {
	start := time.Now()
	resp, err := b.HTTP.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if b.MaxBody > 0 {
		rd = io.LimitReader(resp.Body, b.MaxBody)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return Page{}, fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Redacted(), err)
	}
	return Page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body), Elapsed: time.Since(start)}, nil
}

// Get GETs u.
func (b *Browser) Get(ctx context.Context, u string) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, err
	}
	if b.Accept != "" {
		req.Header.Set("Accept", b.Accept)
	}
	return b.Do(req)
}

// Submit posts f of the page from as a browser would: its hidden inputs,
// with set's values in place of theirs (a key with no values removes the
// field), to its action resolved against from's URL.
func (b *Browser) Submit(ctx context.Context, from Page, f htmlform.Form, set url.Values) (Page, error) {
	target, err := from.URL.Parse(f.Action)
	if err != nil {
		return Page{}, fmt.Errorf("form action %q: %w", f.Action, err)
	}
	vals := url.Values{}
	for k, v := range f.Hidden {
		vals[k] = v
	}
	for k, v := range set {
		if len(v) == 0 {
			delete(vals, k)
		} else {
			vals[k] = v
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	origin := b.Origin
	if origin == "" {
		origin = "null"
	}
	req.Header.Set("Origin", origin)
	return b.Do(req)
}

// SignIn posts the login form of the login page p as user with password
// and returns the answer (after the redirects the Browser follows).
func (b *Browser) SignIn(ctx context.Context, p Page, user, password string) (Page, error) {
	if !p.IsLogin() {
		return Page{}, fmt.Errorf("%s: got status %d and no login form, want the login page: %s", p.URL.Redacted(), p.Status, snippet([]byte(p.Body)))
	}
	f, err := p.Form()
	if err != nil {
		return Page{}, err
	}
	return b.Submit(ctx, p, f, url.Values{"username": {user}, "password": {password}})
}

// Open GETs authURL and, when it answers the login page, signs in as user
// with password; it returns the page after that (a consent page, or a
// redirect the Browser does not follow).
func (b *Browser) Open(ctx context.Context, authURL, user, password string) (Page, error) {
	p, err := b.Get(ctx, authURL)
	if err != nil || !p.IsLogin() {
		return p, err
	}
	return b.SignIn(ctx, p, user, password)
}

// ConsentPage is Open that must end at the consent page.
func (b *Browser) ConsentPage(ctx context.Context, authURL, user, password string) (Page, error) {
	p, err := b.Open(ctx, authURL, user, password)
	if err != nil {
		return Page{}, err
	}
	if !p.IsConsent() {
		return Page{}, fmt.Errorf("got status %d, want the consent page: %s", p.Status, snippet([]byte(p.Body)))
	}
	return p, nil
}

// Decide submits the consent page p with decision (approve or deny) and
// returns the redirect to the client: the answer must be a 303. The page
// must offer exactly the two decisions, approve and deny.
func (b *Browser) Decide(ctx context.Context, p Page, decision string) (*url.URL, error) {
	f, err := p.Form()
	if err != nil {
		return nil, err
	}
	if vals := f.Buttons["decision"]; len(vals) != 2 || !f.HasButton("decision", "approve") || !f.HasButton("decision", "deny") {
		return nil, fmt.Errorf("consent buttons: got %v, want approve and deny", vals)
	}
	r, err := b.Submit(ctx, p, f, url.Values{"decision": {decision}})
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusSeeOther {
		return nil, fmt.Errorf("consent: got status %d, want 303: %s", r.Status, snippet([]byte(r.Body)))
	}
	return r.Location()
}

// Authorize drives authURL to the client: sign-in as user when asked,
// then the consent page answered with decision, and returns the redirect
// that reached the client. When the user's grant already covers the
// request (a remembered consent), that redirect comes without a consent
// page.
func (b *Browser) Authorize(ctx context.Context, authURL, user, password, decision string) (*url.URL, error) {
	p, err := b.Get(ctx, authURL)
	if err != nil {
		return nil, err
	}
	return b.AuthorizeFrom(ctx, p, user, password, decision)
}

// AuthorizeFrom is Authorize from p, the answer to the authorization
// request.
func (b *Browser) AuthorizeFrom(ctx context.Context, p Page, user, password, decision string) (*url.URL, error) {
	if p.IsLogin() {
		var err error
		if p, err = b.SignIn(ctx, p, user, password); err != nil {
			return nil, err
		}
	}
	if p.Status == http.StatusSeeOther || p.Status == http.StatusFound {
		return p.Location()
	}
	if !p.IsConsent() {
		return nil, fmt.Errorf("after sign-in: got status %d, want the consent page or the client's redirect: %s", p.Status, snippet([]byte(p.Body)))
	}
	return b.Decide(ctx, p, decision)
}
