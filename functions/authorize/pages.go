package authorize

import (
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page/component"
)

// The pages people see. Each names the provider at the top (page.Brand),
// says in its headline what it is for, and ends with the next step. Codes
// (scope names, OAuth error codes, client ids) appear only as secondary
// detail.

// site is what every page of the handler shows besides its own content:
// the provider's display name and the optional help line.
type site struct {
	Provider string // config.Config.ProviderName
	Contact  string // config.Config.SupportContact, "" for none
}

// message is the content of a plain page (errors of the browser flow that
// are not OAuth errors of the authorization endpoint).
type message struct {
	site
	Title, Text string
	// Link, when set, is a local place to continue from.
	Link, LinkText string
	// Help shows the support contact (a failure the person may need help
	// with).
	Help bool
	// Developer, when set, is shown under "Details for the application's
	// developer".
	Developer string
}

// The plain pages.
var (
	msgNotFound  = message{Title: "Page not found", Text: "There is nothing at this address. Check the link you followed.", Link: accountPath, LinkText: "Go to your authorized applications"}
	msgMethod    = message{Title: "This page cannot be used that way", Text: "The address was reached in a way it does not support. Go back and try again."}
	msgBadForm   = message{Title: "The form could not be read", Text: "Something was missing from the form you sent. Go back to the application and start again.", Help: true}
	msgBadReturn = message{Title: "This sign-in link is incomplete", Text: "The link does not say where to go after signing in. Go back to the page you came from and try again.", Link: accountPath, LinkText: "Go to your authorized applications"}
	msgTooLarge  = message{Title: "The form was too large", Text: "The form sent more data than this page accepts. Go back and try again."}
	msgCSRF      = message{Title: "This form has expired", Text: "For your security, a form stops working after a while or when it comes from another site. Go back, reload the page and try again.", Link: accountPath, LinkText: "Go to your authorized applications"}
	msgSignedOut = message{Title: "You are signed out", Text: "Your session ended before the change could be made. Sign in and try again.", Link: accountPath, LinkText: "Sign in"}
	msgServer    = message{Title: "Something went wrong", Text: "The request could not be completed because of a problem on our side. Try again in a few minutes.", Help: true}
	msgBusy      = message{Title: "The service is busy", Text: "Too many requests are being handled right now. Try again in a moment.", Help: true}
)

// site returns what every page of h shows.
func (h *Handler) site() site { return site{Provider: h.provider, Contact: h.cfg.SupportContact} }

// fail answers an internal failure (already logged by the caller) with a
// plain page: 503 when a dependency is unavailable, else 500. Nothing of
// err reaches the page.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	if shared.AsError(err).Code == shared.CodeTemporarilyUnavailable {
		h.renderMessage(w, http.StatusServiceUnavailable, msgBusy)
		return
	}
	h.renderMessage(w, http.StatusInternalServerError, msgServer)
}

func (h *Handler) renderMessage(w http.ResponseWriter, status int, m message) {
	m.site = h.site()
	component.Render(w, status, messagePage(m))
}

// problemKind says what went wrong with an authorization request that
// cannot be sent back to the application, in the terms the error page
// explains it to the person.
type problemKind int

const (
	// problemLink: the request is malformed (a repeated or undecodable
	// parameter).
	problemLink problemKind = iota
	// problemApp: client_id names no enabled application (or is
	// repeated).
	problemApp
	// problemNoClient: client_id is missing, so nothing says which
	// application sent the person.
	problemNoClient
	// problemReturn: redirect_uri is missing, repeated or not registered
	// for the application.
	problemReturn
)

// problem is an authorization error answered with the error page, never a
// redirect: the OAuth error (shown to the developer) and how to explain it
// to the person.
type problem struct {
	err  *shared.Error
	kind problemKind
	app  string // the application's name, when known
}

func (p *problem) Error() string { return p.err.Error() }
func (p *problem) Unwrap() error { return p.err }

// authError is what the error page shows.
type authError struct {
	site
	Title, Text, Next string
	Code, Description string
}

// authorizeError answers an error of the authorization endpoint: a
// redirect to the client when the redirect URI is validated and the error
// may go there (shared.WriteAuthorizeError), else the error page: a
// plain-language headline and next step for the person, the help line, and
// the OAuth error code and description under "Details for the
// application's developer". Status 400, or the error's own 5xx.
func (h *Handler) authorizeError(w http.ResponseWriter, r *http.Request, t shared.AuthorizeTarget, err error) {
	e := shared.AsError(err)
	if t.RedirectURI != "" && e.Redirectable {
		if _, ok := shared.AppendQuery(t.RedirectURI, nil); ok {
			shared.WriteAuthorizeError(w, r, t, err)
			return
		}
	}
	d := authError{site: h.site(), Code: e.Code, Description: e.Description}
	status := http.StatusBadRequest
	var p *problem
	switch {
	case e.Code == shared.CodeTemporarilyUnavailable:
		status = http.StatusServiceUnavailable
		d.Title = "The service is busy"
		d.Text = "Too many requests are being handled right now, so you could not be signed in."
		d.Next = "Go back to the application and try again in a moment."
	case e.Code == shared.CodeServerError || e.Status >= 500:
		status = http.StatusInternalServerError
		if e.Status > 500 {
			status = e.Status
		}
		d.Title = "Something went wrong"
		d.Text = "You could not be signed in because of a problem on our side."
		d.Next = "Go back to the application and try again in a few minutes."
	case errors.As(err, &p) && p.kind == problemNoClient:
		d.Title = "The application did not say who it is"
		d.Text = "The application that sent you here did not say which application it is, so " + h.provider + " cannot ask you to approve it, nor send you back to it."
		d.Next = "Go back to the application and start again from there. If this keeps happening, tell the people who run the application."
	case errors.As(err, &p) && p.kind == problemApp:
		d.Title = "This application is not recognised"
		d.Text = "The link that brought you here names an application that " + h.provider + " does not know, or one that has been turned off."
		d.Next = "Go back to the application and try again. If this keeps happening, tell the people who run the application."
	case errors.As(err, &p) && p.kind == problemReturn:
		app := p.app
		if app == "" {
			app = "the application"
		}
		d.Title = "This sign-in link is not set up correctly"
		d.Text = "The link asks to send you back to an address that is not registered for " + app + ", so you cannot be sent back safely."
		d.Next = "Go back to " + app + " and try again. If this keeps happening, tell the people who run " + app + "."
	default:
		d.Title = "This sign-in link is broken"
		d.Text = "The link that brought you here is incomplete or damaged."
		d.Next = "Go back to the application and start signing in again."
	}
	component.Render(w, status, errorPage(d))
}

// isAuthorizeRequest reports whether a login's return_to is an
// application's authorization request, which Cancel can answer.
func isAuthorizeRequest(returnTo string) bool {
	return strings.HasPrefix(returnTo, "/oauth2/authorize?") || strings.HasPrefix(returnTo, "/rest/oauth2/latest/authorize?")
}

// cancel reports whether the sign-in page offers Cancel: for an
// application's authorization request, which it answers with access_denied.
func (d loginData) cancel() bool { return d.AppName != "" && isAuthorizeRequest(d.ReturnTo) }

// includesText joins the descriptions of included scopes as one phrase:
// "view projects and repositories; view public projects and
// repositories". A description's first letter is lowered unless the
// second is upper case too (an acronym).
func includesText(descs []string) string {
	out := make([]string, len(descs))
	for i, d := range descs {
		out[i] = lowerFirst(d)
	}
	return strings.Join(out, "; ")
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// signOutData fills the sign-out page: the signed-in user, and for an
// application's logout request (RP-Initiated Logout) which application
// asked and where the browser goes afterwards.
type signOutData struct {
	site
	Username, CSRF string
	Logout         *logoutRequest // nil, or no link: the person came here themselves
}
