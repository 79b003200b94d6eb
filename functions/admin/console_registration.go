package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// The console's pages for links that applications register themselves:
//
//	GET  /console/registration, POST         the policy and the links waiting for approval (POST confirmed)
//	GET  /console/links/{id}/approve, POST   Approve a pending link (confirmed)
//	GET  /console/links/{id}/reject, POST    Reject it (confirmed)

// registrationSection is the navigation entry of the registration page.
const registrationSection = "registration"

// registrationRoutes are the console routes of this file.
func registrationRoutes() []consoleRoute {
	return []consoleRoute{
		{path: consolePrefix + "/registration", get: (*consoleReq).registrationPage, post: (*consoleReq).saveRegistration, confirmPost: true,
			multi: []string{"md_scope", "dr_scope"}},
		{path: consolePrefix + "/links/{id}/approve", get: func(c *consoleReq) { c.decisionForm(shared.StatusActive) },
			post: func(c *consoleReq) { c.decide(shared.StatusActive) }, confirm: true},
		{path: consolePrefix + "/links/{id}/reject", get: func(c *consoleReq) { c.decisionForm(shared.StatusRejected) },
			post: func(c *consoleReq) { c.decide(shared.StatusRejected) }, confirm: true},
	}
}

// registrationData fills the registration page.
type registrationData struct {
	CSRF    string
	Policy  shared.RegistrationPolicy
	Hosts   string // trusted hosts, one per line, as typed
	Days    string // idle days, as typed
	Errs    fieldErrors
	Table   permTable
	Pending []store.Link
	// More says that more links wait than the page lists.
	More     bool
	Notice   string
	Activity activity
}

// pendingPageSize is how many waiting links the registration page lists.
const pendingPageSize = 25

func (c *consoleReq) registrationPage() {
	p, err := c.h.registrationPolicy(c.ctx())
	if err != nil {
		c.fail(err)
		return
	}
	d := registrationData{Policy: p, Hosts: strings.Join(p.MetadataDocuments.TrustedHosts, "\n"),
		Days: strconv.Itoa(p.DynamicRegistration.IdleDays)}
	switch {
	case c.r.URL.Query().Get("saved") != "":
		d.Notice = "The policy was saved. The discovery documents show the change within 5 minutes."
	case c.r.URL.Query().Get("approved") != "":
		d.Notice = "The application was approved: its users can sign in to it now."
	case c.r.URL.Query().Get("rejected") != "":
		d.Notice = "The application was rejected: it stays listed under Application links, refused, until you delete it."
	}
	c.renderRegistration(http.StatusOK, d)
}

// renderRegistration fills the rest of d (the pending links, the
// activity) and renders the page.
func (c *consoleReq) renderRegistration(status int, d registrationData) {
	d.CSRF, d.Table = c.a.sess.CSRF, newPermTable(c.h.cfg.Catalog)
	pending, _, next, err := c.h.listLinksOp(c.ctx(), linkQuery{Sort: sortCreated, Filter: store.LinkFilter{Status: shared.StatusPending}}, pendingPageSize, "")
	if err != nil {
		c.fail(err)
		return
	}
	d.Pending, d.More = pending, next != ""
	d.Activity = c.activityOf(store.EventSubject{Kind: store.EventPolicy, ID: policySubject}, consolePrefix+"/registration")
	render(c, status, "Self-registration", registrationSection, registrationPage, d)
}

// saveRegistration reads the policy form and saves it whole.
func (c *consoleReq) saveRegistration() {
	f := c.form
	var p shared.RegistrationPolicy
	p.MetadataDocuments.Mode = f.Get("md_mode")
	p.MetadataDocuments.Scopes = shared.NonNil(f["md_scope"])
	p.MetadataDocuments.TrustedHosts = []string{}
	for line := range strings.Lines(f.Get("trusted_hosts")) {
		if h := strings.TrimSpace(line); h != "" {
			p.MetadataDocuments.TrustedHosts = append(p.MetadataDocuments.TrustedHosts, h)
		}
	}
	p.DynamicRegistration.Mode = f.Get("dr_mode")
	p.DynamicRegistration.Scopes = shared.NonNil(f["dr_scope"])
	days := strings.TrimSpace(f.Get("idle_days"))
	if n, err := strconv.Atoi(days); err == nil {
		p.DynamicRegistration.IdleDays = n
	}
	if _, err := c.h.putRegistrationPolicyOp(c.ctx(), c.a.call(), p); err != nil {
		e, ok := err.(*apiError)
		if !ok || len(e.fields) == 0 {
			c.fail(err)
			return
		}
		var ps []fieldProblem
		hosts := false
		for _, fe := range e.fields {
			if strings.HasPrefix(fe.Field, "metadata_documents.trusted_hosts") {
				if hosts {
					continue // the first bad host; one field holds them all
				}
				hosts, fe.Field = true, "metadata_documents.trusted_hosts"
			}
			ps = append(ps, fe)
		}
		errs := plainErrors(ps, policyLabel)
		c.renderRegistration(http.StatusUnprocessableEntity, registrationData{Policy: p, Hosts: f.Get("trusted_hosts"), Days: days, Errs: errs})
		return
	}
	c.seeOther(consolePrefix + "/registration?saved=1")
}

// policyInputs are the policy form's fields, in the form's order, with
// the input an error summary's link leads to.
var policyInputs = []formInput{
	{"dynamic_registration.mode", "dr_mode"},
	{"dynamic_registration.scopes", "dr_scope-fieldset"},
	{"dynamic_registration.idle_days", "idle_days"},
	{"metadata_documents.mode", "md_mode"},
	{"metadata_documents.trusted_hosts", "trusted_hosts"},
	{"metadata_documents.scopes", "md_scope-fieldset"},
}

// policyLabel names a policy field as the form shows it.
func policyLabel(field string) string {
	switch field {
	case "dynamic_registration.mode":
		return "Registration"
	case "dynamic_registration.scopes":
		return "The most a registered application may ask for"
	case "dynamic_registration.idle_days":
		return "Days unused before deletion"
	case "metadata_documents.mode":
		return "Client ID metadata documents"
	case "metadata_documents.trusted_hosts":
		return "Trusted hosts"
	case "metadata_documents.scopes":
		return "The most such an application may ask for"
	}
	return field
}

// modeChoice is one radio button of a mode.
type modeChoice struct{ value, label, help string }

var (
	dynamicModes = []modeChoice{
		{shared.ModeOff, "Off", "Applications cannot register themselves: the registration endpoint answers 404 and is not advertised."},
		{shared.ModeApproval, "With your approval", "An application that registers waits, listed below, until an administrator approves it."},
		{shared.ModeOpen, "Open", "An application that registers can sign users in at once, within the permissions below. Users still approve it themselves."},
	}
	documentModes = []modeChoice{
		{shared.ModeOff, "Off", "Applications cannot name themselves by the URL of a metadata document."},
		{shared.ModeTrustedHosts, "Trusted hosts only", "A document from one of the hosts below becomes a link at its first use; any other host is refused."},
		{shared.ModeApproval, "With your approval", "An application's first use makes a link that waits, listed below, until an administrator approves it."},
	}
)

func modeField(b *page.Buffer, name, legend, current string, choices []modeChoice, errs fieldErrors, field string) {
	b.Fill(`<fieldset><legend>%s</legend>`+"\n", legend)
	writeFieldError(b, errs, field, name)
	for i, m := range choices {
		chk := ""
		if m.value == current {
			chk = " checked"
		}
		id := name + "_" + m.value
		if i == 0 {
			id = name // where the error summary leads
		}
		b.Fill(`<label class="radio"><input type="radio" id="%s" name="%s" value="%s"`+chk+inputAttrs(errs, field, name)+`> <span><strong>%s</strong><br><span class="small">%s</span></span></label>`+"\n",
			id, name, m.value, m.label, m.help)
	}
	b.WriteString("</fieldset>\n")
}

// originLabel is how the console names a link's origin.
func originLabel(origin string) string {
	switch origin {
	case shared.OriginDynamic:
		return "Registered itself"
	case shared.OriginMetadataDocument:
		return "Metadata document"
	}
	return "Created by an administrator"
}

func registrationPage(b *page.Buffer, d registrationData) {
	b.WriteString(`<h1>Self-registration</h1>
<p>Some applications, such as AI agents and command-line tools, link themselves to this service instead of asking you for a link: by registering (OAuth 2.0 Dynamic Client Registration) or by naming a metadata document they publish as their client ID. Here you decide whether they may, and how much they may ask for.</p>
`)
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}

	b.WriteString(`<h2 id="pending">Waiting for your approval</h2>` + "\n")
	if len(d.Pending) == 0 {
		b.WriteString("<p>No application is waiting.</p>\n")
	} else {
		b.WriteString(`<table class="cards">
<thead><tr><th scope="col">Application</th><th scope="col">How it came</th><th scope="col">Redirect host</th><th scope="col">Asked</th><th scope="col"><span class="visually-hidden">Decision</span></th></tr></thead>
<tbody>
`)
		for _, l := range d.Pending {
			b.Fill(`<tr><td data-label="Application"><a href="%s">%s</a></td><td data-label="How it came">%s</td><td data-label="Redirect host">%s</td><td data-label="Asked"><time datetime="%s">%s</time></td>`,
				linkPath(l.ID, ""), l.Name, originLabel(l.Origin), redirectHosts(l.RedirectURIs), page.RFC3339(l.CreatedAt), page.Day(l.CreatedAt))
			b.Fill(`<td><div class="decide"><a class="button" href="%s">Approve <span class="visually-hidden">%s</span></a> <a class="button secondary" href="%s">Reject <span class="visually-hidden">%s</span></a></div></td></tr>`+"\n",
				linkPath(l.ID, "/approve"), l.Name, linkPath(l.ID, "/reject"), l.Name)
		}
		b.WriteString("</tbody></table>\n")
		if d.More {
			b.WriteString(`<p><a href="/console/links?status=pending">See every application waiting</a></p>` + "\n")
		}
	}

	b.WriteString(`<h2 id="policy">Policy</h2>` + "\n")
	errorSummary(b, d.Errs, policyInputs)
	b.WriteString(`<form method="post" action="/console/registration" novalidate>` + "\n")
	csrfInput(b, d.CSRF)
	dr, md := d.Policy.DynamicRegistration, d.Policy.MetadataDocuments

	b.WriteString(`<h3>Applications that register themselves</h3>` + "\n")
	modeField(b, "dr_mode", "Registration (RFC 7591)", dr.Mode, dynamicModes, d.Errs, "dynamic_registration.mode")
	writePermTable(b, d.Table, "dr_scope", "The most a registered application may ask for", dr.Scopes, d.Errs["dynamic_registration.scopes"])
	b.Fill(`<label for="idle_days">Days unused before deletion</label>
<input type="number" id="idle_days" name="idle_days" min="1" max="365" inputmode="numeric" value="%s"`, d.Days)
	b.WriteString(inputAttrs(d.Errs, "dynamic_registration.idle_days", "idle_days") + ">\n")
	b.WriteString(`<p class="hint">A registered application that has not been used for this long, and that no user has a live authorization for, is deleted by the daily clean-up. 1 to 365.</p>` + "\n")
	writeFieldError(b, d.Errs, "dynamic_registration.idle_days", "idle_days")

	b.WriteString(`<h3>Applications named by a metadata document</h3>` + "\n")
	modeField(b, "md_mode", "Client ID metadata documents", md.Mode, documentModes, d.Errs, "metadata_documents.mode")
	b.Fill(`<label for="trusted_hosts">Trusted hosts</label>
<textarea id="trusted_hosts" name="trusted_hosts" rows="4" autocapitalize="none" spellcheck="false"`)
	b.WriteString(inputAttrs(d.Errs, "metadata_documents.trusted_hosts", "trusted_hosts"))
	b.Fill(`>%s</textarea>`+"\n", d.Hosts)
	b.WriteString(`<p class="hint">One per line: a host name such as <code>app.example.com</code>, an IP address, or <code>.example.com</code> for every host under example.com (not example.com itself). Up to 100.</p>` + "\n")
	writeFieldError(b, d.Errs, "metadata_documents.trusted_hosts", "trusted_hosts")
	writePermTable(b, d.Table, "md_scope", "The most such an application may ask for", md.Scopes, d.Errs["metadata_documents.scopes"])

	b.WriteString(`<button type="submit">Save policy</button>
</form>
`)
	activitySection(b, d.Activity)
}

// decisionData fills the Approve and Reject pages.
type decisionData struct {
	CSRF    string
	Link    store.Link
	Approve bool
	Catalog *shared.Catalog
}

func (c *consoleReq) decisionForm(status string) {
	link, err := c.h.getLinkOp(c.ctx(), c.param(0))
	if err != nil {
		c.fail(err)
		return
	}
	if link.Origin == shared.OriginAdmin || link.Origin == "" {
		c.fail(errConflict("this link was created by an administrator; only a link an application registered itself is approved or rejected"))
		return
	}
	verb := "Approve "
	if status == shared.StatusRejected {
		verb = "Reject "
	}
	render(c, http.StatusOK, verb+link.Name, registrationSection, decisionPage,
		decisionData{CSRF: c.a.sess.CSRF, Link: link, Approve: status == shared.StatusActive, Catalog: c.h.cfg.Catalog})
}

func decisionPage(b *page.Buffer, d decisionData) {
	l := d.Link
	b.Fill(`<p class="small"><a href="/console/registration">Self-registration</a> ›</p>
<h1>%s</h1>
`, map[bool]string{true: "Approve " + l.Name + "?", false: "Reject " + l.Name + "?"}[d.Approve])
	b.WriteString("<p>This application linked itself to this service; nobody here created it. Check that you know it before you let it ask your users for access.</p>\n")
	b.WriteString(`<dl class="settings">` + "\n")
	b.Fill(`<dt>Name</dt><dd>%s</dd>
<dt>How it came</dt><dd>%s</dd>
<dt>Client ID</dt><dd><code>%s</code></dd>
<dt>Type</dt><dd>%s</dd>
`, l.Name, originLabel(l.Origin), l.ClientID, clientTypeLabel(l.ClientType))
	b.WriteString("<dt>Redirect URLs</dt><dd>")
	if len(l.RedirectURIs) == 0 {
		b.WriteString("None")
	}
	for i, u := range l.RedirectURIs {
		if i > 0 {
			b.WriteString("<br>")
		}
		b.Fill("<code>%s</code>", u)
	}
	b.WriteString("</dd>\n<dt>Permissions</dt><dd>")
	scopeList(b, d.Catalog, l.Scopes)
	b.Fill("</dd>\n<dt>Asked</dt><dd><time datetime=\"%s\">%s</time></dd>\n</dl>\n", page.RFC3339(l.CreatedAt), page.Day(l.CreatedAt))
	if d.Approve {
		b.WriteString("<p>Once approved, users can sign in to it and approve its access themselves, within the permissions above.</p>\n")
		b.Fill(`<form method="post" action="%s">`, linkPath(l.ID, "/approve"))
		csrfInput(b, d.CSRF)
		b.Fill(`<button type="submit">Approve %s</button> <a href="/console/registration">Cancel</a></form>`+"\n", l.Name)
		return
	}
	b.WriteString("<p>A rejected application stays listed, refused: its next attempt shows its user that you do not allow it. Delete the link to forget it.</p>\n")
	b.Fill(`<form method="post" action="%s">`, linkPath(l.ID, "/reject"))
	csrfInput(b, d.CSRF)
	b.Fill(`<button type="submit" class="danger">Reject %s</button> <a href="/console/registration">Cancel</a></form>`+"\n", l.Name)
}

func (c *consoleReq) decide(status string) {
	if _, err := c.h.decideLinkOp(c.ctx(), c.a.call(), c.param(0), status); err != nil {
		c.fail(err)
		return
	}
	if status == shared.StatusActive {
		c.seeOther(consolePrefix + "/registration?approved=1")
	} else {
		c.seeOther(consolePrefix + "/registration?rejected=1")
	}
}

// linkFilterForm writes the links list's filter: a GET form of origin and
// status that keeps the list's other choices (unused_days, sort).
func linkFilterForm(b *page.Buffer, q linkQuery) {
	b.WriteString(`<form method="get" action="/console/links" class="find filter">` + "\n")
	for k, vs := range (linkQuery{UnusedDays: q.UnusedDays, Sort: q.Sort}).values() {
		b.Fill(`<input type="hidden" name="%s" value="%s">`, k, vs[0])
	}
	sel := func(name, label, cur string, opts [][2]string) {
		b.Fill(`<div><label for="%s">%s</label><select id="%s" name="%s">`, name, label, name, name)
		for _, o := range opts {
			s := ""
			if o[0] == cur {
				s = " selected"
			}
			b.Fill(`<option value="%s"`+s+`>%s</option>`, o[0], o[1])
		}
		b.WriteString("</select></div>\n")
	}
	sel("origin", "Created by", q.Filter.Origin, [][2]string{{"", "Anyone"}, {shared.OriginAdmin, "An administrator"},
		{shared.OriginDynamic, "The application (registration)"}, {shared.OriginMetadataDocument, "The application (metadata document)"}})
	sel("status", "Status", q.Filter.Status, [][2]string{{"", "Any"}, {shared.StatusActive, "Approved"},
		{shared.StatusPending, "Waiting for approval"}, {shared.StatusRejected, "Rejected"}})
	b.WriteString(`<button type="submit" class="secondary">Show</button>` + "\n</form>\n")
}

// linkStatusBadge is a link's status in the list: waiting, rejected,
// enabled or disabled.
func linkStatusBadge(b *page.Buffer, l store.Link) {
	switch l.Status {
	case shared.StatusPending:
		b.WriteString(`<span class="status idle">Waiting for approval</span>`)
	case shared.StatusRejected:
		b.WriteString(`<span class="status off">Rejected</span>`)
	default:
		statusBadge(b, l.Enabled)
	}
}

// linkKindLabel is the first words of a link's type in the list: who made
// it.
func linkKindLabel(l store.Link) string {
	switch l.Origin {
	case shared.OriginDynamic:
		return "Registered itself"
	case shared.OriginMetadataDocument:
		return "Metadata document"
	}
	return "External application"
}
