package admin

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// The console's identity providers: list, create, edit, enable and
// disable (every change asks for a fresh confirmation), and on a user's
// page where the user comes from and which upstream identity is linked,
// with link and unlink (confirmed too).
//
//	GET  /console/identity-providers
//	GET  /console/identity-providers/new, POST          (confirmed)
//	GET  /console/identity-providers/{id}
//	GET  /console/identity-providers/{id}/edit, POST    (confirmed)
//	POST /console/identity-providers/{id}/enable        (confirmed)
//	POST /console/identity-providers/{id}/disable       (confirmed)
//	POST /console/users/{u}/upstream                    link (confirmed)
//	POST /console/users/{u}/upstream/unlink             (confirmed)

const idpSection = "idps"

// idpRoutes are the console routes of this file.
func idpRoutes() []consoleRoute {
	back := func(params []string) string { return idpPath(params[0], "") }
	return []consoleRoute{
		{path: consolePrefix + "/identity-providers", get: (*consoleReq).idpList},
		{path: consolePrefix + "/identity-providers/new", get: (*consoleReq).idpNewForm, post: (*consoleReq).idpCreate, confirm: true},
		{path: consolePrefix + "/identity-providers/{id}", get: (*consoleReq).idpShow},
		{path: consolePrefix + "/identity-providers/{id}/edit", get: (*consoleReq).idpEditForm, post: (*consoleReq).idpEdit, confirm: true},
		{path: consolePrefix + "/identity-providers/{id}/enable", post: func(c *consoleReq) { c.idpSetEnabled(true) }, confirm: true, backTo: back},
		{path: consolePrefix + "/identity-providers/{id}/disable", post: func(c *consoleReq) { c.idpSetEnabled(false) }, confirm: true, backTo: back},
		{path: consolePrefix + "/users/{username}/upstream", post: (*consoleReq).userLink, confirm: true, backTo: userBack},
		{path: consolePrefix + "/users/{username}/upstream/unlink", post: (*consoleReq).userUnlink, confirm: true, backTo: userBack},
	}
}

func idpPath(id, suffix string) string {
	return consolePrefix + "/identity-providers/" + url.PathEscape(id) + suffix
}

// consoleProviderButtons writes a link per provider (verb + name), and
// "or" before a password form when there is one.
func consoleProviderButtons(b *page.Buffer, ps []consoleProvider, verb string, password bool) {
	if len(ps) == 0 {
		return
	}
	b.WriteString(`<ul class="providers">` + "\n")
	for _, p := range ps {
		b.Fill(`<li><a class="button provider" href="%s">%s</a></li>`+"\n", p.Href, verb+p.Name)
	}
	b.WriteString("</ul>\n")
	if password {
		b.WriteString(`<p class="divider"><span>or with your password</span></p>` + "\n")
	}
}

// idpListData fills the Identity providers page.
type idpListData struct {
	Providers []store.IdentityProvider
	Redirect  string
}

func (c *consoleReq) idpList() {
	ps, err := c.h.listIdentityProvidersOp(c.ctx())
	if err != nil {
		c.fail(err)
		return
	}
	render(c, http.StatusOK, "Identity providers", idpSection, idpListPage, idpListData{Providers: ps, Redirect: c.h.cfg.Issuer + upstreamCallback})
}

func idpListPage(b *page.Buffer, d idpListData) {
	b.WriteString(`<div class="bar"><h1>Identity providers</h1><a class="button" href="/console/identity-providers/new">Add identity provider</a></div>
<p>People can sign in through your organisation's identity provider (Okta, Microsoft Entra ID, Keycloak, or any OpenID Provider) instead of with a password here. Each one enabled is a <strong>Continue with</strong> button on the sign-in pages.</p>
`)
	if len(d.Providers) == 0 {
		b.Fill(`<div class="empty"><h2>No identity provider yet</h2><p>Register this provider at yours as a web application with the redirect URI <code>%s</code>, then add it here with its issuer, client ID and client secret.</p><p><a class="button" href="/console/identity-providers/new">Add identity provider</a></p></div>`+"\n", d.Redirect)
		return
	}
	b.WriteString(`<table class="cards"><thead><tr><th scope="col">Name</th><th scope="col">Issuer</th><th scope="col">New users</th><th scope="col">Status</th></tr></thead><tbody>` + "\n")
	for _, p := range d.Providers {
		b.Fill(`<tr><td data-label="Name"><a href="%s">%s</a></td><td data-label="Issuer"><code>%s</code></td><td data-label="New users">%s</td><td data-label="Status">`,
			idpPath(p.ID, ""), p.Name, p.Issuer, createUsersText(p.CreateUsers))
		statusBadge(b, p.Enabled)
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</tbody></table>\n")
}

func createUsersText(on bool) string {
	if on {
		return "Created at their first sign-in"
	}
	return "Only users linked by an administrator"
}

// idpFormData fills the create and edit forms.
type idpFormData struct {
	CSRF     string
	P        store.IdentityProvider
	Create   bool
	Errs     fieldErrors
	MapText  string // permission_map, one "value = SCOPE SCOPE" per line
	Redirect string
}

func (c *consoleReq) idpNewForm() {
	p := store.IdentityProvider{Scopes: DefaultUpstreamScopes, UsernameClaim: "preferred_username", Enabled: true}
	render(c, http.StatusOK, "Add identity provider", idpSection, idpFormPage, idpFormData{CSRF: c.a.sess.CSRF, P: p, Create: true, Redirect: c.h.cfg.Issuer + upstreamCallback})
}

// idpFormInput reads the provider form: one scope, domain or mapping per
// line or space.
func idpFormInput(form url.Values, create bool) (idpInput, store.IdentityProvider, string) {
	name, clientID := form.Get("name"), strings.TrimSpace(form.Get("client_id"))
	scopes := strings.Fields(form.Get("scopes"))
	domains := strings.Fields(strings.ReplaceAll(form.Get("email_domains"), ",", " "))
	usernameClaim, permsClaim := strings.TrimSpace(form.Get("username_claim")), strings.TrimSpace(form.Get("permissions_claim"))
	createUsers := form.Get("create_users") == "on"
	mapText := form.Get("permission_map")
	pm := map[string][]string{}
	for _, line := range strings.Split(mapText, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			continue
		}
		pm[k] = append(pm[k], strings.Fields(v)...)
	}
	in := idpInput{Name: &name, ClientID: &clientID, Scopes: &scopes, EmailDomains: &domains, UsernameClaim: &usernameClaim,
		PermissionsClaim: &permsClaim, CreateUsers: &createUsers, PermissionMap: &pm}
	if s := form.Get("client_secret"); s != "" || create {
		in.ClientSecret = &s
	}
	p := store.IdentityProvider{Name: name, ClientID: clientID, Scopes: scopes, EmailDomains: domains, UsernameClaim: usernameClaim,
		PermissionsClaim: permsClaim, CreateUsers: createUsers, PermissionMap: pm}
	if create {
		iss := strings.TrimSpace(form.Get("issuer"))
		in.Issuer, p.Issuer = &iss, iss
		enabled := true
		in.Enabled, p.Enabled = &enabled, true
	}
	return in, p, mapText
}

func mapText(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + " = " + strings.Join(m[k], " ") + "\n")
	}
	return b.String()
}

// idpLabelOf names the fields of the identity provider form as the form
// shows them, an element of a list by its value as typed (p).
func idpLabelOf(p store.IdentityProvider) func(string) string {
	return func(field string) string {
		n, ok := elementIndex(field)
		switch {
		case ok && strings.HasPrefix(field, "email_domains[") && n < len(p.EmailDomains):
			return `The email domain "` + p.EmailDomains[n] + `"`
		case ok && strings.HasPrefix(field, "scopes[") && n < len(p.Scopes):
			return `The scope "` + p.Scopes[n] + `"`
		}
		return idpLabel(field)
	}
}

// idpLabel names a field of the identity provider form as the form shows
// it.
func idpLabel(field string) string {
	if k, ok := strings.CutPrefix(field, "permission_map["); ok {
		k, _, _ = strings.Cut(k, "]")
		if v, err := strconv.Unquote(k); err == nil {
			k = v
		}
		return "The line for " + k + " in the permission map"
	}
	base, _, _ := strings.Cut(field, "[")
	switch base {
	case "name":
		return "Name"
	case "issuer":
		return "Issuer"
	case "client_id":
		return "Client ID"
	case "client_secret":
		return "Client secret"
	case "scopes":
		return "Scopes"
	case "username_claim":
		return "Username claim"
	case "email_domains":
		return "Email domains"
	case "permissions_claim":
		return "Permissions claim"
	case "permission_map":
		return "Permission map"
	}
	return field
}

// idpInputs are the identity provider form's inputs, in order, for its
// error summary.
var idpInputs = []formInput{{"name", "name"}, {"issuer", "issuer"}, {"client_id", "client_id"}, {"client_secret", "client_secret"},
	{"scopes", "scopes"}, {"username_claim", "username_claim"}, {"email_domains", "email_domains"},
	{"permissions_claim", "permissions_claim"}, {"permission_map", "permission_map"}}

func (c *consoleReq) idpCreate() {
	in, p, text := idpFormInput(c.form, true)
	created, err := c.h.createIdentityProviderOp(c.ctx(), c.a.call(), in)
	if err != nil {
		ps, ok := fieldError(err)
		if !ok {
			if e, isAPI := err.(*apiError); isAPI && e.Status == http.StatusConflict {
				ps, ok = []fieldProblem{{"issuer", e.Message}}, true
			}
		}
		if ok {
			render(c, http.StatusUnprocessableEntity, "Add identity provider", idpSection, idpFormPage,
				idpFormData{CSRF: c.a.sess.CSRF, P: p, Create: true, Errs: plainErrors(ps, idpLabelOf(p)), MapText: text, Redirect: c.h.cfg.Issuer + upstreamCallback})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(idpPath(created.ID, "?created=1"))
}

// idpShowData fills a provider's page.
type idpShowData struct {
	CSRF     string
	P        store.IdentityProvider
	Redirect string
	Notice   string
}

func (c *consoleReq) idpShow() {
	p, err := c.h.identityProviderOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	d := idpShowData{CSRF: c.a.sess.CSRF, P: p, Redirect: c.h.cfg.Issuer + upstreamCallback}
	switch q := c.r.URL.Query(); {
	case q.Get("created") != "":
		d.Notice = "The identity provider was added: its discovery document answered. People see Continue with " + p.Name + " on the sign-in pages."
	case q.Get("updated") != "":
		d.Notice = "Your changes were saved."
	case q.Get("enabled") != "":
		d.Notice = "The identity provider is enabled: people can sign in through it."
	case q.Get("disabled") != "":
		d.Notice = "The identity provider is disabled: it is no longer offered, and sign-ins through it are refused."
	}
	render(c, http.StatusOK, p.Name, idpSection, idpShowPage, d)
}

func idpShowPage(b *page.Buffer, d idpShowData) {
	p := d.P
	b.Fill(`<p class="small"><a href="/console/identity-providers">Identity providers</a> ›</p>
<div class="bar"><h1>%s</h1><a class="button secondary" href="%s">Edit</a></div>
`, p.Name, idpPath(p.ID, "/edit"))
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	b.WriteString(`<dl class="settings">` + "\n")
	b.WriteString("<dt>Status</dt><dd>")
	statusBadge(b, p.Enabled)
	b.WriteString("</dd>\n")
	b.Fill("<dt>Issuer</dt><dd><code>%s</code></dd>\n", p.Issuer)
	b.Fill("<dt>Client ID</dt><dd><code>%s</code></dd>\n", p.ClientID)
	b.WriteString("<dt>Client secret</dt><dd>Kept in AWS Secrets Manager; never shown. Edit to replace it.</dd>\n")
	b.Fill("<dt>Redirect URI to register</dt><dd><code>%s</code></dd>\n", d.Redirect)
	b.Fill("<dt>Scopes asked for</dt><dd>%s</dd>\n", strings.Join(p.Scopes, " "))
	b.Fill("<dt>Username from the claim</dt><dd><code>%s</code></dd>\n", p.UsernameClaim)
	b.Fill("<dt>New users</dt><dd>%s</dd>\n", createUsersText(p.CreateUsers))
	domains := "Any"
	if len(p.EmailDomains) > 0 {
		domains = "Only verified emails at " + strings.Join(p.EmailDomains, ", ")
	}
	b.Fill("<dt>Email domains</dt><dd>%s</dd>\n", domains)
	if p.PermissionsClaim != "" {
		b.Fill("<dt>Permissions from the claim</dt><dd><code>%s</code></dd>\n", p.PermissionsClaim)
	}
	if len(p.PermissionMap) > 0 {
		b.WriteString("<dt>Permission map</dt><dd><ul>")
		keys := make([]string, 0, len(p.PermissionMap))
		for k := range p.PermissionMap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.Fill("<li><code>%s</code> → %s</li>", k, strings.Join(p.PermissionMap[k], " "))
		}
		b.WriteString("</ul></dd>\n")
	}
	b.WriteString("</dl>\n")
	if p.Enabled {
		b.WriteString("<h2>Disable</h2>\n<p>A disabled provider is no longer offered, and sign-ins through it are refused. Users linked through it keep their link.</p>\n")
		postButton(b, idpPath(p.ID, "/disable"), d.CSRF, "Disable "+p.Name, "danger")
	} else {
		b.WriteString("<h2>Enable</h2>\n")
		postButton(b, idpPath(p.ID, "/enable"), d.CSRF, "Enable "+p.Name, "")
	}
}

func (c *consoleReq) idpEditForm() {
	p, err := c.h.identityProviderOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	render(c, http.StatusOK, "Edit "+p.Name, idpSection, idpFormPage, idpFormData{CSRF: c.a.sess.CSRF, P: p, MapText: mapText(p.PermissionMap), Redirect: c.h.cfg.Issuer + upstreamCallback})
}

func (c *consoleReq) idpEdit() {
	cur, err := c.h.identityProviderOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	in, p, text := idpFormInput(c.form, false)
	p.ID, p.Issuer, p.Enabled = cur.ID, cur.Issuer, cur.Enabled
	if _, err := c.h.updateIdentityProviderOp(c.ctx(), c.a.call(), cur.ID, in); err != nil {
		if ps, ok := fieldError(err); ok {
			render(c, http.StatusUnprocessableEntity, "Edit "+cur.Name, idpSection, idpFormPage,
				idpFormData{CSRF: c.a.sess.CSRF, P: p, Errs: plainErrors(ps, idpLabelOf(p)), MapText: text, Redirect: c.h.cfg.Issuer + upstreamCallback})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(idpPath(cur.ID, "?updated=1"))
}

func (c *consoleReq) idpSetEnabled(on bool) {
	if _, err := c.h.updateIdentityProviderOp(c.ctx(), c.a.call(), c.param(0), idpInput{Enabled: &on}); err != nil {
		c.fail(err)
		return
	}
	if on {
		c.seeOther(idpPath(c.param(0), "?enabled=1"))
	} else {
		c.seeOther(idpPath(c.param(0), "?disabled=1"))
	}
}

// textField writes a labelled one-line input with its hint and error.
// The errors of the field's elements ("email_domains[1]") are shown
// under it too.
func textField(b *page.Buffer, errs fieldErrors, field, id, label, value, hint, extra string) {
	b.Fill(`<label for="%s">%s</label>
<input type="text" id="%s" name="%s" value="%s" autocomplete="off" autocapitalize="none" spellcheck="false"`, id, label, id, id, value)
	all := fieldErrors{field: elementErrors(errs, field)}
	b.WriteString(extra + inputAttrs(all, field, id) + ">\n")
	if hint != "" {
		b.Fill(`<p class="hint">%s</p>`+"\n", hint)
	}
	writeFieldError(b, all, field, id)
}

func idpFormPage(b *page.Buffer, d idpFormData) {
	p := d.P
	action := consolePrefix + "/identity-providers/new"
	if d.Create {
		b.WriteString(`<p class="small"><a href="/console/identity-providers">Identity providers</a> ›</p><h1>Add identity provider</h1>` + "\n")
		b.Fill(`<p>First register this provider at yours as a web application (confidential client, authorization code flow) with the redirect URI <code>%s</code>. Then enter what it gave you. Saving checks its discovery document.</p>`+"\n", d.Redirect)
	} else {
		action = idpPath(p.ID, "/edit")
		b.Fill(`<p class="small"><a href="/console/identity-providers">Identity providers</a> › <a href="%s">%s</a> ›</p><h1>Edit %s</h1>`+"\n", idpPath(p.ID, ""), p.Name, p.Name)
	}
	errorSummary(b, d.Errs, idpInputs)
	b.Fill(`<form method="post" action="%s" novalidate>`+"\n", action)
	csrfInput(b, d.CSRF)
	textField(b, d.Errs, "name", "name", "Name", p.Name, "Shown on the sign-in pages as Continue with <name>.", " required")
	if d.Create {
		textField(b, d.Errs, "issuer", "issuer", "Issuer", p.Issuer, "The issuer URL, e.g. https://example.okta.com, https://login.microsoftonline.com/<tenant>/v2.0 or https://keycloak.example.com/realms/<realm>. It cannot be changed later.", ` inputmode="url" required`)
	} else {
		b.Fill(`<p><strong>Issuer</strong><br><code>%s</code></p>`+"\n", p.Issuer)
	}
	textField(b, d.Errs, "client_id", "client_id", "Client ID", p.ClientID, "", " required")
	secretHint := "Kept in AWS Secrets Manager and never shown again."
	if !d.Create {
		secretHint = "Leave empty to keep the current secret; it is never shown."
	}
	b.WriteString(`<label for="client_secret">Client secret</label>
<input type="password" id="client_secret" name="client_secret" autocomplete="off"` + inputAttrs(d.Errs, "client_secret", "client_secret") + ">\n")
	b.Fill(`<p class="hint">%s</p>`+"\n", secretHint)
	writeFieldError(b, d.Errs, "client_secret", "client_secret")
	if d.Create && len(d.Errs) > 0 && d.Errs["client_secret"] == "" {
		b.WriteString(`<p class="hint">A secret is never shown again: type it once more.</p>` + "\n")
	}
	textField(b, d.Errs, "scopes", "scopes", "Scopes", strings.Join(p.Scopes, " "), "Separated by spaces; openid is required.", "")
	textField(b, d.Errs, "username_claim", "username_claim", "Username claim", p.UsernameClaim, "The claim a new user's username comes from (preferred_username, email, upn...).", "")
	b.WriteString("<fieldset><legend>Who may sign in</legend>\n")
	checkbox(b, "create_users", "Create users at their first sign-in", "Otherwise only people an administrator linked to a user beforehand may sign in. A created user has no permissions, no password, and can never be an administrator.", p.CreateUsers, d.Errs)
	textField(b, d.Errs, "email_domains", "email_domains", "Email domains", strings.Join(p.EmailDomains, " "), "Optional, separated by spaces: only people whose verified email is in one of these domains may sign in.", "")
	b.WriteString("</fieldset>\n<fieldset><legend>Permissions from claims</legend>\n")
	b.WriteString(`<p class="hint">Used when PERMISSION_SOURCE is claims: at each sign-in, the values of the claim become the permissions listed for them.</p>` + "\n")
	textField(b, d.Errs, "permissions_claim", "permissions_claim", "Permissions claim", p.PermissionsClaim, "For example groups or roles.", "")
	mapErr := elementErrors(d.Errs, "permission_map")
	b.WriteString(`<label for="permission_map">Permission map</label>
<textarea id="permission_map" name="permission_map" rows="4" autocapitalize="none" spellcheck="false"`)
	if mapErr != "" {
		b.WriteString(` aria-invalid="true" aria-describedby="permission_map-error"`)
	}
	b.Fill(`>%s</textarea>
<p class="hint">One claim value per line: <code>developers = REPO_WRITE</code>, <code>admins = REPO_ADMIN PROJECT_ADMIN</code>.</p>
`, d.MapText)
	if mapErr != "" {
		b.Fill(`<p class="field-error" id="permission_map-error">%s</p>`+"\n", mapErr)
	}
	b.WriteString("</fieldset>\n")
	if d.Create {
		b.WriteString(`<button type="submit">Add identity provider</button> <a href="/console/identity-providers">Cancel</a>` + "\n</form>\n")
		return
	}
	b.Fill(`<button type="submit">Save</button> <a href="%s">Cancel</a>`+"\n</form>\n", idpPath(p.ID, ""))
}

// upstreamSection is what a user's page shows of where the user comes from
// and their upstream identity, with the forms to link and unlink.
type upstreamSection struct {
	Loaded          bool
	CreatedBySignIn bool
	Identity        *store.UpstreamIdentity
	ProviderName    string // of Identity, "" when the provider is gone
	Providers       []store.IdentityProvider
	Errs            fieldErrors
}

// userUpstream reads what the user page needs of u's upstream side.
func (c *consoleReq) userUpstream(u store.User, errs fieldErrors) upstreamSection {
	s := upstreamSection{Loaded: true, CreatedBySignIn: store.CreatedBySignIn(u.ID), Identity: u.Upstream, Errs: errs}
	ps, err := c.h.listIdentityProvidersOp(c.ctx())
	if err != nil {
		return s
	}
	s.Providers = ps
	for _, p := range ps {
		if u.Upstream != nil && p.ID == u.Upstream.ProviderID {
			s.ProviderName = p.Name
		}
	}
	return s
}

// writeUpstreamSection writes the user page's "Sign-in" section.
func writeUpstreamSection(b *page.Buffer, username, csrf string, s upstreamSection) {
	b.WriteString(`<h2 id="sign-in">Where the user comes from</h2>` + "\n")
	if s.CreatedBySignIn {
		b.WriteString("<p>Created at their first sign-in through an identity provider. Such a user has no password here and can never be an administrator.</p>\n")
	} else {
		b.WriteString("<p>Created by an administrator.</p>\n")
	}
	if s.Identity != nil {
		name := s.ProviderName
		if name == "" {
			name = "a provider that was deleted"
		}
		b.Fill(`<dl class="settings"><dt>Signs in through</dt><dd>%s</dd><dt>Issuer</dt><dd><code>%s</code></dd><dt>Subject</dt><dd><code>%s</code></dd></dl>`+"\n",
			name, s.Identity.Issuer, s.Identity.Subject)
		b.WriteString("<p class=\"hint\">Unlinking ends the user's sessions; they can no longer sign in through it.</p>\n")
		postButton(b, userPath(username, "/upstream/unlink"), csrf, "Unlink the identity from "+username, "secondary")
	} else {
		b.WriteString("<p>No upstream identity is linked.</p>\n")
	}
	if len(s.Providers) == 0 {
		return
	}
	title := "Link an upstream identity"
	if s.Identity != nil {
		title = "Link another upstream identity instead"
	}
	b.Fill("<h3>%s</h3>\n", title)
	errorSummary(b, s.Errs, []formInput{{"upstream.provider", "upstream_provider"}, {"upstream.subject", "upstream_subject"}, {"upstream", "upstream_subject"}})
	b.Fill(`<form method="post" action="%s" novalidate>`+"\n", userPath(username, "/upstream"))
	csrfInput(b, csrf)
	b.WriteString(`<label for="upstream_provider">Identity provider</label>
<select id="upstream_provider" name="provider">` + "\n")
	for _, p := range s.Providers {
		sel := ""
		if s.Identity != nil && s.Identity.ProviderID == p.ID {
			sel = " selected"
		}
		b.Fill(`<option value="%s"`+sel+`>%s</option>`+"\n", p.ID, p.Name)
	}
	b.WriteString("</select>\n")
	b.WriteString(`<label for="upstream_subject">Subject</label>
<input type="text" id="upstream_subject" name="subject" autocomplete="off" autocapitalize="none" spellcheck="false" required` + inputAttrs(s.Errs, "upstream.subject", "upstream_subject") + ">\n")
	b.WriteString(`<p class="hint">The person's <code>sub</code> at the identity provider (in Okta and Entra ID, the user's object id; in Keycloak, the user's id). An email is never enough to link accounts.</p>` + "\n")
	writeFieldError(b, s.Errs, "upstream.subject", "upstream_subject")
	writeFieldError(b, s.Errs, "upstream.provider", "upstream_provider")
	b.WriteString(`<button type="submit" class="secondary">Link</button>` + "\n</form>\n")
}

func (c *consoleReq) userLink() {
	u, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	in := &upstreamInput{Provider: c.form.Get("provider"), Subject: strings.TrimSpace(c.form.Get("subject"))}
	if _, err := c.h.setUpstreamOp(c.ctx(), c.a.call(), u, in); err != nil {
		ps, ok := fieldError(err)
		if !ok {
			if e, isAPI := err.(*apiError); isAPI && e.Status == http.StatusConflict {
				ps, ok = []fieldProblem{{"upstream.subject", e.Message}}, true
			}
		}
		if ok {
			label := func(f string) string {
				switch f {
				case "upstream.subject":
					return "Subject"
				case "upstream.provider":
					return "Identity provider"
				}
				return f
			}
			render(c, http.StatusUnprocessableEntity, u.Username, "users", userFormPage, userFormData{CSRF: c.a.sess.CSRF, User: u,
				Table: newPermTable(c.h.cfg.Catalog), Self: u.ID == c.a.user.ID, Upstream: c.userUpstream(u, plainErrors(ps, label))})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(userPath(u.Username, "?linked=1"))
}

func (c *consoleReq) userUnlink() {
	u, err := c.h.userOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	if _, err := c.h.setUpstreamOp(c.ctx(), c.a.call(), u, nil); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(userPath(u.Username, "?unlinked=1"))
}
