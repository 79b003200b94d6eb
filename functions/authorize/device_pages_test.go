package authorize

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"

	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/page/component"
)

// devicePageCases are the device pages with each kind of content, built
// from v (a plain word, or a hostile value) both ways: as the templ
// component and as the page.Buffer page it replaced.
func devicePageCases(v string) []struct {
	name      string
	component templ.Component
	buffer    func(*page.Buffer)
} {
	s := site{Provider: v, Contact: v}
	scopes := []scopeItem{{Name: v, Description: v, Includes: []string{v, "View projects"}}, {Name: "openid", Description: v}}
	form := deviceFormData{site: s, CSRF: v}
	prefilled := deviceFormData{site: s, CSRF: v, Code: v, Prefilled: true}
	wrong := deviceFormData{site: s, CSRF: v, Code: v, Message: v}
	bare := deviceFormData{CSRF: v}
	consent := deviceConsentData{site: s, AppName: v, Username: v, Code: v, Scopes: scopes, CSRF: v}
	noScopes := deviceConsentData{site: s, AppName: v, Username: v, Code: v, CSRF: v}
	approved, denied := deviceDone{site: s, Approved: true}, deviceDone{site: s}
	return []struct {
		name      string
		component templ.Component
		buffer    func(*page.Buffer)
	}{
		{"form", deviceFormPage(form), func(b *page.Buffer) { bufferDeviceFormPage(b, form) }},
		{"form prefilled", deviceFormPage(prefilled), func(b *page.Buffer) { bufferDeviceFormPage(b, prefilled) }},
		{"form wrong", deviceFormPage(wrong), func(b *page.Buffer) { bufferDeviceFormPage(b, wrong) }},
		{"form without provider or contact", deviceFormPage(bare), func(b *page.Buffer) { bufferDeviceFormPage(b, bare) }},
		{"consent", deviceConsentPage(consent), func(b *page.Buffer) { bufferDeviceConsentPage(b, consent) }},
		{"consent without scopes", deviceConsentPage(noScopes), func(b *page.Buffer) { bufferDeviceConsentPage(b, noScopes) }},
		{"approved", deviceDonePage(approved), func(b *page.Buffer) { bufferDeviceDonePage(b, approved) }},
		{"denied", deviceDonePage(denied), func(b *page.Buffer) { bufferDeviceDonePage(b, denied) }},
	}
}

// TestDevicePagesAsBefore: each device page as a component is the page
// page.Buffer built, element for element (the same elements, attributes
// and values in the same order, and each element's text the same once
// runs of white space are one space), with plain values and with a hostile
// one: the components escape every value as Buffer.Fill did. Only the white
// space between elements differs, which a browser does not show.
func TestDevicePagesAsBefore(t *testing.T) {
	// hostile without the NUL of pages_test.go's: shared.EscapeHTML writes NUL as
	// U+FFFD, templ leaves it, and HTML parsers drop it from text and turn
	// it into U+FFFD in attributes (TestDevicePagesNUL).
	hostileNoNUL := strings.TrimSuffix(hostile, "\x00")
	for _, v := range []string{"VALUE", hostileNoNUL} {
		for _, c := range devicePageCases(v) {
			t.Run(c.name, func(t *testing.T) {
				var got bytes.Buffer
				if err := c.component.Render(context.Background(), &got); err != nil {
					t.Fatalf("render: %v", err)
				}
				var want page.Buffer
				c.buffer(&want)
				g, w := outline(t, got.String()), outline(t, want.String())
				if g != w {
					t.Errorf("got the page\n%s\nwant\n%s", g, w)
				}
				if v != "VALUE" && (strings.Contains(got.String(), "<script") || strings.Contains(got.String(), "<!--")) {
					t.Errorf("got a page with the value unescaped:\n%s", got.String())
				}
			})
		}
	}
}

// outline is a page's elements, one a line, indented by depth, each with
// its attributes and its text content (white space collapsed and trimmed).
func outline(t *testing.T, s string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var b strings.Builder
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		switch n.Type {
		case html.ElementNode:
			b.WriteString(strings.Repeat("  ", depth) + "<" + n.Data)
			for _, a := range n.Attr {
				b.WriteString(" " + a.Key + "=" + strings.ReplaceAll(a.Val, "\n", `\n`))
			}
			b.WriteString("> " + strings.Join(strings.Fields(textOf(n)), " ") + "\n")
			depth++
		case html.DoctypeNode:
			b.WriteString("<!doctype " + n.Data + ">\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth)
		}
	}
	walk(doc, 0)
	return b.String()
}

// textOf is n's text content, with a space around each element that is
// not inline (white space between blocks shows as none), without the
// style sheet's.
func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "style" {
			continue // shown on its own line only
		}
		if c.Type == html.ElementNode && !inline[c.Data] {
			b.WriteString(" " + textOf(c) + " ")
		} else {
			b.WriteString(textOf(c))
		}
	}
	return b.String()
}

// inline are the inline elements of the pages.
var inline = map[string]bool{"a": true, "strong": true, "span": true, "code": true, "button": true, "time": true}

// TestDevicePagesNUL: templ escapes text with html.EscapeString, which
// leaves NUL as it is (shared.EscapeHTML writes U+FFFD): the parsed page has
// no NUL (dropped from text, U+FFFD in attributes), as HTML requires.
func TestDevicePagesNUL(t *testing.T) {
	var b bytes.Buffer
	d := deviceFormData{site: site{Provider: "a\x00b"}, Code: "c\x00d", Message: "e\x00f"}
	if err := deviceFormPage(d).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got := outline(t, b.String())
	for _, want := range []string{"<p class=brand> ab", "<p class=error role=alert id=user_code-error> ef", "value=c\uFFFDd"} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant a line with %q", got, want)
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
func (d discard) reset()                    { clear(d.h) }
func newDiscard() discard                   { return discard{h: http.Header{}} }

// BenchmarkDevicePages renders each device page as a templ component
// (page.RenderComponent) and as the page.Buffer page it replaced
// (page.Render), headers included, as a handler does.
func BenchmarkDevicePages(b *testing.B) {
	s := site{Provider: "Example Corp", Contact: "Write to help@example.com"}
	form := deviceFormData{site: s, CSRF: "Xq3v9Yc0Rk2mWb7TnLp4sA", Code: "BCDF-GHJK", Message: msgDeviceWrong}
	consent := deviceConsentData{site: s, AppName: "Deploy CLI", Username: "alice", Code: "BCDF-GHJK", CSRF: "Xq3v9Yc0Rk2mWb7TnLp4sA",
		Scopes: []scopeItem{
			{Name: "REPO_WRITE", Description: "Change projects and repositories", Includes: []string{"View projects and repositories"}},
			{Name: "openid", Description: "Know who you are"}, {Name: "offline_access", Description: "Stay connected when you are away"}}}
	w := newDiscard()
	b.Run("form/buffer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page.Render(w, http.StatusOK, bufferDeviceFormPage, form)
			w.reset()
		}
	})
	b.Run("form/templ", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			component.Render(w, http.StatusOK, deviceFormPage(form))
			w.reset()
		}
	})
	b.Run("consent/buffer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page.Render(w, http.StatusOK, bufferDeviceConsentPage, consent)
			w.reset()
		}
	})
	b.Run("consent/templ", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			component.Render(w, http.StatusOK, deviceConsentPage(consent))
			w.reset()
		}
	})
}
