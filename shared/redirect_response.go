package shared

import "net/http"

// Redirect answers status (a 3xx) with Location loc, never cached nor
// leaking a Referer: every redirect of the pages and of the authorization
// responses.
func Redirect(w http.ResponseWriter, loc string, status int) {
	hd := w.Header()
	hd.Set("Location", loc)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
}

// RedirectToClient answers an authorization response (loc: the client's
// redirect URI with the response's parameters) with Redirect: 302 Found
// after a GET, 303 See Other after a POST (a form), so that the browser
// follows with a GET rather than posting the form again.
func RedirectToClient(w http.ResponseWriter, r *http.Request, loc string) {
	status := http.StatusFound
	if r != nil && r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	Redirect(w, loc, status)
}
