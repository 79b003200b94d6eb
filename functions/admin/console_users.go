package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// usersData fills the Users page.
type usersData struct {
	Users  []store.User
	Next   string
	First  bool
	Notice string
	Find   string // the username looked for
	Error  string
}

func (c *consoleReq) users() {
	q := c.r.URL.Query()
	d := usersData{First: c.after() == ""}
	if q.Get("deleted") != "" {
		d.Notice = "The user was deleted, and everything they had authorized was revoked."
	}
	if find := strings.TrimSpace(q.Get("username")); find != "" {
		u, err := c.h.userOp(c.ctx(), find)
		if err == nil {
			c.seeOther(userPath(u.Username, ""))
			return
		}
		if !isNotFound(err) && !isAPINotFound(err) {
			c.fail(err)
			return
		}
		d.Find, d.Error = find, "There is no user named "+find+"."
	}
	users, next, err := c.h.store.ListUsers(c.ctx(), consolePageSize, c.after())
	if err != nil {
		c.fail(cursorError(c.after(), wrapf(err, "list users")))
		return
	}
	d.Users, d.Next = users, next
	render(c, http.StatusOK, "Users", "users", usersPage, d)
}

func isAPINotFound(err error) bool {
	e, ok := err.(*apiError)
	return ok && e.Status == http.StatusNotFound
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func usersPage(b *page.Buffer, d usersData) {
	b.WriteString(`<div class="bar"><h1>Users</h1><a class="button" href="/console/users/new">Create user</a></div>
<p>Users sign in to authorize applications; what an application may do for a user is capped by the user's permissions. Administrators also reach this console.</p>
`)
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	b.WriteString(`<form method="get" action="/console/users" class="find"><label for="find">Find a user by username</label><div class="secret">`)
	b.Fill(`<input type="text" id="find" name="username" value="%s" autocapitalize="none" spellcheck="false"`, d.Find)
	if d.Error != "" {
		b.WriteString(` aria-invalid="true" aria-describedby="find-error"`)
	}
	b.WriteString(`><button type="submit" class="secondary">Find</button></div></form>` + "\n")
	if d.Error != "" {
		b.Fill(`<p class="field-error" id="find-error">%s</p>`+"\n", d.Error)
	}
	if len(d.Users) == 0 {
		if d.First {
			b.WriteString(`<div class="empty"><h2>No users yet</h2><p>Create a user for each person who will sign in. Tick <strong>Administrator</strong> for the people who manage application links.</p><p><a class="button" href="/console/users/new">Create user</a></p></div>` + "\n")
		} else {
			b.WriteString(`<p>There are no more users. <a href="/console/users">Back to the first page</a></p>` + "\n")
		}
		return
	}
	b.WriteString(`<table class="cards"><thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Administrator</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead><tbody>` + "\n")
	for _, u := range d.Users {
		b.Fill(`<tr><td data-label="Username"><a href="%s">%s</a></td><td data-label="Name">%s</td><td data-label="Administrator">%s</td><td data-label="Status">`,
			userPath(u.Username, ""), u.Username, orDash(u.Name), yesNo(u.Admin))
		statusBadge(b, !u.Disabled)
		b.Fill(`</td><td data-label="Created"><time datetime="%s">%s</time></td></tr>`+"\n", page.RFC3339(u.CreatedAt), page.Day(u.CreatedAt))
	}
	b.WriteString("</tbody></table>\n")
	pager(b, consolePrefix+"/users", d.First, d.Next)
}

// userFormData fills the Create user page and a user's page.
type userFormData struct {
	CSRF   string
	User   store.User // the user being edited (Username "" when creating)
	Create bool
	Errs   fieldErrors
	PwErrs fieldErrors // errors of the Set password form
	Table  permTable
	Notice string
	Self   bool // the user is the signed-in administrator
	// Passkeys is the user's Passkeys section (an administrator's, when
	// the console offers passkeys), nil otherwise.
	Passkeys *passkeySection
	// Upstream is where the user comes from and their upstream identity
	// (console_idp.go); shown when Loaded.
	Upstream upstreamSection
	// Activity is the user's Activity section (shown when read: on the
	// page, not on a form's errors).
	Activity activity
	// LockedUntil is until when the sign-in throttle refuses the user
	// (zero: not locked; read on the page only).
	LockedUntil time.Time
}

func (c *consoleReq) newUserForm() {
	render(c, http.StatusOK, "Create user", "users", userFormPage, userFormData{CSRF: c.a.sess.CSRF, Create: true, Table: newPermTable(c.h.cfg.Catalog)})
}

// userFormInput reads the profile, flags and permissions of the user form.
func userFormInput(form url.Values) (userInput, store.User) {
	name, email := form.Get("name"), strings.TrimSpace(form.Get("email"))
	perms := form["permission"]
	isAdmin, disabled, verified := form.Get("admin") == "on", form.Get("disabled") == "on", form.Get("email_verified") == "on"
	in := userInput{Name: &name, Email: &email, Permissions: &perms, Admin: &isAdmin, Disabled: &disabled, EmailVerified: &verified}
	u := store.User{Username: form.Get("username"), Name: name, Email: email, Permissions: perms, Admin: isAdmin, Disabled: disabled, EmailVerified: verified}
	return in, u
}

// userLabel names a field of the user form as the form shows it.
func userLabel(field string) string {
	base, _, _ := strings.Cut(field, "[")
	switch base {
	case "username":
		return "Username"
	case "password":
		return "Password"
	case "name":
		return "Full name"
	case "email":
		return "Email"
	case "email_verified":
		return "Email address verified"
	case "admin":
		return "Administrator"
	case "disabled":
		return "Disabled"
	case "permissions":
		return "Permissions"
	}
	return field
}

// passwordLabel names a field of the Set password form.
func passwordLabel(field string) string {
	switch field {
	case "password":
		return "New password"
	case "current_password":
		return "Your current password"
	}
	return field
}

// userInputs are the user form's inputs, in order, for its error summary.
var userInputs = []formInput{{"username", "username"}, {"password", "password"}, {"name", "name"}, {"email", "email"},
	{"email_verified", "email_verified"}, {"admin", "admin"}, {"disabled", "disabled"}, {"permissions", "permission-fieldset"}}

func (c *consoleReq) createUser() {
	in, u := userFormInput(c.form)
	username, pw := c.form.Get("username"), c.form.Get("password")
	in.Username, in.Password = &username, &pw
	created, err := c.h.createUserOp(c.ctx(), c.a.call(), in)
	if err != nil {
		ps, ok := fieldError(err)
		if !ok {
			if e, isAPI := err.(*apiError); isAPI && e.Status == http.StatusConflict {
				ps, ok = []fieldProblem{{"username", e.Message}}, true
			}
		}
		if ok {
			render(c, http.StatusUnprocessableEntity, "Create user", "users", userFormPage,
				userFormData{CSRF: c.a.sess.CSRF, Create: true, User: u, Errs: plainErrors(ps, userLabel), Table: newPermTable(c.h.cfg.Catalog)})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(userPath(created.Username, "?created=1"))
}

func (c *consoleReq) user() {
	u, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	d := userFormData{CSRF: c.a.sess.CSRF, User: u, Table: newPermTable(c.h.cfg.Catalog), Self: u.Username == c.a.user.Username,
		Upstream: c.userUpstream(u, nil), Activity: c.activityOf(store.EventSubject{Kind: store.EventUser, ID: u.ID}, userPath(u.Username, ""))}
	if d.Passkeys, err = c.passkeySectionOf(u); err != nil {
		c.fail(err)
		return
	}
	if d.LockedUntil, err = c.h.loginLockedUntil(c.ctx(), u.Username); err != nil {
		c.fail(err)
		return
	}
	q := c.r.URL.Query()
	switch {
	case q.Get("linked") != "":
		d.Notice = "The upstream identity was linked. The user's sessions signed in before have ended."
	case q.Get("unlinked") != "":
		d.Notice = "The upstream identity was unlinked. The user's sessions signed in before have ended."
	case q.Get("created") != "":
		d.Notice = "The user was created. They can sign in now."
	case q.Get("updated") != "":
		d.Notice = "Your changes were saved."
	case q.Get("password") != "":
		d.Notice = "The password was set. The user's sessions signed in before have ended."
	case q.Get("unlocked") != "":
		d.Notice = "The user was unlocked: they can sign in again now."
	case q.Get("revoked") != "":
		d.Notice = "Everything the user had authorized was revoked: those applications need the user's approval again."
	case q.Get("passkey") == "added":
		d.Notice = "Your passkey is set up: signing in to the console asks for it after your password."
	case q.Get("passkey") == "removed":
		d.Notice = "The passkey was removed."
	}
	render(c, http.StatusOK, u.Username, "users", userFormPage, d)
}

func (c *consoleReq) updateUser() {
	cur, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	in, u := userFormInput(c.form)
	u.Username, u.CreatedAt, u.UpdatedAt = cur.Username, cur.CreatedAt, cur.UpdatedAt
	if cur.Username == c.a.user.Username && (!*in.Admin || *in.Disabled) {
		// Refused here, not by the API: an administrator who locks
		// themselves out of the console needs another one to get back.
		field := "admin"
		if *in.Disabled {
			field = "disabled"
		}
		render(c, http.StatusUnprocessableEntity, cur.Username, "users", userFormPage, userFormData{CSRF: c.a.sess.CSRF, User: u,
			Errs: fieldErrors{field: "You cannot remove your own administrator flag or disable yourself here: ask another administrator."}, Table: newPermTable(c.h.cfg.Catalog), Self: true})
		return
	}
	if _, err := c.h.updateUserOp(c.ctx(), c.a.call(), cur.Username, in); err != nil {
		if ps, ok := fieldError(err); ok {
			render(c, http.StatusUnprocessableEntity, cur.Username, "users", userFormPage, userFormData{CSRF: c.a.sess.CSRF, User: u, Errs: plainErrors(ps, userLabel),
				Table: newPermTable(c.h.cfg.Catalog), Self: cur.Username == c.a.user.Username})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(userPath(cur.Username, "?updated=1"))
}

func (c *consoleReq) setPassword() {
	cur, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	self := cur.ID == c.a.user.ID
	pw := c.form.Get("new_password")
	// Both fields are checked, so that both errors are said at once; the
	// new password is checked first, as the API would, but nothing is
	// changed unless the current one is right.
	errs := fieldErrors{}
	if err := c.h.validatePassword(pw, cur.Username); err != nil {
		ps, ok := fieldError(err)
		if !ok {
			c.fail(err)
			return
		}
		errs = plainErrors(ps, passwordLabel)
	}
	if self {
		// One's own password changes only with the current one (ASVS
		// V2.1.5): a session left open is not enough to take the account.
		ok, err := c.h.checkPassword(c.r, c.a.user, c.form.Get("current_password"))
		if err != nil {
			c.fail(err)
			return
		}
		if !ok {
			errs["current_password"] = "Your current password is not right: nothing was changed."
		}
	}
	if len(errs) == 0 {
		if _, err := c.h.updateUserOp(c.ctx(), c.a.call(), cur.Username, userInput{Password: &pw}); err != nil {
			ps, ok := fieldError(err)
			if !ok {
				c.fail(err)
				return
			}
			errs = plainErrors(ps, passwordLabel)
		}
	}
	if len(errs) > 0 {
		render(c, http.StatusUnprocessableEntity, cur.Username, "users", userFormPage, userFormData{CSRF: c.a.sess.CSRF, User: cur, PwErrs: errs,
			Table: newPermTable(c.h.cfg.Catalog), Self: self})
		return
	}
	c.seeOther(userPath(cur.Username, "?password=1"))
}

func (c *consoleReq) revokeUserGrants() {
	if err := c.h.revokeUserGrantsOp(c.ctx(), c.a.call(), c.param(0)); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(userPath(c.param(0), "?revoked=1"))
}

func (c *consoleReq) unlockUser() {
	if err := c.h.unlockUserOp(c.ctx(), c.a.call(), c.param(0)); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(userPath(c.param(0), "?unlocked=1"))
}

func (c *consoleReq) deleteUserForm() {
	u, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	if u.ID == c.a.user.ID {
		c.h.consoleMessage(c.w, c.a, http.StatusConflict, consoleMsg{Title: "Not possible", Text: "You cannot delete your own account while signed in with it. Ask another administrator.", Link: userPath(u.Username, ""), LinkText: "Back to " + u.Username})
		return
	}
	render(c, http.StatusOK, "Delete "+u.Username, "users", deletePage, deleteData{
		CSRF: c.a.sess.CSRF, Action: userPath(u.Username, "/delete"), Cancel: userPath(u.Username, ""),
		Title:  "Delete the user " + u.Username + "?",
		Text:   "Deleting " + u.Username + " ends their sessions and revokes everything they authorized: every application acting for them stops at once. A new user of the same name would be a different person to every application. This cannot be undone.",
		Button: "Delete " + u.Username,
	})
}

func (c *consoleReq) deleteUser() {
	u, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	if u.ID == c.a.user.ID {
		c.h.consoleMessage(c.w, c.a, http.StatusConflict, consoleMsg{Title: "Not possible", Text: "You cannot delete your own account while signed in with it."})
		return
	}
	if err := c.h.deleteUserOp(c.ctx(), c.a.call(), u.Username); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(consolePrefix + "/users?deleted=1")
}

func checkbox(b *page.Buffer, id, label, hint string, on bool, errs fieldErrors) {
	chk := ""
	if on {
		chk = " checked"
	}
	b.Fill(`<label class="check"><input type="checkbox" id="%s" name="%s"`+chk+inputAttrs(errs, id, id)+`> <span><strong>%s</strong>`, id, id, label)
	if hint != "" {
		b.Fill(`<br><span class="small">%s</span>`, hint)
	}
	b.WriteString("</span></label>\n")
	writeFieldError(b, errs, id, id)
}

func userFormPage(b *page.Buffer, d userFormData) {
	u := d.User
	action := consolePrefix + "/users/new"
	if d.Create {
		b.WriteString(`<p class="small"><a href="/console/users">Users</a> ›</p><h1>Create user</h1>` + "\n")
	} else {
		action = userPath(u.Username, "")
		b.Fill(`<p class="small"><a href="/console/users">Users</a> ›</p>
<div class="bar"><h1>%s</h1>`, u.Username)
		if !d.Self {
			b.Fill(`<a class="button danger" href="%s">Delete user</a>`, userPath(u.Username, "/delete"))
		}
		b.WriteString("</div>\n")
		if d.Notice != "" {
			b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
		}
		b.Fill(`<p class="small">Created <time datetime="%s">%s</time>, last changed <time datetime="%s">%s</time>.</p>`+"\n",
			page.RFC3339(u.CreatedAt), page.Day(u.CreatedAt), page.RFC3339(u.UpdatedAt), page.Day(u.UpdatedAt))
		if !d.LockedUntil.IsZero() {
			b.Fill(`<div class="locked"><p><strong>Locked after too many failed sign-ins</strong></p>
<p>Sign-ins as %s are refused until <time datetime="%s">%s</time>. Unlock if you know the failures were theirs.</p>
`, u.Username, page.RFC3339(d.LockedUntil), page.Day(d.LockedUntil))
			postButton(b, userPath(u.Username, "/unlock"), d.CSRF, "Unlock", "")
			b.WriteString("</div>\n")
		}
	}
	errorSummary(b, d.Errs, userInputs)
	b.Fill(`<form method="post" action="%s" novalidate>`+"\n", action)
	csrfInput(b, d.CSRF)
	if d.Create {
		b.Fill(`<label for="username">Username</label>
<input type="text" id="username" name="username" value="%s" autocomplete="off" autocapitalize="none" spellcheck="false" required`, u.Username)
		b.WriteString(inputAttrs(d.Errs, "username", "username") + ">\n")
		b.WriteString(`<p class="hint">Letters, digits and . _ @ - only, up to 100 characters. It cannot be changed later.</p>` + "\n")
		writeFieldError(b, d.Errs, "username", "username")
		b.WriteString(`<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required` + inputAttrs(d.Errs, "password", "password") + ">\n")
		b.WriteString(`<p class="hint">At least 8 characters, not easy to guess. Give it to the user in person or over a channel you trust.</p>` + "\n")
		writeFieldError(b, d.Errs, "password", "password")
		if len(d.Errs) > 0 && d.Errs["password"] == "" {
			b.WriteString(`<p class="hint">A password is never shown again: type it once more.</p>` + "\n")
		}
	}
	b.Fill(`<label for="name">Full name</label>
<input type="text" id="name" name="name" value="%s" autocomplete="off"`, u.Name)
	b.WriteString(inputAttrs(d.Errs, "name", "name") + ">\n")
	writeFieldError(b, d.Errs, "name", "name")
	b.Fill(`<label for="email">Email</label>
<input type="email" id="email" name="email" value="%s" autocomplete="off" autocapitalize="none" spellcheck="false"`, u.Email)
	b.WriteString(inputAttrs(d.Errs, "email", "email") + ">\n")
	writeFieldError(b, d.Errs, "email", "email")
	checkbox(b, "email_verified", "Email address verified", "Applications may rely on it (the email_verified claim).", u.EmailVerified, d.Errs)
	b.WriteString("<fieldset><legend>Access</legend>\n")
	if !store.CreatedBySignIn(u.ID) || d.Create {
		// A user an upstream sign-in created can never be one.
		checkbox(b, "admin", "Administrator", "Can open this console: create and change application links, users and signing keys.", u.Admin, d.Errs)
	}
	checkbox(b, "disabled", "Disabled", "Cannot sign in; applications acting for the user stop working.", u.Disabled, d.Errs)
	b.WriteString("</fieldset>\n")
	writePermTable(b, d.Table, "permission", "Permissions", u.Permissions, elementErrors(d.Errs, "permissions"))
	b.WriteString(`<p class="hint">An application never gets more than the user's permissions, whatever its link allows. Lowered permissions apply at the application's next token refresh.</p>` + "\n")
	if d.Create {
		b.WriteString(`<button type="submit">Create user</button> <a href="/console/users">Cancel</a>` + "\n</form>\n")
		return
	}
	b.WriteString(`<button type="submit">Save</button>` + "\n</form>\n")
	if d.Upstream.Loaded {
		writeUpstreamSection(b, u.Username, d.CSRF, d.Upstream)
	}

	b.WriteString(`<h2 id="set-password">Set a password</h2>` + "\n")
	errorSummary(b, d.PwErrs, []formInput{{"current_password", "current_password"}, {"password", "new_password"}})
	b.Fill(`<form method="post" action="%s" novalidate>`+"\n", userPath(u.Username, "/password"))
	csrfInput(b, d.CSRF)
	if d.Self {
		b.WriteString(`<label for="current_password">Your current password</label>
<input type="password" id="current_password" name="current_password" autocomplete="current-password" required` + inputAttrs(d.PwErrs, "current_password", "current_password") + ">\n")
		writeFieldError(b, d.PwErrs, "current_password", "current_password")
	}
	b.WriteString(`<label for="new_password">New password</label>
<input type="password" id="new_password" name="new_password" autocomplete="new-password" required` + inputAttrs(d.PwErrs, "password", "new_password") + ">\n")
	writeFieldError(b, d.PwErrs, "password", "new_password")
	b.WriteString(`<p class="hint">The user's sessions end; they sign in with the new password.</p>
<button type="submit" class="secondary">Set password</button>
</form>
<h2>Revoke everything the user authorized</h2>
<p>Every application acting for this user loses access at once: their tokens stop working, and each application needs the user's approval again. The user stays and can still sign in.</p>
`)
	postButton(b, userPath(u.Username, "/revoke"), d.CSRF, "Revoke all authorizations of "+u.Username, "secondary")
	writePasskeySection(b, d.Passkeys)
	activitySection(b, d.Activity)
}

// keysData fills the Signing keys page.
type keysData struct {
	CSRF    string
	Keys    []signing.KeyInfo
	None    bool // no key set yet
	Notice  string
	Keep    time.Duration
	Issuer  string
	Pending bool
	// AccessAlg is the algorithm that signs access tokens (RS256 without a
	// key set): the rotation form's default.
	AccessAlg string
	Errs      fieldErrors
}

func (c *consoleReq) keys() {
	c.renderKeys(http.StatusOK, nil)
}

// renderKeys renders the Signing keys page with status, and errs on its
// rotation form.
func (c *consoleReq) renderKeys(status int, errs fieldErrors) {
	d := keysData{CSRF: c.a.sess.CSRF, Keep: c.h.cfg.AccessTokenTTL + keyOverlap, Issuer: c.h.cfg.Issuer,
		AccessAlg: signing.RS256, Errs: errs}
	doc, err := c.h.store.GetSigningKeys(c.ctx())
	switch {
	case isNotFound(err):
		d.None = true
	case err != nil:
		c.fail(wrapf(err, "get signing keys"))
		return
	default:
		if d.Keys, err = signing.Describe(doc, c.h.now()); err != nil {
			c.fail(err)
			return
		}
	}
	for _, k := range d.Keys {
		switch {
		case k.State == "next":
			d.Pending = true
		case k.State == "current" && k.AccessTokens:
			d.AccessAlg = k.Alg
		}
	}
	if c.r.URL.Query().Get("rotated") != "" {
		d.Notice = "A new key was published. It starts signing in 10 minutes, once every copy of the key set has it."
	}
	render(c, status, "Signing keys", "keys", keysPage, d)
}

// keyAlgChoices are the algorithms the rotation form offers.
var keyAlgChoices = []struct{ alg, label, hint string }{
	{signing.RS256, "RS256 (RSA, 2048 bits)", "What every OAuth and OpenID Connect library accepts; RFC 9068 asks every server to support it."},
	{signing.ES256, "ES256 (ECDSA, P-256)", "About ten times cheaper to sign, with shorter tokens; check that your resource servers accept it first."},
}

func keysPage(b *page.Buffer, d keysData) {
	b.Fill(`<h1>Signing keys</h1>
<p>Access tokens are signed with the key marked "access tokens". ID tokens are signed with RS256, or with ES256 for the links that ask for it. Applications and resource servers verify them with the public keys at <code>%s</code>. A rotation publishes a new key at once, lets it sign 10 minutes later, and keeps the old one verifying until every token it signed has expired.</p>
`, d.Issuer+"/.well-known/jwks.json")
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	if d.None {
		b.WriteString(`<div class="empty"><h2>No signing key yet</h2><p>The provider creates its first keys when it first issues a token. You can also rotate now to create them.</p></div>` + "\n")
	} else {
		b.WriteString(`<table class="cards"><thead><tr><th scope="col">Key ID</th><th scope="col">Algorithm</th><th scope="col">State</th><th scope="col">When</th></tr></thead><tbody>` + "\n")
		for _, k := range d.Keys {
			b.Fill(`<tr><td data-label="Key ID"><code>%s</code></td><td data-label="Algorithm">%s</td><td data-label="State">`, k.KeyID, k.Alg)
			switch k.State {
			case "current":
				b.WriteString(`<span class="status on">Signing</span></td><td data-label="When">`)
				if k.AccessTokens {
					b.Fill("Signs access tokens and %s ID tokens", k.Alg)
				} else {
					b.Fill("Signs %s ID tokens", k.Alg)
				}
				if !k.RetireAfter.IsZero() {
					b.Fill(` until the next key signs; verifies until <time datetime="%s">%s</time>`, page.RFC3339(k.RetireAfter), page.Day(k.RetireAfter))
				} else if !k.ActiveFrom.IsZero() {
					b.Fill(`, since <time datetime="%s">%s</time>`, page.RFC3339(k.ActiveFrom), page.Day(k.ActiveFrom))
				}
			case "next":
				what := k.Alg + " ID tokens"
				if k.AccessTokens {
					what = "access tokens and " + what
				}
				b.Fill(`<span class="status info">Next</span></td><td data-label="When">Signs %s from <time datetime="%s">%s</time>`, what, page.RFC3339(k.ActiveFrom), page.Day(k.ActiveFrom))
			default:
				b.Fill(`<span class="status off">Retired</span></td><td data-label="When">Verifies until <time datetime="%s">%s</time>`, page.RFC3339(k.RetireAfter), page.Day(k.RetireAfter))
			}
			b.WriteString("</td></tr>\n")
		}
		b.WriteString("</tbody></table>\n")
	}
	b.WriteString("<h2>Rotate</h2>\n")
	if d.Pending {
		b.WriteString("<p>A rotation is already pending: you can rotate again once the next key signs.</p>\n")
		return
	}
	b.Fill(`<p>Rotate when a key may have leaked, or on your schedule. The new key signs access tokens. Tokens already issued keep working until they expire; the old key of the same algorithm stays published for %s.</p>
`, humanDuration(d.Keep))
	errorSummary(b, d.Errs, []formInput{{"alg", "alg-" + d.AccessAlg}})
	b.Fill(`<form method="post" action="%s">`+"\n", consolePrefix+"/keys/rotate")
	csrfInput(b, d.CSRF)
	b.WriteString("<fieldset><legend>Algorithm of the new key</legend>\n")
	writeFieldError(b, d.Errs, "alg", "alg-"+d.AccessAlg)
	for _, a := range keyAlgChoices {
		chk := ""
		if a.alg == d.AccessAlg {
			chk = " checked"
		}
		b.Fill(`<label class="radio"><input type="radio" id="alg-%s" name="alg" value="%s"`+chk+`> <span><strong>%s</strong><br><span class="small">%s</span></span></label>`+"\n",
			a.alg, a.alg, a.label, a.hint)
	}
	b.WriteString("</fieldset>\n<button type=\"submit\">Rotate signing key</button>\n</form>\n")
}

func (c *consoleReq) rotateKey() {
	alg := c.form.Get("alg")
	if alg != "" && !signing.Supported(alg) {
		c.renderKeys(http.StatusUnprocessableEntity, fieldErrors{"alg": "Choose RS256 or ES256 as the algorithm of the new key."})
		return
	}
	if _, err := c.h.rotateSigningKeyOp(c.ctx(), c.w, c.a.call(), alg); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(consolePrefix + "/keys?rotated=1")
}

// humanDuration is d in words: "1 hour 5 minutes", "90 days".
func humanDuration(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if n := d / u.d; n > 0 {
			w := strconv.FormatInt(int64(n), 10) + " " + u.name
			if n > 1 {
				w += "s"
			}
			parts = append(parts, w)
			d -= n * u.d
		}
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " ")
}

// orDash is s, or a dash for an empty value in a table.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
