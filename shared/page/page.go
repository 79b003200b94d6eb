// Package page builds the console's HTML pages without html/template: a
// Buffer whose Fill escapes each value for where it lands (text, an
// attribute value, a link target that must be a path of this site) and
// writes nothing where no escaping makes a value safe (Err), the common
// frame (Head, Foot, Style), Render, which sends a page with the page
// security headers of shared.SetPageHeaders, and the browser cookies the
// sign-in session lives in (Cookies). The end users' pages are templ
// components (shared/page/component).
//
// html/template is not used because executing a template makes the
// linker keep every exported method of every reachable type (it calls
// methods by name through reflect), which put megabytes of SDK code into
// the Lambda binaries (shared/lambdahttp's TestNoReflectMethod fails a
// binary that does). Buffer decides a value's context with a small HTML
// tokenizer over the markup written so far (context.go): it knows tags,
// attributes and their quoting, comments, and the raw text of script,
// style, title and textarea; it does not know which elements are open,
// nor decode character references in the markup.
//
// The package is pure: it imports nothing from AWS.
package page

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
)

// Render builds a page into a buffer and sends it (Send) with the page
// security headers (CSP with frame-ancestors 'none', X-Frame-Options DENY,
// Referrer-Policy no-referrer, Cache-Control no-store); formAction adds CSP
// form-action sources (shared.SetPageHeadersFormAction).
func Render[T any](w http.ResponseWriter, status int, page func(*Buffer, T), data T, formAction ...string) {
	var b Buffer
	page(&b, data)
	Send(w, status, &b, func(h http.Header) { shared.SetPageHeadersFormAction(h, formAction...) })
}

// Send writes a built page with status, after headers has set the
// response's headers. A page with a fault (Buffer.Err) is not sent: the
// answer is a bare 500 and one error log line naming the fault. A HEAD
// request gets the same status and headers: net/http drops the body.
func Send(w http.ResponseWriter, status int, b *Buffer, headers func(http.Header)) {
	if err := b.Err(); err != nil {
		slog.Error("page not sent", "error", err.Error())
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	headers(w.Header())
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// Buffer accumulates a page's HTML. It follows the markup written to it
// (by Fill or WriteString) as a browser's tokenizer does, so that Fill
// knows where each value lands and escapes it for there (context.go).
type Buffer struct {
	strings.Builder
	ctx tokenizer
	err error
}

// Fill writes format, a constant piece of markup, with each %s (a hole)
// replaced by the next value, escaped for where the hole is in the markup
// written so far (this call's and every earlier one's, so a tag may be
// split across calls):
//
//   - in text, or in the text of <title> or <textarea>: HTML-escaped
//     (shared.EscapeHTML);
//   - in a double-quoted attribute value: HTML-escaped, and when the
//     attribute holds a URL (href, action, formaction, src and the other
//     URL attributes of HTML, or a name containing "src", "uri" or "url"),
//     a value that starts the attribute goes through LocalURL first (a path on
//     this site, else "#"); a value after a path on this site ("/x...") or a
//     fragment ("#...") is only HTML-escaped, since it cannot change the
//     site the URL points to.
//
// Anywhere else (a single-quoted or unquoted attribute value, an event
// handler, a style or srcset attribute, a URL attribute after any other
// prefix, a tag or attribute name, a comment, inside <script> or <style>)
// the value is not written, and the Buffer records the fault (Err): the
// markup around a hole is constant, so a test that renders the page finds
// it. A value with no %s left is not written; a %s with no value left is
// dropped.
func (b *Buffer) Fill(format string, vals ...string) {
	for {
		i := strings.Index(format, "%s")
		if i < 0 {
			b.WriteString(format)
			return
		}
		b.WriteString(format[:i])
		if len(vals) > 0 {
			b.value(vals[0])
			vals = vals[1:]
		}
		format = format[i+2:]
	}
}

// LocalURL returns u when it is a path on this site made only of characters
// that need no escaping in a URL ("/account/...", never "//host" or a
// scheme such as javascript:), and "#" otherwise. The pages' links and form
// actions are built by the handlers (url.PathEscape for ids), so "#" marks
// a bug rather than an attack.
func LocalURL(u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.HasPrefix(u, "/\\") {
		return "#"
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`' {
			return "#"
		}
	}
	return u
}

// Head writes the frame's start: language, viewport, title, inline CSS
// readable at 375 px, visible focus.
func Head(b *Buffer, title string) {
	b.Fill(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
`, title)
	b.WriteString("<style>\n" + Style + "</style>\n</head>\n<body>\n<main>\n")
}

// Style is the style sheet of every page (Head inlines it; a page with
// its own frame, such as the console's, inlines it before its own rules),
// so that every page of the provider has one look.
const Style = `*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;line-height:1.5;color:#172b4d;background:#f4f5f7}
main{max-width:32rem;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:6px;box-shadow:0 1px 3px rgba(9,30,66,.25)}
h1{font-size:1.5rem;margin:0 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.25rem 0 .5rem;overflow-wrap:anywhere}
p,li{overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=password]{display:block;width:100%;font:inherit;padding:.5rem;border:2px solid #8993a4;border-radius:4px}
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;margin:1rem .5rem 0 0;border-radius:4px;border:2px solid #0052cc;background:#0052cc;color:#fff;cursor:pointer;min-height:44px}
button.secondary{background:#fff;color:#0052cc}
:focus-visible{outline:3px solid #ff8b00;outline-offset:2px}
a{color:#0052cc}
code{background:#f4f5f7;padding:.1rem .3rem;border-radius:3px;font-size:.9em;overflow-wrap:anywhere}
.error{color:#bf2600;font-weight:600}
.notice{background:#e3fcef;padding:.5rem .75rem;border-radius:4px}
.small{font-size:.9rem;color:#42526e}
ul.apps{list-style:none;padding:0}
ul.apps>li{border-top:1px solid #dfe1e6;padding:.5rem 0 1rem}
.brand{margin:0 0 1rem;font-size:.85rem;font-weight:600;letter-spacing:.02em;color:#42526e;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
.actions button{margin:0}
button.link{background:none;border:none;color:#0052cc;padding:0;margin:0;min-height:0;font-weight:400;text-decoration:underline}
button.danger{background:#de350b;border-color:#de350b;color:#fff}
details{margin:1rem 0}
summary{cursor:pointer;padding:.25rem 0}
details.developer{font-size:.9rem;color:#42526e;border-top:1px solid #dfe1e6;padding-top:.5rem}
details.confirm>summary{display:inline-block;font-weight:600;color:#bf2600;border:2px solid #de350b;border-radius:4px;padding:.5rem 1rem;min-height:44px}
details.confirm[open]{background:#ffebe6;border-radius:4px;padding:.75rem}
details.confirm[open]>summary{background:#fff}
ul.scopes{padding-left:1.25rem}
ul.scopes>li{margin:.35rem 0}
p.usercode,input[type=text].usercode{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.5rem;font-weight:700;letter-spacing:.1em}
p.usercode{background:#f4f5f7;padding:.5rem .75rem;border-radius:4px;text-align:center}
.warning{background:#fffae6;border-left:4px solid #ff8b00;padding:.5rem .75rem;border-radius:4px}
p.apphost{font-size:1.1rem;margin:-.5rem 0 1rem}
.host{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#deebff;padding:.1rem .4rem;border-radius:3px;overflow-wrap:anywhere}
ul.providers{list-style:none;padding:0;margin:1rem 0}
ul.providers>li{margin:.5rem 0}
a.provider{display:block;text-align:center;font-weight:600;padding:.6rem 1.2rem;border:2px solid #0052cc;border-radius:4px;color:#0052cc;background:#fff;text-decoration:none;min-height:44px;overflow-wrap:anywhere}
a.provider:hover{background:#deebff}
.divider{display:flex;align-items:center;gap:.75rem;color:#42526e;font-size:.9rem;margin:1.25rem 0 0}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid #dfe1e6}
`

// Brand writes the line that names the provider at the top of a page
// (config.Config.ProviderName), so that people know whose account a page
// is about.
func Brand(b *Buffer, provider string) {
	if provider != "" {
		b.Fill(`<p class="brand">%s</p>`+"\n", provider)
	}
}

// Foot writes the frame's end.
func Foot(b *Buffer) {
	b.WriteString("</main>\n</body>\n</html>\n")
}

// RFC3339 is t for a datetime attribute.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Day is t as a person reads it.
func Day(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// AllowScript adds to the Content-Security-Policy that Render (or
// shared.SetPageHeaders) set on h a script-src allowing exactly the inline
// script whose text is script (its SHA-256 hash source, CSP Level 2), so a
// page may carry a small script (copy buttons) and nothing else runs.
func AllowScript(h http.Header, script string) {
	sum := sha256.Sum256([]byte(script))
	h.Set("Content-Security-Policy", h.Get("Content-Security-Policy")+"; script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
}
