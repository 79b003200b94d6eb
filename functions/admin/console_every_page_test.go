package admin

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	nethtml "golang.org/x/net/html"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/page"
)

// hostileValue is put in every string of a page's data: markup that would
// open an element, an event handler and a comment if it were written as
// it is, starting with a scheme that runs script if it reached a link.
const hostileValue = `javascript:alert(1)//"'><img src=x onerror=alert(1) id=evil>&amp;<!--`

// pageFiller fills every field of a page's data (exported or not) with s:
// each string is s, each slice has one element, each map one entry, each
// pointer a value, each bool is on, each number is n. The scope catalog
// and the permission table built from it are the ones of cat.
type pageFiller struct {
	s   string
	on  bool
	n   int64
	cat *shared.Catalog
	at  time.Time
}

var (
	catalogType   = reflect.TypeFor[*shared.Catalog]()
	permTableType = reflect.TypeFor[permTable]()
	timeType      = reflect.TypeFor[time.Time]()
)

func (f pageFiller) fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	if !v.CanSet() {
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	switch v.Type() {
	case catalogType:
		v.Set(reflect.ValueOf(f.cat))
		return
	case permTableType:
		v.Set(reflect.ValueOf(newPermTable(f.cat)))
		return
	case timeType:
		v.Set(reflect.ValueOf(f.at))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.s)
	case reflect.Bool:
		v.SetBool(f.on)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(f.n)
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.n))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(f.s))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		f.fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		f.fill(e, depth+1)
		m.SetMapIndex(reflect.ValueOf(f.s).Convert(v.Type().Key()), e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		if pkg := v.Type().PkgPath(); pkg == "sync" || strings.HasPrefix(pkg, "sync/") {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f.fill(v.Field(i), depth+1)
		}
	}
}

// consolePage renders body with data and frame filled by f.
func consolePage[T any](body func(*page.Buffer, T)) func(pageFiller) *httptest.ResponseRecorder {
	return func(f pageFiller) *httptest.ResponseRecorder {
		var d T
		var fr frame
		f.fill(reflect.ValueOf(&d).Elem(), 0)
		f.fill(reflect.ValueOf(&fr).Elem(), 0)
		w := httptest.NewRecorder()
		renderConsole(w, 200, fr, body, d)
		return w
	}
}

// everyConsolePage is every page body of the console.
var everyConsolePage = map[string]func(pageFiller) *httptest.ResponseRecorder{
	"idp-list":      consolePage(idpListPage),
	"idp-show":      consolePage(idpShowPage),
	"idp-form":      consolePage(idpFormPage),
	"continue":      consolePage(continuePage),
	"links":         consolePage(linksPage),
	"link-form":     consolePage(linkFormPage),
	"credentials":   consolePage(credentialsPage),
	"link":          consolePage(linkPage),
	"rotate":        consolePage(rotatePage),
	"delete":        consolePage(deletePage),
	"login":         consolePage(consoleLoginPage),
	"message":       consolePage(messagePage),
	"confirm":       consolePage(confirmPage),
	"registration":  consolePage(registrationPage),
	"decision":      consolePage(decisionPage),
	"users":         consolePage(usersPage),
	"user-form":     consolePage(userFormPage),
	"keys":          consolePage(keysPage),
	"passkey":       consolePage(passkeyPage),
	"passkey-need":  consolePage(passkeyNeededPage),
	"enroll":        consolePage(enrollFormPage),
	"passkeys-list": consolePage(writePasskeySection),
}

// pageVariants fills the pages with a plain word, a path of this site (so
// that link fields hold a link) and the hostile value, each with every
// flag off and on.
func pageVariants(t *testing.T) map[string]pageFiller {
	t.Helper()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	out := map[string]pageFiller{}
	for name, s := range map[string]string{"plain": "Plain", "path": "/console/links?a=1&b=2", "hostile": hostileValue} {
		q := strings.ReplaceAll(s, `"`, `\"`)
		cat, err := shared.ParseCatalog([]byte(`{"baseline":"B","scopes":[{"name":"B","description":"` + q + `"},{"name":"X_READ","description":"` + q + `"},{"name":"X_WRITE","description":"d","implies":["X_READ"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		out[name+"-off"] = pageFiller{s: s, cat: cat, at: at}
		out[name+"-on"] = pageFiller{s: s, on: true, n: 2, cat: cat, at: at}
	}
	return out
}

// TestEveryConsolePage renders every console page with every field of its
// data filled (pageFiller) with plain values and with hostileValue, and
// parses it as a browser does. It requires a whole page (status 200, the
// frame's end); for the hostile value, nothing of it outside text or an
// attribute value (no img element, no onerror or id=evil attribute, no
// comment), no other script than the page's own, and every link target
// and form action a path of this site or a fragment: the hostile value
// in a URL attribute is "#" (hashLinks). With CONSOLE_PAGES_DIR set, it writes each
// page there (name-variant.html), to compare the markup of two versions.
func TestEveryConsolePage(t *testing.T) {
	dir := os.Getenv("CONSOLE_PAGES_DIR")
	variants := pageVariants(t)
	var names []string
	for name := range variants {
		names = append(names, name)
	}
	sort.Strings(names)
	for p, render := range everyConsolePage {
		for _, v := range names {
			w := render(variants[v])
			body := w.Body.String()
			if dir != "" {
				if err := os.WriteFile(filepath.Join(dir, p+"-"+v+".html"), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if w.Code != 200 || !strings.HasSuffix(body, "</html>\n") {
				t.Errorf("%s %s: got status %d and a page ending %q, want 200 and a whole page", p, v, w.Code, body[max(0, len(body)-40):])
				continue
			}
			hashes := 0
			checkPageTree(t, p+" "+v, body, &hashes)
			if hashLinks[p] && strings.HasPrefix(v, "hostile") && hashes == 0 {
				t.Errorf("%s %s: got no link to \"#\", want the hostile link target replaced", p, v)
			}
		}
	}
}

// TestRenderConsoleFault: a console page with a value where Fill cannot
// make it safe is not sent.
func TestRenderConsoleFault(t *testing.T) {
	var logs logtest.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	w := httptest.NewRecorder()
	renderConsole(w, 200, frame{Title: "T"}, func(b *page.Buffer, v string) { b.Fill(`<p style="%s">x</p>`, v) }, "color:red")
	if w.Code != 500 || strings.Contains(w.Body.String(), "color:red") || w.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("got %d %q, want a bare 500", w.Code, w.Body.String())
	}
	if got := logs.String(); !strings.Contains(got, `"msg":"page not sent"`) || !strings.Contains(got, "style") {
		t.Errorf("log %q, want one error line naming the fault", got)
	}
}

// hashLinks are the pages with a link target or form action that is a
// whole field of their data, which the hostile value turns into "#".
var hashLinks = map[string]bool{"confirm": true, "continue": true, "delete": true, "message": true, "passkey": true, "login": true}

// urlAttrs are the attributes of the console's markup that hold a URL.
var urlAttrs = map[string]bool{"href": true, "action": true, "formaction": true, "src": true}

// checkPageTree checks the page as a browser parses it and counts its
// links to "#" in hashes.
func checkPageTree(t *testing.T, name, body string, hashes *int) {
	t.Helper()
	doc, err := nethtml.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var walk func(*nethtml.Node)
	walk = func(n *nethtml.Node) {
		switch {
		case n.Type == nethtml.CommentNode:
			t.Errorf("%s: got a comment %q", name, n.Data)
		case n.Type == nethtml.ElementNode && n.Data == "img":
			t.Errorf("%s: got an img element: a value outside its context", name)
		case n.Type == nethtml.ElementNode && n.Data == "script":
			if n.FirstChild == nil || (n.FirstChild.Data != copyScript && n.FirstChild.Data != passkeyScript) {
				t.Errorf("%s: got a script that is not the page's own", name)
			}
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" || (a.Key == "id" && a.Val == "evil") {
				t.Errorf("%s: got attribute %s=%q on <%s>", name, a.Key, a.Val, n.Data)
			}
			if urlAttrs[a.Key] && !strings.HasPrefix(a.Val, "#") && page.LocalURL(a.Val) != a.Val {
				t.Errorf("%s: got %s=%q on <%s>, want a path of this site or a fragment", name, a.Key, a.Val, n.Data)
			}
			if urlAttrs[a.Key] && a.Val == "#" {
				*hashes++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

// BenchmarkConsolePage renders the link page (a link with one grant, its
// activity and every flag on: about 15 KB) with its headers.
func BenchmarkConsolePage(b *testing.B) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cat, err := shared.ParseCatalog([]byte(`{"baseline":"B","scopes":[{"name":"B","description":"Base"},{"name":"X_READ","description":"Read"},{"name":"X_WRITE","description":"Write","implies":["X_READ"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	f := pageFiller{s: "Plain", on: true, n: 2, cat: cat, at: at}
	var d linkData
	var fr frame
	f.fill(reflect.ValueOf(&d).Elem(), 0)
	f.fill(reflect.ValueOf(&fr).Elem(), 0)
	b.ReportAllocs()
	for b.Loop() {
		renderConsole(httptest.NewRecorder(), 200, fr, linkPage, d)
	}
}
