package page

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLocalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/account/authorizations", "/account/authorizations"},
		{"/account/authorizations/a%2Fb%20c/revoke", "/account/authorizations/a%2Fb%20c/revoke"},
		{"/console/links?after=x", "/console/links?after=x"},
		{"", "#"},
		{"javascript:alert(1)", "#"},
		{"https://evil.example/", "#"},
		{"//evil.example/", "#"},
		{`/\evil.example/`, "#"},
		{`/a"onmouseover="x`, "#"},
		{"/a b", "#"},
		{"/a<b", "#"},
		{"/é", "#"},
	}
	for _, tc := range tests {
		if got := LocalURL(tc.in); got != tc.want {
			t.Errorf("LocalURL(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFill(t *testing.T) {
	tests := []struct {
		format string
		vals   []string
		want   string
	}{
		{"<p>%s</p>", []string{"<b>"}, "<p>&lt;b&gt;</p>"},
		{"%s and %s", []string{"a", "&"}, "a and &amp;"},
		{"100% of %s", []string{"%s"}, "100% of %s"},
		{"no values %s", nil, "no values "},
		{"extra", []string{"x"}, "extra"},
	}
	for _, tc := range tests {
		var b Buffer
		b.Fill(tc.format, tc.vals...)
		if got := b.String(); got != tc.want {
			t.Errorf("Fill(%q, %q): got %q, want %q", tc.format, tc.vals, got, tc.want)
		}
	}
}

// TestFillContexts: each value is escaped for where it lands, decided from
// the markup before it, written in one call or several; a hole where no
// escaping makes a value safe writes nothing and sets Err.
func TestFillContexts(t *testing.T) {
	const evil = `javascript:alert(1)"'<x>&`
	tests := []struct {
		name   string
		pieces []string // markup; "%s" pieces are holes filled with evil (or val)
		val    string
		want   string // "" with fault: the markup without the values
		fault  bool
	}{
		{name: "text", pieces: []string{"<p>%s</p>"}, want: "<p>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</p>"},
		{name: "after a tag split across calls", pieces: []string{"<p", ` class="a">`, "%s"}, want: `<p class="a">javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;`},
		{name: "title", pieces: []string{"<title>%s</title><p>%s</p>"}, want: "<title>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</title><p>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</p>"},
		{name: "textarea", pieces: []string{`<textarea name="m">%s</textarea>`}, want: `<textarea name="m">javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</textarea>`},
		{name: "attribute", pieces: []string{`<input value="%s">`}, want: `<input value="javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "attribute after others", pieces: []string{`<input type=text checked id='a' data-x="%s">`}, want: `<input type=text checked id='a' data-x="javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "attribute split across calls", pieces: []string{`<input name="x" value="`, "%s", `">`}, want: `<input name="x" value="javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "href", pieces: []string{`<a href="%s">%s</a>`}, want: `<a href="#">javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</a>`},
		{name: "href local", val: "/console/links?a=1&b=2", pieces: []string{`<a href="%s">`}, want: `<a href="/console/links?a=1&amp;b=2">`},
		{name: "href off-site", val: "https://evil.example/", pieces: []string{`<a class="x" HREF="%s">`}, want: `<a class="x" HREF="#">`},
		{name: "href protocol-relative", val: "//evil.example/", pieces: []string{`<a href="%s">`}, want: `<a href="#">`},
		{name: "action", val: "/console/x", pieces: []string{`<form method="post" action="%s">`}, want: `<form method="post" action="/console/x">`},
		{name: "formaction", pieces: []string{`<button formaction="%s">`}, want: `<button formaction="#">`},
		{name: "src", pieces: []string{`<img src="%s">`}, want: `<img src="#">`},
		{name: "data-url", pieces: []string{`<div data-url="%s">`}, want: `<div data-url="#">`},
		{name: "fragment", pieces: []string{`<a href="#%s">`}, want: `<a href="#javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "after a path", pieces: []string{`<a href="/console/links?after=%s">`}, want: `<a href="/console/links?after=javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "local value then path", val: "/console/a", pieces: []string{`<a href="%s/edit">`}, want: `<a href="/console/a/edit">`},
		{name: "a value and markup make //host", val: "/", pieces: []string{`<a href="%s/evil.example">`}, want: `<a href="//evil.example">`, fault: true},
		{name: "after a bare slash", val: "evil.example", pieces: []string{`<a href="/%s">`}, fault: true},
		{name: "after a scheme", val: "evil.example", pieces: []string{`<a href="https://%s">`}, fault: true},
		{name: "after white space", val: "/x", pieces: []string{`<a href=" %s">`}, fault: true},
		{name: "single-quoted", pieces: []string{`<input value='%s'>`}, fault: true},
		{name: "unquoted", pieces: []string{`<input value=%s>`}, fault: true},
		{name: "event handler", pieces: []string{`<a onclick="%s">`}, fault: true},
		{name: "event handler, data-", pieces: []string{`<a data-onclick="%s">`}, fault: true},
		{name: "style attribute", pieces: []string{`<p style="%s">`}, fault: true},
		{name: "srcset", pieces: []string{`<img srcset="%s">`}, fault: true},
		{name: "meta content", pieces: []string{`<meta http-equiv="refresh" content="%s">`}, fault: true},
		{name: "script", pieces: []string{"<script>var x = 1; %s</script>"}, fault: true},
		{name: "script split", pieces: []string{"<SCRIPT type=\"module\">", "if (a<b) {", "%s"}, fault: true},
		{name: "style", pieces: []string{"<style>p{color:red}</sty", "%s"}, fault: true},
		{name: "comment", pieces: []string{"<!-- a -- b %s -->"}, fault: true},
		{name: "declaration", pieces: []string{"<!doctype %s>"}, fault: true},
		{name: "tag name", pieces: []string{"<%s>"}, fault: true},
		{name: "tag name, later", pieces: []string{"<p%s>"}, fault: true},
		{name: "attribute name", pieces: []string{`<p %s="x">`}, fault: true},
		{name: "after a value", pieces: []string{`<p class="x"%s>`}, fault: true},
		{name: "end tag", pieces: []string{"</p%s>"}, fault: true},
		{name: "title end tag", pieces: []string{"<title>a</title%s>"}, fault: true},
		{name: "title, after <", pieces: []string{"<title>a<%s"}, fault: true},
		{name: "after </script>", pieces: []string{"<script>x()</script >", "<p>%s</p>"}, want: "<script>x()</script ><p>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;</p>"},
		{name: "after </style> in capitals", pieces: []string{"<style>a{}</STYLE>%s"}, want: "<style>a{}</STYLE>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;"},
		{name: "after a comment", pieces: []string{"<!-- <a href=' --><p title=\"%s\">"}, want: `<!-- <a href=' --><p title="javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;">`},
		{name: "after an empty comment", pieces: []string{"<!---->%s"}, want: "<!---->javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;"},
		{name: "after a quoted >", pieces: []string{`<p title="a>b">%s`}, want: `<p title="a>b">javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;`},
		{name: "after a single-quoted \"", pieces: []string{`<p title='"'>%s`}, want: `<p title='"'>javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;`},
		{name: "text with <", pieces: []string{"a < b %s"}, want: "a < b javascript:alert(1)&#34;&#39;&lt;x&gt;&amp;"},
	}
	for _, tc := range tests {
		val := evil
		if tc.val != "" {
			val = tc.val
		}
		var b Buffer
		for _, p := range tc.pieces {
			if strings.Contains(p, "%s") {
				vals := make([]string, strings.Count(p, "%s"))
				for i := range vals {
					vals[i] = val
				}
				b.Fill(p, vals...)
			} else {
				b.WriteString(p)
			}
		}
		got, err := b.String(), b.Err()
		if tc.fault {
			if err == nil {
				t.Errorf("%s: got %q and no fault, want a fault", tc.name, got)
			}
			if tc.want == "" {
				tc.want = strings.ReplaceAll(strings.Join(tc.pieces, ""), "%s", "")
			}
			if got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q and no fault", tc.name, got, err, tc.want)
		}
	}
}

// TestRenderFault: a page with a fault is not sent.
func TestRenderFault(t *testing.T) {
	w := httptest.NewRecorder()
	Render(w, http.StatusOK, func(b *Buffer, v string) { b.Fill(`<a onclick="%s">x</a>`, v) }, "alert(1)")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "alert") {
		t.Errorf("got %d %q, want a bare 500", w.Code, w.Body.String())
	}
}

// TestRender checks the page security headers SPEC asks of every page, the
// status, and that the frame holds the escaped title.
func TestRender(t *testing.T) {
	w := httptest.NewRecorder()
	Render(w, http.StatusTeapot, func(b *Buffer, title string) {
		Head(b, title)
		b.Fill("<h1>%s</h1>", title)
		Foot(b)
	}, "<T>", "https://client.example")
	if w.Code != http.StatusTeapot {
		t.Errorf("got status %d, want %d", w.Code, http.StatusTeapot)
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "form-action 'self' https://client.example", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("got CSP %q, want it to contain %q", csp, want)
		}
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("got %s %q, want %q", k, got, want)
		}
	}
	body := w.Body.String()
	if !strings.Contains(body, "<title>&lt;T&gt;</title>") || !strings.HasSuffix(body, "</html>\n") {
		t.Errorf("got body %q, want the escaped title in a complete frame", body)
	}
}

func TestDates(t *testing.T) {
	at := time.Date(2026, 5, 1, 14, 3, 0, 0, time.FixedZone("x", 3600))
	if got, want := RFC3339(at), "2026-05-01T13:03:00Z"; got != want {
		t.Errorf("RFC3339: got %q, want %q", got, want)
	}
	if got, want := Day(at), "1 May 2026 13:03 UTC"; got != want {
		t.Errorf("Day: got %q, want %q", got, want)
	}
}
