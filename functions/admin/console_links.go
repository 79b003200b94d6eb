package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// consolePageSize is the number of links (and users, and grants) a console
// page lists.
const consolePageSize = 25

// linksData fills the Application links page.
type linksData struct {
	Links   []store.Link
	Uses    []lastUse // the last use of each link
	Next    string    // the next page's cursor
	First   bool      // this is the first page
	Query   linkQuery // the filter and order chosen (?unused_days=, ?sort=, ?origin=, ?status=)
	Notice  string
	Catalog *shared.Catalog
}

// after is the page cursor of a console list (?after=), "" for the first
// page; the store refuses one it did not issue.
func (c *consoleReq) after() string {
	if a := c.r.URL.Query().Get("after"); len(a) <= maxCursor {
		return a
	}
	return ""
}

func (c *consoleReq) links() {
	q := c.r.URL.Query()
	after := c.after()
	lq, err := parseLinkQuery(q)
	if err != nil { // not one the page offers: every link
		lq = linkQuery{Sort: sortCreated}
	}
	links, uses, next, err := c.h.listLinksOp(c.ctx(), lq, consolePageSize, after)
	if err != nil {
		c.fail(err)
		return
	}
	d := linksData{Links: links, Uses: c.linkLastUsesFrom(links, uses), Next: next, First: after == "", Query: lq}
	if id := q.Get("deleted"); id != "" {
		d.Notice = "The link was deleted, with every authorization and token of it."
		if name := c.deletedName(id); name != "" {
			d.Notice = "The link " + name + " was deleted, with every authorization and token of it."
		}
	}
	render(c, http.StatusOK, "Application links", "links", linksPage, d)
}

// linksURL is the link list's address for q (and a page cursor, "" for
// the first page).
func linksURL(q linkQuery, after string) string {
	v := q.values()
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return consolePrefix + "/links"
	}
	return consolePrefix + "/links?" + v.Encode()
}

// linkViews writes the list's choices: all links or those not used in 90
// days, in creation order or least recently used first; each keeps the
// other choice.
func linkViews(b *page.Buffer, q linkQuery) {
	choice := func(to linkQuery, current bool, label string) {
		cur := ""
		if current {
			cur = ` aria-current="true"`
		}
		b.Fill(`<a href="%s"`+cur+`>%s</a>`, linksURL(to, ""), label)
	}
	days := int(UnusedAfter / (24 * time.Hour))
	all, idle := q, q
	all.UnusedDays, idle.UnusedDays = 0, days
	byCreation, byUse := q, q
	byCreation.Sort, byUse.Sort = sortCreated, sortLastUsed
	b.WriteString(`<nav class="views" aria-label="Filter and sort links"><p><span>Show</span>`)
	choice(all, q.UnusedDays == 0, "All links")
	choice(idle, q.UnusedDays == days, "Not used in "+strconv.Itoa(days)+" days")
	b.WriteString(`</p><p><span>Sort by</span>`)
	choice(byCreation, q.Sort == sortCreated, "Created")
	choice(byUse, q.Sort == sortLastUsed, "Last used, oldest first")
	b.WriteString("</p></nav>\n")
}

// clientTypeLabel is how the console names a client type.
func clientTypeLabel(t string) string {
	switch t {
	case store.Public:
		return "Public (PKCE, no secret)"
	case store.ResourceServer:
		return "Resource server"
	}
	return "Confidential"
}

// redirectHosts is the hosts of a link's redirect URIs, for the list.
func redirectHosts(uris []string) string {
	var hosts []string
	for _, u := range uris {
		h := u
		if p, err := url.Parse(u); err == nil {
			if p.Host != "" {
				h = p.Host
			} else {
				h = p.Scheme + ":"
			}
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return "—"
	}
	return strings.Join(hosts, ", ")
}

func statusBadge(b *page.Buffer, enabled bool) {
	if enabled {
		b.WriteString(`<span class="status on">Enabled</span>`)
	} else {
		b.WriteString(`<span class="status off">Disabled</span>`)
	}
}

func linksPage(b *page.Buffer, d linksData) {
	b.WriteString(`<div class="bar"><h1>Application links</h1><a class="button" href="/console/links/new">Create link</a></div>
<p>An incoming application link lets an external application act on behalf of this service's users: it sends them here to sign in and approve, and gets OAuth 2.0 tokens limited to the permissions you choose.</p>
`)
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	if len(d.Links) == 0 && d.Query.Filter != (store.LinkFilter{}) && (d.Query.UnusedDays == 0 || !d.First) {
		// A filtered page may be empty and still have a next page.
		linkViews(b, d.Query)
		linkFilterForm(b, d.Query)
		if d.Next != "" {
			b.WriteString(`<p>No link on this page matches; there are more links to look through.</p>` + "\n")
		} else {
			b.WriteString(`<p>No more links match.</p>` + "\n")
		}
		linksPager(b, d)
		return
	}
	if len(d.Links) == 0 && d.First && d.Query.UnusedDays > 0 {
		linkViews(b, d.Query)
		linkFilterForm(b, d.Query)
		b.Fill(`<div class="empty"><h2>Every link was used in the last %s days</h2>
<p>A link shows here when no application has got a token with it for that long (or, never used, since it was created).</p>
<p><a href="%s">Show all links</a></p></div>
`, strconv.Itoa(d.Query.UnusedDays), linksURL(linkQuery{Sort: d.Query.Sort}, ""))
		return
	}
	if len(d.Links) == 0 {
		if d.First {
			b.WriteString(`<div class="empty"><h2>No application links yet</h2>
<p>Create a link for each external application that should reach this service. You will choose its redirect URL and permissions, and get its client ID and client secret.</p>
<p><a class="button" href="/console/links/new">Create link</a></p></div>
`)
		} else {
			b.Fill(`<p>There are no more links. <a href="%s">Back to the first page</a></p>`+"\n", linksURL(d.Query, ""))
		}
		return
	}
	linkViews(b, d.Query)
	linkFilterForm(b, d.Query)
	b.WriteString(`<table class="cards">
<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Redirect host</th><th scope="col">Status</th><th scope="col">Last used</th><th scope="col">Created</th></tr></thead>
<tbody>
`)
	for i, l := range d.Links {
		b.Fill(`<tr><td data-label="Name"><a href="%s">%s</a></td><td data-label="Type">%s · Incoming · %s</td><td data-label="Redirect host">%s</td><td data-label="Status">`,
			linkPath(l.ID, ""), l.Name, linkKindLabel(l), clientTypeLabel(l.ClientType), redirectHosts(l.RedirectURIs))
		linkStatusBadge(b, l)
		b.WriteString(`</td><td data-label="Last used">`)
		lastUseCell(b, d.Uses[i])
		b.Fill(`</td><td data-label="Created"><time datetime="%s">%s</time></td></tr>`+"\n", page.RFC3339(l.CreatedAt), page.Day(l.CreatedAt))
	}
	b.WriteString("</tbody></table>\n")
	linksPager(b, d)
}

// linksPager writes the links between the pages of the link list, keeping
// its filter and order.
func linksPager(b *page.Buffer, d linksData) {
	b.WriteString(`<div class="pager">`)
	if !d.First {
		b.Fill(`<a href="%s">First page</a>`, linksURL(d.Query, ""))
	}
	if d.Next != "" {
		b.Fill(`<a href="%s">Next page</a>`, linksURL(d.Query, d.Next))
	}
	b.WriteString("</div>\n")
}

// pager writes the links between the pages of a list at base.
func pager(b *page.Buffer, base string, first bool, next string) {
	b.WriteString(`<div class="pager">`)
	if !first {
		b.Fill(`<a href="%s">First page</a>`, base)
	}
	if next != "" {
		b.Fill(`<a href="%s">Next page</a>`, base+"?after="+url.QueryEscape(next))
	}
	b.WriteString("</div>\n")
}

// linkFormData fills the Create link and Edit pages.
type linkFormData struct {
	CSRF       string
	Key        string // the Create form's idempotency key
	Edit       bool   // editing an existing link (no client type choice)
	ID         string // the link, when editing
	Name       string
	URIs       []string // the redirect URL fields (at least one)
	LogoutURIs string   // the sign-out redirect URLs, one per line, as typed
	// ResourceURIs are a resource server's resource URLs (RFC 8707), one
	// per line, as typed.
	ResourceURIs string
	ClientType   string
	Scopes       []string
	Errs         fieldErrors
	Table        permTable
	// Device is the "Devices and command-line tools" checkbox: the
	// Device Authorization Grant (RFC 8628) among the link's grant types.
	Device bool
	// IDTokenAlg is the "ID token signature" choice: RS256 or ES256
	// ("": the default, RS256).
	IDTokenAlg string
	// NoScopes asks before saving a link with no permission ticked: it
	// would get the catalog's baseline alone.
	NoScopes bool
}

// label names a field of the link form as the form shows it.
func (d linkFormData) label(field string) string {
	base, _, _ := strings.Cut(field, "[")
	switch base {
	case "name":
		return "Name"
	case "redirect_uris":
		if l, ok := listLabel(field, "Redirect URL"); ok {
			return l
		}
		return "Redirect URL"
	case "post_logout_redirect_uris":
		return lineLabel(field, d.LogoutURIs, "sign-out redirect URLs")
	case "resource_uris":
		return lineLabel(field, d.ResourceURIs, "resource URLs")
	case "client_type":
		return "Client type"
	case "grant_types":
		return "Devices and command-line tools"
	case "id_token_signed_response_alg":
		return "ID token signature"
	case "scopes":
		return "Permissions"
	}
	return field
}

// inputs are the link form's inputs, in order, for its error summary.
func (d linkFormData) inputs() []formInput {
	in := []formInput{{"name", "name"}}
	for i := range d.URIs {
		in = append(in, formInput{"redirect_uris[" + strconv.Itoa(i) + "]", "redirect_uri_" + strconv.Itoa(i)})
	}
	return append(in, formInput{"redirect_uris", "redirect_uri_0"}, formInput{"post_logout_redirect_uris", "post_logout_redirect_uris"},
		formInput{"resource_uris", "resource_uris"}, formInput{"client_type", "client_type_" + store.Confidential},
		formInput{"grant_types", "grant_device"}, formInput{"id_token_signed_response_alg", "id_token_alg_RS256"},
		formInput{"scopes", "scope-fieldset"})
}

func (c *consoleReq) newLinkForm() {
	// The form's idempotency key: submitting it twice (a double click,
	// a reload of the post) creates one link, as an API retry with an
	// Idempotency-Key does.
	key, err := shared.NewToken(c.h.random)
	if err != nil {
		c.fail(err)
		return
	}
	d := linkFormData{CSRF: c.a.sess.CSRF, Key: key, URIs: []string{""}, ClientType: store.Confidential, Table: newPermTable(c.h.cfg.Catalog)}
	render(c, http.StatusOK, "Create link", "links", linkFormPage, d)
}

// formGrantTypes are the grant types the link form asks for, nil to keep
// the default (a new link) or what the link has (cur, when editing): the
// authorization code flow, unless the device checkbox is ticked and no
// redirect URL given (a link only devices and command-line tools use); the
// device grant when ticked; refresh tokens as the link had them (a new
// link: yes). A resource server has none.
func formGrantTypes(d linkFormData, cur *store.Link) *[]string {
	if !d.Device && (cur == nil || d.ClientType == store.ResourceServer) {
		// The default, or what the link has; a resource server with the
		// device box ticked is sent as asked, and refused in words.
		return nil
	}
	var g []string
	if !d.Device || len(d.URIs) > 0 {
		g = append(g, shared.GrantTypeAuthorizationCode)
	}
	if cur == nil || cur.AllowsGrant(shared.GrantTypeRefreshToken) {
		g = append(g, shared.GrantTypeRefreshToken)
	}
	if d.Device {
		g = append(g, shared.GrantTypeDeviceCode)
	}
	if cur != nil && slices.Equal(g, cur.GrantTypes) {
		return nil
	}
	return &g
}

// linkFormInput reads the fields of the link form; add reports the "add
// another redirect URL" button, which re-renders the form with one more
// field and changes nothing. A resource server's "ID token signature" is
// the choice's default (the form cannot leave it empty), so RS256 is
// dropped for it; ES256 is sent, and refused in words.
func linkFormInput(form url.Values) (in linkInput, d linkFormData, add bool) {
	name := form.Get("name")
	var uris []string
	for _, u := range form["redirect_uri"] {
		if u = strings.TrimSpace(u); u != "" {
			uris = append(uris, u)
		}
	}
	scopes := form["scope"]
	ct := form.Get("client_type")
	in = linkInput{Name: &name, RedirectURIs: &uris, Scopes: &scopes, ClientType: &ct}
	// The sign-out redirect URLs, one per line; a form without the field
	// (a page from before it existed) leaves them as they are.
	text := form.Get("post_logout_redirect_uris")
	if form.Has("post_logout_redirect_uris") {
		logout, _ := uriLines(text)
		in.PostLogoutRedirectURIs = &logout
	}
	// A resource server's resource URLs, one per line, likewise.
	resources := form.Get("resource_uris")
	if form.Has("resource_uris") {
		r, _ := uriLines(resources)
		in.ResourceURIs = &r
	}
	d = linkFormData{Name: name, URIs: uris, LogoutURIs: text, ResourceURIs: resources, ClientType: ct, Scopes: scopes,
		Device: form.Get("grant_device") == "on"}
	// A form without the field (a page from before it existed) leaves
	// the algorithm as it is.
	if form.Has("id_token_alg") {
		alg := form.Get("id_token_alg")
		d.IDTokenAlg = alg
		if ct != store.ResourceServer || alg != store.DefaultIDTokenAlg {
			in.IDTokenAlg = &alg
		}
	}
	if d.URIs == nil {
		d.URIs = []string{}
	}
	return in, d, form.Get("action") == "add_uri"
}

func (c *consoleReq) createLink() {
	in, d, add := linkFormInput(c.form)
	d.CSRF, d.Table, d.Key = c.a.sess.CSRF, newPermTable(c.h.cfg.Catalog), c.form.Get("key")
	if len(d.Key) > 64 {
		d.Key = ""
	}
	show := func(status int) {
		if len(d.URIs) == 0 {
			d.URIs = []string{""}
		}
		render(c, status, "Create link", "links", linkFormPage, d)
	}
	if add {
		if len(d.URIs) < shared.MaxRedirectURIs {
			d.URIs = append(d.URIs, "")
		}
		show(http.StatusOK)
		return
	}
	in.GrantTypes = formGrantTypes(d, nil)
	if len(d.Scopes) == 0 && c.form.Get("no_permissions") != "ok" {
		// Asked first, with the form's other errors if any.
		d.NoScopes = true
		_, err := c.h.validateNewLink(in, store.NewLink{})
		if err == nil {
			show(http.StatusOK)
			return
		}
		ps, ok := fieldError(err)
		if !ok {
			c.fail(err)
			return
		}
		d.Errs = plainErrors(ps, d.label)
		show(http.StatusUnprocessableEntity)
		return
	}
	key := ""
	if d.Key != "" {
		key = "console:" + d.Key
	}
	v, _, err := c.h.createLinkOp(c.ctx(), c.a.call(), in, key)
	if ps, ok := conflictField(err); ok {
		d.Errs = plainErrors(ps, d.label)
		show(http.StatusConflict)
		return
	}
	if key != "" && isAPIConflict(err) {
		c.h.consoleMessage(c.w, c.a, http.StatusConflict, consoleMsg{Title: "Already used",
			Text: "This form already created a link, with other settings. Nothing was changed. Open Create link again to make another link.",
			Link: consolePrefix + "/links/new", LinkText: "Create link"})
		return
	}
	if ps, ok := fieldError(err); ok {
		d.Errs = plainErrors(ps, d.label)
		show(http.StatusUnprocessableEntity)
		return
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.seeOther(linkPath(v.ID, "/created"))
}

func linkFormPage(b *page.Buffer, d linkFormData) {
	title, verb := "Create link", "Create"
	action := consolePrefix + "/links/new"
	if d.Edit {
		title, verb = "Edit "+d.Name, "Save"
		action = linkPath(d.ID, "/edit")
	}
	b.Fill("<h1>%s</h1>\n", title)
	errorSummary(b, d.Errs, d.inputs())
	if d.NoScopes && len(d.Errs) == 0 {
		b.Fill(`<div class="warning review" role="alert" tabindex="-1" autofocus><h2>No permission is ticked</h2>
<p>The application would get only <strong>%s</strong> (<code>%s</code>), which every link has. <a href="#scope-fieldset">Tick the permissions it needs</a>, or choose <strong>%s without permissions</strong> at the bottom of the form.</p></div>
`, d.Table.BaselineDescription, d.Table.Baseline, verb)
	}
	b.Fill(`<form method="post" action="%s" novalidate>`+"\n", action)
	// The first submit button is what Enter in a text field presses:
	// this one, rather than "Add another redirect URL" below.
	b.Fill(`<button type="submit" name="enter" value="1" class="default-submit" tabindex="-1" aria-hidden="true">%s</button>`+"\n", verb)
	csrfInput(b, d.CSRF)
	if !d.Edit {
		b.Fill(`<input type="hidden" name="key" value="%s">`+"\n", d.Key)
		// The only application type and direction there are: said,
		// not offered as a choice.
		b.WriteString(`<dl class="settings fixed"><dt>Application type</dt><dd>External application: an application outside this service, such as a CI server or a chat bot.</dd>
<dt>Direction</dt><dd>Incoming: the external application reaches this service's data on behalf of its users, with OAuth 2.0.</dd></dl>
`)
	}
	b.Fill(`<label for="name">Name</label>
<input type="text" id="name" name="name" value="%s" maxlength="200" required`, d.Name)
	b.WriteString(inputAttrs(d.Errs, "name", "name") + ">\n")
	b.WriteString(`<p class="hint">Users see this name when they are asked to approve the application.</p>` + "\n")
	writeFieldError(b, d.Errs, "name", "name")

	// A resource server's redirect URLs cannot be set: not shown when
	// editing one, refused in words when typed on the Create form.
	if !d.Edit || d.ClientType != store.ResourceServer {
		b.WriteString(`<fieldset><legend>Redirect URL</legend>
<p class="hint">Where the application receives its users back after they approve: an https URL, an http URL on 127.0.0.1, [::1] or localhost, or an app's private-use scheme such as com.example.app:/callback. Up to 10. Leave it empty for a resource server, or for an application that connects only as a device or command-line tool.</p>
`)
		writeFieldError(b, d.Errs, "redirect_uris", "redirect_uris")
		uris := d.URIs
		if len(uris) == 0 {
			uris = []string{""}
		}
		for i, u := range uris {
			id := "redirect_uri_" + strconv.Itoa(i)
			field := "redirect_uris[" + strconv.Itoa(i) + "]"
			label, _ := listLabel(field, "Redirect URL")
			b.Fill(`<label for="%s">%s</label>`, id, label)
			b.Fill(`<input type="url" id="%s" name="redirect_uri" value="%s" inputmode="url" autocapitalize="none" spellcheck="false"`, id, u)
			attrs := inputAttrs(d.Errs, field, id)
			if attrs == "" && i == 0 && d.Errs["redirect_uris"] != "" {
				attrs = ` aria-invalid="true" aria-describedby="redirect_uris-error"`
			}
			b.WriteString(attrs + ">\n")
			writeFieldError(b, d.Errs, field, id)
		}
		if len(uris) < shared.MaxRedirectURIs {
			b.WriteString(`<button type="submit" name="action" value="add_uri" class="secondary" formnovalidate>Add another redirect URL</button>` + "\n")
		}
		b.WriteString("</fieldset>\n")
		logoutField(b, d)
	}
	if !d.Edit || d.ClientType == store.ResourceServer {
		resourceField(b, d)
	}

	if !d.Edit {
		b.WriteString("<fieldset><legend>Client type</legend>\n")
		writeFieldError(b, d.Errs, "client_type", "client_type")
		for _, o := range []struct{ v, label, help string }{
			{store.Confidential, "Confidential", "A server-side application that can keep a client secret. It gets a client ID and a client secret."},
			{store.Public, "Public", "A mobile, desktop or single-page application that cannot keep a secret. It gets a client ID and must use PKCE."},
			{store.ResourceServer, "Resource server", "A service that receives access tokens and checks them (introspection). It has no redirect URL and no users authorize it."},
		} {
			chk := ""
			if d.ClientType == o.v || d.ClientType == "" && o.v == store.Confidential {
				chk = " checked"
			}
			b.Fill(`<label class="radio"><input type="radio" id="client_type_%s" name="client_type" value="%s"`+chk+`> <span><strong>%s</strong><br><span class="small">%s</span></span></label>`+"\n", o.v, o.v, o.label, o.help)
		}
		b.WriteString("</fieldset>\n")
	}

	if d.ClientType != store.ResourceServer || !d.Edit {
		chk := ""
		if d.Device {
			chk = " checked"
		}
		b.WriteString(`<fieldset><legend>Other ways to connect</legend>` + "\n")
		writeFieldError(b, d.Errs, "grant_types", "grant_device")
		b.WriteString(`<label class="check"><input type="checkbox" id="grant_device" name="grant_device" value="on"` + chk + inputAttrs(d.Errs, "grant_types", "grant_device") + `> <span><strong>Devices and command-line tools (device code)</strong><br><span class="small">A tool without a browser shows its user a short code to enter on this service's /device page (RFC 8628). With no redirect URL above, the application can connect only this way. Not for a resource server.</span></span></label>
</fieldset>
`)
	}

	if d.ClientType != store.ResourceServer || !d.Edit {
		idTokenAlgField(b, d)
	}

	note := elementErrors(d.Errs, "scopes")
	if d.NoScopes {
		note = strings.TrimSpace(note + " No permission is ticked: the application would get only " + d.Table.BaselineDescription + ", which every link has.")
	}
	writePermTable(b, d.Table, "scope", "Permissions", d.Scopes, note)
	b.Fill(`<div class="actions"><button type="submit">%s</button>`, verb)
	if d.NoScopes {
		b.Fill(`<button type="submit" name="no_permissions" value="ok" class="secondary">%s without permissions</button>`, verb)
	}
	cancel := consolePrefix + "/links"
	if d.Edit {
		cancel = linkPath(d.ID, "")
	}
	b.Fill(`<a class="cancel" href="%s">Cancel</a></div>`+"\n", cancel)
	b.WriteString("</form>\n")
}

// idTokenAlgField writes the "ID token signature" choice: RS256 (OpenID
// Connect's default) or ES256, the link's id_token_signed_response_alg.
func idTokenAlgField(b *page.Buffer, d linkFormData) {
	b.WriteString("<fieldset><legend>ID token signature</legend>\n")
	writeFieldError(b, d.Errs, "id_token_signed_response_alg", "id_token_alg_RS256")
	for _, o := range []struct{ alg, label, help string }{
		{store.DefaultIDTokenAlg, "RS256", "What every OpenID Connect library accepts without configuration."},
		{"ES256", "ES256", "Shorter and cheaper to sign. Choose it only if the application's OpenID Connect library is set to accept ES256 ID tokens. Not for a resource server."},
	} {
		chk := ""
		if d.IDTokenAlg == o.alg || d.IDTokenAlg == "" && o.alg == store.DefaultIDTokenAlg {
			chk = " checked"
		}
		b.Fill(`<label class="radio"><input type="radio" id="id_token_alg_%s" name="id_token_alg" value="%s"`+chk+inputAttrs(d.Errs, "id_token_signed_response_alg", "id_token_alg_RS256")+`> <span><strong>%s</strong><br><span class="small">%s</span></span></label>`+"\n",
			o.alg, o.alg, o.label, o.help)
	}
	b.WriteString("</fieldset>\n")
}

// logoutField writes the optional sign-out redirect URLs (OpenID Connect
// RP-Initiated Logout): one textarea, one URL per line. The API's error
// for an element ("post_logout_redirect_uris[1]: ...") is shown under it
// as the line it came from.
func logoutField(b *page.Buffer, d linkFormData) {
	const field, id = "post_logout_redirect_uris", "post_logout_redirect_uris"
	msg := elementErrors(d.Errs, field)
	errs := fieldErrors{field: msg}
	b.WriteString(`<fieldset><legend>Sign-out redirect URLs (optional)</legend>` + "\n")
	b.WriteString(`<p class="hint" id="post_logout_redirect_uris-hint">For an application that signs its users in with OpenID Connect: where its users may be sent back after they sign out through it. Matched exactly, with the same rules as redirect URLs. Up to 10.</p>` + "\n")
	b.WriteString(`<label for="post_logout_redirect_uris">Sign-out redirect URLs, one per line</label>` + "\n")
	b.WriteString(`<textarea id="post_logout_redirect_uris" name="post_logout_redirect_uris" rows="2" autocapitalize="none" spellcheck="false"`)
	if msg != "" {
		b.WriteString(` aria-invalid="true" aria-describedby="post_logout_redirect_uris-hint post_logout_redirect_uris-error"`)
	} else {
		b.WriteString(` aria-describedby="post_logout_redirect_uris-hint"`)
	}
	b.Fill(">%s</textarea>\n", d.LogoutURIs)
	writeFieldError(b, errs, field, id)
	b.WriteString("</fieldset>\n")
}

// resourceField writes a resource server's resource URLs (RFC 8707
// resource indicators): one textarea, one URL per line, shown on the
// Create form and on a resource server's Edit form. An element's error
// ("resource_uris[1]: ...") is shown as the line it came from.
func resourceField(b *page.Buffer, d linkFormData) {
	const field, id = "resource_uris", "resource_uris"
	msg := elementErrors(d.Errs, field)
	errs := fieldErrors{field: msg}
	legend := "Resource URLs (resource servers only, optional)"
	if d.Edit {
		legend = "Resource URLs (optional)"
	}
	b.Fill("<fieldset><legend>%s</legend>\n", legend)
	b.WriteString(`<p class="hint" id="resource_uris-hint">For a resource server: the URLs that name it. An application that asks for a token for one of them (the resource parameter, RFC 8707) gets a token only this resource server accepts, with no more than its permissions. An https URL, or http on 127.0.0.1, [::1] or localhost; matched exactly; each may belong to one link only. Up to 10. Without any, this resource server checks the tokens of applications that name no resource.</p>` + "\n")
	b.WriteString(`<label for="resource_uris">Resource URLs, one per line</label>` + "\n")
	b.WriteString(`<textarea id="resource_uris" name="resource_uris" rows="2" autocapitalize="none" spellcheck="false"`)
	if msg != "" {
		b.WriteString(` aria-invalid="true" aria-describedby="resource_uris-hint resource_uris-error"`)
	} else {
		b.WriteString(` aria-describedby="resource_uris-hint"`)
	}
	b.Fill(">%s</textarea>\n", d.ResourceURIs)
	writeFieldError(b, errs, field, id)
	b.WriteString("</fieldset>\n")
}

// uriLines reads a one-URL-per-line field: its non-blank lines, trimmed,
// and the line number (from 1) of each, so that an error of element i of
// the list is shown on its line.
func uriLines(text string) (uris []string, lines []int) {
	uris = []string{}
	line := 0
	for l := range strings.Lines(text) {
		line++
		if l = strings.TrimSpace(l); l != "" {
			uris, lines = append(uris, l), append(lines, line)
		}
	}
	return uris, lines
}

// credentialsData fills the pages that show a link's credentials.
type credentialsData struct {
	Link    store.Link
	Creds   credentialsView
	Issuer  string
	Created bool // right after "Create"
	Rotated bool // right after "Rotate secret"
}

func (c *consoleReq) created() {
	c.showCredentials(true)
}

func (c *consoleReq) credentials() {
	c.showCredentials(false)
}

func (c *consoleReq) showCredentials(created bool) {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	d := credentialsData{Link: link, Issuer: c.h.cfg.Issuer, Created: created, Rotated: c.r.URL.Query().Get("rotated") != ""}
	d.Creds.ClientID = link.ClientID
	if link.ClientType != store.Public {
		if d.Creds, err = c.h.viewCredentialsOp(c.ctx(), c.a.call(), link.ID); err != nil {
			c.fail(err)
			return
		}
	}
	title := "Credentials of " + link.Name
	if created {
		title = "Link created"
	}
	renderConsole(c.w, http.StatusOK, frame{Title: title, Section: "links", Admin: c.a, Script: true, Provider: c.h.cfg.ProviderName}, credentialsPage, d)
}

func secretField(b *page.Buffer, id, label, value string) {
	b.Fill(`<label for="%s">%s</label>
<div class="secret" data-name="%s"><input type="text" id="%s" value="%s" readonly spellcheck="false" autocomplete="off"></div>
`, id, label, label, id, value)
}

func credentialsPage(b *page.Buffer, d credentialsData) {
	if d.Created {
		b.Fill(`<h1>Link created</h1>
<p class="notice" role="status">The link <strong>%s</strong> was created. Give the application these credentials.</p>
`, d.Link.Name)
	} else {
		b.Fill("<h1>Credentials of %s</h1>\n", d.Link.Name)
		if d.Rotated {
			b.WriteString(`<p class="notice" role="status">The secret was rotated. Put the new secret into the application.</p>` + "\n")
		}
	}
	secretField(b, "client_id", "Client ID", d.Creds.ClientID)
	if d.Link.ClientType == store.Public {
		b.WriteString(`<p>A public link has no client secret: the application proves itself with PKCE (S256) on every authorization.</p>` + "\n")
	} else {
		secretField(b, "client_secret", "Client secret", d.Creds.ClientSecret)
		if d.Creds.PreviousExpiresAt != nil {
			b.Fill(`<p class="small">The previous secret keeps working until <time datetime="%s">%s</time>.</p>`+"\n",
				page.RFC3339(*d.Creds.PreviousExpiresAt), page.Day(*d.Creds.PreviousExpiresAt))
		}
	}
	if d.Link.ClientType != store.ResourceServer {
		b.WriteString(`<h2>What the application needs</h2>
<table class="cards"><thead><tr><th scope="col">Endpoint</th><th scope="col">Standard URL</th><th scope="col">Bitbucket-style URL</th></tr></thead><tbody>
`)
		b.Fill(`<tr><td data-label="Endpoint">Authorization URL</td><td data-label="Standard URL"><code>%s</code></td><td data-label="Bitbucket-style URL"><code>%s</code></td></tr>
<tr><td data-label="Endpoint">Token URL</td><td data-label="Standard URL"><code>%s</code></td><td data-label="Bitbucket-style URL"><code>%s</code></td></tr>
`, d.Issuer+"/oauth2/authorize", d.Issuer+"/rest/oauth2/latest/authorize", d.Issuer+"/oauth2/token", d.Issuer+"/rest/oauth2/latest/token")
		b.WriteString("</tbody></table>\n")
		b.Fill(`<p class="small">Discovery document: <code>%s</code></p>`+"\n", d.Issuer+"/.well-known/openid-configuration")
	} else {
		b.Fill(`<p>A resource server checks access tokens at <code>%s</code> with these credentials, or verifies them with the keys at <code>%s</code>.</p>`+"\n",
			d.Issuer+"/oauth2/introspect", d.Issuer+"/.well-known/jwks.json")
	}
	b.WriteString(`<p>You can view these credentials again from the link's page: <strong>More actions › View credentials</strong>.</p>` + "\n")
	b.Fill(`<p><a class="button secondary" href="%s">Go to %s</a></p>`+"\n", linkPath(d.Link.ID, ""), d.Link.Name)
}

// linkData fills a link's page.
type linkData struct {
	CSRF   string
	Link   store.Link
	Grants []store.Grant
	// GrantUses are the last use of each grant (zero: never).
	GrantUses []time.Time
	Next      string
	Notice    string
	Catalog   *shared.Catalog
	Use       lastUse
	Activity  activity
}

func (c *consoleReq) link() {
	q := c.r.URL.Query()
	after := c.after()
	link, grants, next, err := c.h.listGrantsOp(c.ctx(), c.param(0), consolePageSize, after)
	if err != nil {
		c.fail(err)
		return
	}
	d := linkData{CSRF: c.a.sess.CSRF, Link: link, Grants: grants, Next: next, Catalog: c.h.cfg.Catalog,
		Use: c.linkLastUses([]store.Link{link})[0], Activity: c.activityOf(store.EventSubject{Kind: store.EventLink, ID: link.ID}, linkPath(link.ID, ""))}
	switch {
	case q.Get("updated") != "":
		d.Notice = "Your changes were saved."
	case q.Get("enabled") == "1":
		d.Notice = "The link is enabled: users can authorize it again."
	case q.Get("enabled") == "0":
		d.Notice = "The link is disabled: it cannot get new tokens until you enable it."
	case q.Get("revoked") != "":
		d.Notice = "The authorization was revoked: its tokens stopped working."
		// The revoked grant, read again: the listing is an index that may
		// not show the revocation yet.
		if g, ok := c.h.revokedGrant(c.ctx(), link.ClientID, q.Get("revoked")); ok {
			d.Notice = g.Username + "'s authorization was revoked: its tokens stopped working."
			d.Grants = withGrant(d.Grants, g, after == "")
		}
	}
	d.GrantUses = c.grantLastUses(link.ClientID, d.Grants)
	render(c, http.StatusOK, link.Name, "links", linkPage, d)
}

// withGrant is grants with the user's entry replaced by g, or with g first
// when the user has none there and first is set (the first page).
func withGrant(grants []store.Grant, g store.Grant, first bool) []store.Grant {
	for i := range grants {
		if grants[i].UserID == g.UserID {
			out := slices.Clone(grants)
			out[i] = g
			return out
		}
	}
	if !first {
		return grants
	}
	return append([]store.Grant{g}, grants...)
}

// grantLastUses reads the last use of each of a link's grants (zero: never,
// or not known).
func (c *consoleReq) grantLastUses(clientID string, grants []store.Grant) []time.Time {
	refs := make([]store.LastUseRef, len(grants))
	for i, g := range grants {
		refs[i] = store.LastUseRef{ClientID: clientID, UserID: g.UserID, GrantID: g.ID}
	}
	m := c.h.lastUses(c.ctx(), refs)
	out := make([]time.Time, len(grants))
	for i := range grants {
		out[i] = m[refs[i]]
	}
	return out
}

func scopeList(b *page.Buffer, cat *shared.Catalog, scopes []string) {
	if len(scopes) == 0 {
		b.Fill(`<span>Only the baseline: %s (<code>%s</code>)</span>`, cat.Description(cat.Baseline()), cat.Baseline())
		return
	}
	b.WriteString(`<ul class="plain">`)
	for _, s := range scopes {
		b.Fill(`<li>%s <code>%s</code></li>`, cat.Description(s), s)
	}
	b.WriteString("</ul>")
}

// protocolScopeLabels say in plain words what each OpenID Connect scope a
// user approved lets the application have.
var protocolScopeLabels = map[string]string{
	"openid":         "Sign them in (their account's id)",
	"profile":        "Their name and username",
	"email":          "Their email address",
	"offline_access": "Stay connected while they are away",
}

// grantScopeList writes what a user approved: each permission by its
// catalog description, then the OpenID Connect scopes in plain words, each
// with its code.
func grantScopeList(b *page.Buffer, cat *shared.Catalog, g store.Grant) {
	if len(g.Scope) == 0 && len(g.Protocol) == 0 {
		b.WriteString("None")
		return
	}
	b.WriteString(`<ul class="plain">`)
	for _, s := range g.Scope {
		if desc := cat.Description(s); desc != "" {
			b.Fill(`<li>%s <code>%s</code></li>`, desc, s)
		} else { // a scope that has left the catalog
			b.Fill(`<li><code>%s</code></li>`, s)
		}
	}
	for _, p := range g.Protocol {
		if label := protocolScopeLabels[p]; label != "" {
			b.Fill(`<li>%s <code>%s</code></li>`, label, p)
		} else {
			b.Fill(`<li><code>%s</code></li>`, p)
		}
	}
	b.WriteString("</ul>")
}

// grantLabels name the grant types as the console shows them.
var grantLabels = map[string]string{
	shared.GrantTypeAuthorizationCode: "Users approve in the browser (authorization code)",
	shared.GrantTypeRefreshToken:      "Stays connected (refresh tokens)",
	shared.GrantTypeDeviceCode:        "Devices and command-line tools (device code)",
}

// grantList writes a link's grant types, in plain words with their code.
func grantList(b *page.Buffer, grants []string) {
	b.WriteString(`<ul class="plain">`)
	for _, g := range grants {
		b.Fill(`<li>%s <code>%s</code></li>`, grantLabels[g], g)
	}
	b.WriteString("</ul>")
}

func linkPage(b *page.Buffer, d linkData) {
	l := d.Link
	b.Fill(`<p class="small"><a href="/console/links">Application links</a> ›</p>
<div class="bar"><h1>%s</h1>
<details class="menu"><summary>More actions</summary><div class="items">
`, l.Name)
	if l.ClientType != store.Public {
		b.Fill(`<a href="%s">View credentials</a><a href="%s">Rotate secret</a>`, linkPath(l.ID, "/credentials"), linkPath(l.ID, "/rotate"))
	} else {
		b.Fill(`<a href="%s">View credentials</a>`, linkPath(l.ID, "/credentials"))
	}
	b.Fill(`<a href="%s">Edit</a>`, linkPath(l.ID, "/edit"))
	if l.Enabled {
		postButton(b, linkPath(l.ID, "/disable"), d.CSRF, "Disable", "")
	} else {
		postButton(b, linkPath(l.ID, "/enable"), d.CSRF, "Enable", "")
	}
	b.Fill(`<a href="%s">Delete</a>`, linkPath(l.ID, "/delete"))
	b.WriteString("</div></details></div>\n")
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	b.WriteString(`<h2>Settings</h2><dl class="settings">`)
	b.WriteString(`<dt>Status</dt><dd>`)
	statusBadge(b, l.Enabled)
	b.Fill(`</dd><dt>Application type</dt><dd>External application · Incoming</dd>
<dt>Client type</dt><dd>%s</dd>
<dt>Client ID</dt><dd><code>%s</code></dd>
<dt>Redirect URLs</dt><dd>`, clientTypeLabel(l.ClientType), l.ClientID)
	if len(l.RedirectURIs) == 0 {
		b.WriteString("None")
	} else {
		b.WriteString(`<ul class="plain">`)
		for _, u := range l.RedirectURIs {
			b.Fill(`<li><code>%s</code></li>`, u)
		}
		b.WriteString("</ul>")
	}
	b.WriteString("</dd>")
	if l.ClientType == store.ResourceServer {
		b.WriteString(`<dt>Resource URLs</dt><dd>`)
		if len(l.ResourceURIs) == 0 {
			b.WriteString("None: it checks the tokens of applications that name no resource")
		} else {
			b.WriteString(`<ul class="plain">`)
			for _, u := range l.ResourceURIs {
				b.Fill(`<li><code>%s</code></li>`, u)
			}
			b.WriteString("</ul>")
		}
		b.WriteString("</dd>")
	}
	if len(l.PostLogoutRedirectURIs) > 0 {
		b.WriteString(`<dt>Sign-out redirect URLs</dt><dd><ul class="plain">`)
		for _, u := range l.PostLogoutRedirectURIs {
			b.Fill(`<li><code>%s</code></li>`, u)
		}
		b.WriteString("</ul></dd>")
	}
	if l.ClientType != store.ResourceServer {
		b.WriteString("<dt>Ways to connect</dt><dd>")
		grantList(b, l.GrantTypes)
		b.WriteString("</dd>")
		b.Fill("<dt>ID token signature</dt><dd>%s</dd>", l.IDTokenSignedResponseAlg)
	}
	b.WriteString("<dt>Permissions</dt><dd>")
	scopeList(b, d.Catalog, l.Scopes)
	b.WriteString(`</dd><dt>Last used</dt><dd>`)
	lastUseCell(b, d.Use)
	b.Fill(`</dd><dt>Created</dt><dd><time datetime="%s">%s</time></dd><dt>Last changed</dt><dd><time datetime="%s">%s</time></dd></dl>
`, page.RFC3339(l.CreatedAt), page.Day(l.CreatedAt), page.RFC3339(l.UpdatedAt), page.Day(l.UpdatedAt))

	b.WriteString("<h2>Authorizations</h2>\n")
	if len(d.Grants) == 0 {
		if l.ClientType == store.ResourceServer {
			b.WriteString("<p>A resource server is not authorized by users: it only receives their tokens.</p>\n")
		} else {
			b.WriteString("<p>No one has authorized this application yet. Once users approve it, they are listed here, and you can revoke their access.</p>\n")
		}
		activitySection(b, d.Activity)
		return
	}
	b.WriteString(`<table class="cards grants"><thead><tr><th scope="col">User</th><th scope="col">Permissions granted</th><th scope="col">Authorized</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>` + "\n")
	for i, g := range d.Grants {
		b.Fill(`<tr><td data-label="User">%s</td><td data-label="Permissions granted">`, g.Username)
		grantScopeList(b, d.Catalog, g)
		b.Fill(`</td><td data-label="Authorized"><time datetime="%s">%s</time></td><td data-label="Last used">`, page.RFC3339(g.CreatedAt), page.Day(g.CreatedAt))
		if i < len(d.GrantUses) && !d.GrantUses[i].IsZero() {
			b.Fill(`<time datetime="%s">%s</time>`, page.RFC3339(d.GrantUses[i]), page.Day(d.GrantUses[i]))
		} else {
			b.WriteString("Never")
		}
		b.WriteString(`</td><td data-label="Status">`)
		if g.Revoked {
			b.WriteString(`<span class="status off">Revoked</span>`)
			if !g.RevokedAt.IsZero() {
				b.Fill(` <span class="small">on <time datetime="%s">%s</time></span>`, page.RFC3339(g.RevokedAt), page.Day(g.RevokedAt))
			}
			b.WriteString("</td><td></td></tr>\n")
			continue
		}
		b.WriteString(`<span class="status on">Active</span></td><td>`)
		b.Fill(`<a class="button secondary" href="%s">Revoke<span class="visually-hidden"> access of %s</span></a></td></tr>`+"\n",
			linkPath(l.ID, "/grants/"+url.PathEscape(g.ID)+"/revoke"), g.Username)
	}
	b.WriteString("</tbody></table>\n")
	if d.Next != "" {
		b.Fill(`<div class="pager"><a href="%s">More authorizations</a></div>`+"\n", linkPath(l.ID, "?after="+url.QueryEscape(d.Next)))
	}
	activitySection(b, d.Activity)
}

func (c *consoleReq) editLinkForm() {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	d := linkFormData{CSRF: c.a.sess.CSRF, Edit: true, ID: link.ID, Name: link.Name, URIs: append([]string{}, link.RedirectURIs...),
		LogoutURIs: strings.Join(link.PostLogoutRedirectURIs, "\n"), ResourceURIs: strings.Join(link.ResourceURIs, "\n"),
		ClientType: link.ClientType, Scopes: link.Scopes, Table: newPermTable(c.h.cfg.Catalog),
		Device: link.AllowsGrant(shared.GrantTypeDeviceCode), IDTokenAlg: link.IDTokenSignedResponseAlg}
	if link.ClientType != store.ResourceServer && len(d.URIs) == 0 {
		d.URIs = []string{""}
	}
	render(c, http.StatusOK, "Edit "+link.Name, "links", linkFormPage, d)
}

func (c *consoleReq) editLink() {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	in, d, add := linkFormInput(c.form)
	d.CSRF, d.Edit, d.ID, d.ClientType, d.Table = c.a.sess.CSRF, true, link.ID, link.ClientType, newPermTable(c.h.cfg.Catalog)
	in.ClientType = nil
	show := func(status int) {
		if len(d.URIs) == 0 && link.ClientType != store.ResourceServer {
			d.URIs = []string{""}
		}
		render(c, status, "Edit "+link.Name, "links", linkFormPage, d)
	}
	if add {
		if len(d.URIs) < shared.MaxRedirectURIs {
			d.URIs = append(d.URIs, "")
		}
		show(http.StatusOK)
		return
	}
	if link.ClientType == store.ResourceServer {
		in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil // the form has no such fields for it
	} else {
		in.ResourceURIs = nil // the form has no such field for it
	}
	if in.IDTokenAlg != nil && (link.ClientType == store.ResourceServer || *in.IDTokenAlg == link.IDTokenSignedResponseAlg) {
		in.IDTokenAlg = nil
	}
	in.GrantTypes = formGrantTypes(d, &link)
	if len(d.Scopes) == 0 && len(link.Scopes) > 0 && c.form.Get("no_permissions") != "ok" {
		// Taking every permission away is asked first, with the form's
		// other errors if any.
		d.NoScopes = true
		_, _, err := c.h.validateLinkUpdate(link, in)
		if err == nil {
			show(http.StatusOK)
			return
		}
		ps, ok := fieldError(err)
		if !ok {
			c.fail(err)
			return
		}
		d.Errs = plainErrors(ps, d.label)
		show(http.StatusUnprocessableEntity)
		return
	}
	if _, err := c.h.updateLinkOp(c.ctx(), c.a.call(), link.ID, in); err != nil {
		ps, ok := fieldError(err)
		status := http.StatusUnprocessableEntity
		if cps, conflict := conflictField(err); conflict {
			ps, ok, status = cps, true, http.StatusConflict
		}
		if ok {
			d.Errs = plainErrors(ps, d.label)
			show(status)
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(linkPath(link.ID, "?updated=1"))
}

func (c *consoleReq) setEnabled(on bool) {
	if _, err := c.h.updateLinkOp(c.ctx(), c.a.call(), c.param(0), linkInput{Enabled: &on}); err != nil {
		c.fail(err)
		return
	}
	v := "0"
	if on {
		v = "1"
	}
	c.seeOther(linkPath(c.param(0), "?enabled="+v))
}

// rotateData fills the Rotate secret page.
type rotateData struct {
	CSRF string
	Link store.Link
	Errs fieldErrors
}

// overlapChoices are the overlaps the Rotate secret page offers, the
// first checked: an hour, so that rotating does not break the application
// before it has the new secret. Stopping the old secret at once (the admin
// API's default) is the last choice, in red.
var overlapChoices = []struct {
	seconds int64
	label   string
}{
	{int64(time.Hour / time.Second), "1 hour"},
	{int64(24 * time.Hour / time.Second), "1 day"},
	{int64(MaxOverlap / time.Second), "7 days (the most)"},
	{0, "Stop the old secret now: the application fails until it has the new one"},
}

func (c *consoleReq) rotateForm() {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	if link.ClientType == store.Public {
		c.fail(errPublicNoSecret())
		return
	}
	render(c, http.StatusOK, "Rotate secret of "+link.Name, "links", rotatePage, rotateData{CSRF: c.a.sess.CSRF, Link: link})
}

func rotatePage(b *page.Buffer, d rotateData) {
	b.Fill(`<p class="small"><a href="%s">%s</a> ›</p>
<h1>Rotate the secret of %s</h1>
<p>A new client secret is made now. Until the overlap ends, the application may use either secret, so you can update it without downtime. Only one previous secret is kept: rotating again ends an earlier overlap.</p>
`, linkPath(d.Link.ID, ""), d.Link.Name, d.Link.Name)
	errorSummary(b, d.Errs, []formInput{{"overlap_seconds", "overlap_seconds"}})
	b.Fill(`<form method="post" action="%s">`+"\n", linkPath(d.Link.ID, "/rotate"))
	csrfInput(b, d.CSRF)
	b.WriteString(`<fieldset id="overlap_seconds" tabindex="-1"><legend>How long the current secret keeps working</legend>` + "\n")
	writeFieldError(b, d.Errs, "overlap_seconds", "overlap_seconds")
	for i, o := range overlapChoices {
		chk, class := "", "radio"
		if i == 0 {
			chk = " checked"
		}
		if o.seconds == 0 {
			class = "radio danger"
		}
		b.Fill(`<label class="%s"><input type="radio" name="overlap_seconds" value="%s"`+chk+`> <span>%s</span></label>`+"\n", class, strconv.FormatInt(o.seconds, 10), o.label)
	}
	b.Fill(`</fieldset>
<button type="submit">Rotate secret</button> <a href="%s">Cancel</a>
</form>
`, linkPath(d.Link.ID, ""))
}

func (c *consoleReq) rotate() {
	var overlap *int64
	if s := c.form.Get("overlap_seconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			n = -1 // refused by the operation, in its words
		}
		overlap = &n
	}
	if _, err := c.h.rotateCredentialsOp(c.ctx(), c.a.call(), c.param(0), overlap); err != nil {
		if ps, ok := fieldError(err); ok {
			errs := plainErrors(ps, func(f string) string {
				if f == "overlap_seconds" {
					return "How long the current secret keeps working"
				}
				return f
			})
			link, gerr := c.h.getLinkOp(c.ctx(), c.param(0))
			if gerr != nil {
				c.fail(gerr)
				return
			}
			render(c, http.StatusUnprocessableEntity, "Rotate secret of "+link.Name, "links", rotatePage, rotateData{CSRF: c.a.sess.CSRF, Link: link, Errs: errs})
			return
		}
		c.fail(err)
		return
	}
	c.seeOther(linkPath(c.param(0), "/credentials?rotated=1"))
}

// deleteData fills a deletion's confirmation page.
type deleteData struct {
	CSRF, Action, Cancel string
	Title, Text, Button  string
}

func deletePage(b *page.Buffer, d deleteData) {
	b.Fill(`<h1>%s</h1>
<p>%s</p>
<form method="post" action="%s">
`, d.Title, d.Text, d.Action)
	csrfInput(b, d.CSRF)
	b.Fill(`<button type="submit" class="danger">%s</button> <a href="%s">Cancel</a>
</form>
`, d.Button, d.Cancel)
}

func (c *consoleReq) deleteLinkForm() {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	render(c, http.StatusOK, "Delete "+link.Name, "links", deletePage, deleteData{
		CSRF: c.a.sess.CSRF, Action: linkPath(link.ID, "/delete"), Cancel: linkPath(link.ID, ""),
		Title:  "Delete " + link.Name + "?",
		Text:   "Deleting the link " + link.Name + " revokes every authorization and token it has: the application stops working at once, for every user. Its client ID and secret are gone for good. This cannot be undone.",
		Button: "Delete " + link.Name,
	})
}

// deleteLink deletes the link and goes back to the list, whose notice
// names the link: read from the deletion's own activity event, so that
// the address (?deleted=<id>) cannot make the page name another.
func (c *consoleReq) deleteLink() {
	if err := c.h.deleteLinkOp(c.ctx(), c.a.call(), c.param(0)); err != nil {
		c.fail(err)
		return
	}
	c.seeOther(consolePrefix + "/links?deleted=" + url.QueryEscape(c.param(0)))
}

// deletedName is the name the link id had when it was deleted, read from
// the deletion's activity event among its latest (events of one instant
// come in any order); "" when there is none.
func (c *consoleReq) deletedName(id string) string {
	if len(id) > maxCursor {
		return ""
	}
	evs, _, err := c.h.eventsOp(c.ctx(), store.EventSubject{Kind: store.EventLink, ID: id}, 5, "")
	if err != nil {
		return ""
	}
	for _, ev := range evs {
		if ev.Event == "link_deleted" {
			return ev.Details["name"]
		}
	}
	return ""
}

// revokeGrantForm asks before revoking one user's authorization of a link.
func (c *consoleReq) revokeGrantForm() {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	g, err := c.h.findGrant(c.ctx(), link.ClientID, c.param(1))
	if err != nil {
		c.fail(err)
		return
	}
	if g.Revoked { // nothing to ask: the link's page shows it revoked
		c.seeOther(linkPath(link.ID, "?revoked="+url.QueryEscape(g.UserID)))
		return
	}
	render(c, http.StatusOK, "Revoke "+g.Username+"'s access", "links", deletePage, deleteData{
		CSRF: c.a.sess.CSRF, Action: linkPath(link.ID, "/grants/"+url.PathEscape(g.ID)+"/revoke"), Cancel: linkPath(link.ID, ""),
		Title:  "Revoke " + g.Username + "'s access to " + link.Name + "?",
		Text:   "Revoking " + g.Username + "'s authorization of " + link.Name + " stops every token it issued at once: the application can no longer act for " + g.Username + " until they approve it again.",
		Button: "Revoke " + g.Username + "'s access",
	})
}

func (c *consoleReq) revokeGrant() {
	g, err := c.h.revokeGrantOp(c.ctx(), c.a.call(), c.param(0), c.param(1))
	if err != nil {
		c.fail(err)
		return
	}
	c.seeOther(linkPath(c.param(0), "?revoked="+url.QueryEscape(g.UserID)))
}

// conflictField reads an operation's 409 about one field (a resource URL
// another link has) as the form's error under that field.
func conflictField(err error) ([]fieldProblem, bool) {
	e, ok := err.(*apiError)
	if !ok || e.Status != http.StatusConflict || e.field == "" {
		return nil, false
	}
	return []fieldProblem{{e.field, e.Message}}, true
}

// isAPIConflict reports an operation's 409.
func isAPIConflict(err error) bool {
	e, ok := err.(*apiError)
	return ok && e.Status == http.StatusConflict
}
