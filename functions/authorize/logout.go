package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// OpenID Connect RP-Initiated Logout 1.0 at /oauth2/logout, the
// end_session_endpoint:
//
//	GET|POST /oauth2/logout ?id_token_hint= &client_id=
//	         &post_logout_redirect_uri= &state= (&logout_hint= &ui_locales=)
//
// Every request is validated before anything else: the application is
// client_id, or the aud (azp) of id_token_hint, and both must agree;
// post_logout_redirect_uri needs an application and must equal one of its
// registered post_logout_redirect_uris byte for byte (§3: "exactly
// match"; no loopback port exception here). A request that fails is a 400
// page that sends the browser nowhere.
//
// A signed-in user is always asked (§2: the OP MUST ask unless the hint is
// for the current session; the hint's signature is not checked here, and
// a page that signs people out on a GET would let any site do it). The
// confirmation form carries the validated request, which its post checks
// again before it ends the session and answers 303 to
// post_logout_redirect_uri with state, or to the signed-out page. A
// browser with no session goes there at once: there is nothing to ask.
//
// A POST that carries no csrf field but logout parameters is an
// application's logout request by form post (§2 allows GET and POST). It
// is validated and answered 303 to the same request as a GET (the
// application named by client_id, never the hint): a browser then gets the
// confirmation page with its cookies, and a relying party that posts the
// request from its server and sends the browser to the Location it gets
// back (zitadel/oidc's rp.EndSession does) sends it there too, rather than
// straight back to itself with the person still signed in.

// logoutParams are the parameters of an RP-Initiated Logout request; the
// spec says to ignore any other.
var logoutParams = []string{"id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"}

// logoutRequest is a validated logout request.
type logoutRequest struct {
	link     *store.Link // the application, nil when none was named
	redirect string      // post_logout_redirect_uri, "" for none
	state    string      // echoed with redirect
}

// target is where the browser goes after sign-out: redirect with state,
// or the provider's signed-out page.
func (lr *logoutRequest) target() string {
	if lr == nil || lr.redirect == "" {
		return logoutPath
	}
	if lr.state == "" {
		return lr.redirect
	}
	sep := "?"
	if strings.Contains(lr.redirect, "?") {
		sep = "&"
	}
	return lr.redirect + sep + "state=" + url.QueryEscape(lr.state)
}

// confirmURL is this request as a GET of the logout endpoint.
func (lr *logoutRequest) confirmURL() string {
	if lr.link == nil {
		return logoutPath
	}
	q := url.Values{"client_id": {lr.link.ClientID}}
	if lr.redirect != "" {
		q.Set("post_logout_redirect_uri", lr.redirect)
		if lr.state != "" {
			q.Set("state", lr.state)
		}
	}
	return logoutPath + "?" + q.Encode()
}

// hasLogoutParams reports whether vals carries any parameter of a logout
// request.
func hasLogoutParams(vals url.Values) bool {
	return slices.ContainsFunc(logoutParams, vals.Has)
}

// logoutProblem is a logout request refused with a 400 page.
func logoutProblem(text, developer string) error {
	return &logoutError{message{Title: "This sign-out link is not valid", Text: text,
		Link: logoutPath, LinkText: "Sign out here instead", Developer: developer}}
}

type logoutError struct{ m message }

func (e *logoutError) Error() string { return e.m.Developer }

const (
	textLogoutApp    = "The application that sent you here is unknown or disabled, so you cannot be sent back to it. Go back to the application, or sign out here."
	textLogoutReturn = "The application asked to send you back to an address it has not registered, so this page will not send you there. Go back to the application, or sign out here."
	textLogoutLink   = "The link that brought you here is malformed. Go back to the application and try again, or sign out here."
)

// parseLogout validates a logout request (see the comment at the top).
func (h *Handler) parseLogout(ctx context.Context, vals url.Values) (*logoutRequest, error) {
	p := map[string]string{}
	for _, k := range logoutParams {
		vs := vals[k]
		switch {
		case len(vs) > 1:
			return nil, logoutProblem(textLogoutLink, k+" is repeated")
		case len(vs) == 1 && !utf8.ValidString(vs[0]):
			return nil, logoutProblem(textLogoutLink, k+" is not valid UTF-8")
		case len(vs) == 1:
			p[k] = vs[0]
		}
	}
	clientID := p["client_id"]
	if len(clientID) > maxParamBytes {
		return nil, logoutProblem(textLogoutApp, "client_id names no enabled application")
	}
	if hint := p["id_token_hint"]; hint != "" {
		c, err := parseHint(hint, h.cfg.Issuer)
		if err != nil {
			return nil, logoutProblem(textLogoutLink, "id_token_hint is not an ID token this provider issued")
		}
		switch {
		case clientID != "" && !slices.Contains(c.Aud, clientID):
			return nil, logoutProblem(textLogoutLink, "id_token_hint was issued to another client than client_id")
		case clientID != "":
		case c.Azp != "":
			clientID = c.Azp
		case len(c.Aud) == 1:
			clientID = c.Aud[0]
		default:
			return nil, logoutProblem(textLogoutLink, "id_token_hint has several audiences and no azp: send client_id")
		}
	}
	lr := &logoutRequest{redirect: p["post_logout_redirect_uri"], state: p["state"]}
	if clientID != "" {
		l, err := h.store.GetLinkByClientID(ctx, clientID)
		switch {
		case errors.Is(err, shared.ErrNotFound):
			return nil, logoutProblem(textLogoutApp, "client_id names no enabled application")
		case err != nil:
			web.Logger(ctx).Error("get link", "err", err.Error())
			return nil, err
		case !l.Usable() || l.ClientType == store.ResourceServer:
			return nil, logoutProblem(textLogoutApp, "client_id names no enabled application")
		}
		lr.link = &l
	}
	if lr.redirect != "" {
		if lr.link == nil {
			return nil, logoutProblem(textLogoutReturn, "post_logout_redirect_uri needs client_id or id_token_hint to name the application")
		}
		if !slices.Contains(lr.link.PostLogoutRedirectURIs, lr.redirect) {
			return nil, logoutProblem(textLogoutReturn, "post_logout_redirect_uri is not one of the post_logout_redirect_uris registered for the application")
		}
	}
	return lr, nil
}

// failLogout answers an error of parseLogout.
func (h *Handler) failLogout(w http.ResponseWriter, err error) {
	var le *logoutError
	if errors.As(err, &le) {
		h.renderMessage(w, http.StatusBadRequest, le.m)
		return
	}
	h.fail(w, err)
}

// logoutPage serves GET /oauth2/logout: the sign-out form for a signed-in user; for a
// signed-out one the application's post-logout redirect, or the page that
// says so (after POST /oauth2/logout too).
func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request, vals url.Values) {
	ctx := r.Context()
	lr, err := h.parseLogout(ctx, vals)
	if err != nil {
		h.failLogout(w, err)
		return
	}
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if user == nil {
		if lr.redirect != "" {
			shared.Redirect(w, lr.target(), http.StatusSeeOther)
			return
		}
		component.Render(w, http.StatusOK, signedOutPage(h.site()))
		return
	}
	var formAction []string
	if lr.redirect != "" {
		// Browsers apply form-action to the redirect that answers the post.
		formAction = append(formAction, shared.FormActionSource(lr.redirect))
	}
	component.Render(w, http.StatusOK, signOutPage(signOutData{site: h.site(), Username: user.Username, CSRF: sess.CSRF, Logout: lr}), formAction...)
}

// logout serves POST /oauth2/logout: the sign-out form's post ends the
// session (CSRF-checked) and answers 303 to the application's validated
// post_logout_redirect_uri, or to the sign-out page, which then says that
// the browser is signed out. A post without csrf but with logout
// parameters is an application's logout request: 303 to it as a GET.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, ok := h.readForm(w, r)
	if !ok {
		return
	}
	lr, err := h.parseLogout(ctx, form)
	if err != nil {
		h.failLogout(w, err)
		return
	}
	if !form.Has("csrf") && hasLogoutParams(form) {
		shared.Redirect(w, lr.confirmURL(), http.StatusSeeOther)
		return
	}
	sess, _, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if sess != nil {
		if tok := form.Get("csrf"); tok == "" || !shared.Equal(tok, sess.CSRF) {
			h.renderMessage(w, http.StatusForbidden, msgCSRF)
			return
		}
		if err := h.endSession(w, r, sess); err != nil {
			h.fail(w, err)
			return
		}
		if lr.link != nil {
			web.Audit(ctx, "logout_by_application", "client_id", lr.link.ClientID, "user_id", sess.UserID)
		}
	} else if h.sessionID(r) != "" {
		// A cookie whose session is gone (expired, ended elsewhere) is
		// cleared. Without one nothing is: a cross-site post comes without
		// the cookie (SameSite=Lax), and deleting it then would let any
		// site sign its visitors out without asking them.
		http.SetCookie(w, h.cookies.Make(h.cookies.Session, "", -1))
	}
	shared.Redirect(w, lr.target(), http.StatusSeeOther)
}
