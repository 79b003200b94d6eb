package browser

import (
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp/kb"
)

// site is a two-page test site: a form that stores the typed name in a
// cookie, and a page that greets the cookie's name.
func site() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Form</title>
<style>:focus-visible{outline:3px solid orange}</style></head><body>
<form method="post" action="/hello"><label for="name">Name</label>
<input id="name" name="name" autofocus><button type="submit">Go</button></form>
<a href="/hello">Who am I</a></body></html>`)
	})
	mux.HandleFunc("POST /hello", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "name", Value: r.PostFormValue("name"), Path: "/"})
		http.Redirect(w, r, "/hello", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		name := "nobody"
		if c, err := r.Cookie("name"); err == nil {
			name = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Hello</title></head><body><h1>Hello %s</h1></body></html>`, name)
	})
	mux.HandleFunc("GET /script", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		fmt.Fprint(w, `<!doctype html><html><head><title>Script</title></head><body><script>document.title="ran"</script></body></html>`)
	})
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	return httptest.NewServer(mux)
}

func TestTwoUsers(t *testing.T) {
	srv := site()
	defer srv.Close()
	b := New(t)
	alice, bob := b.User("alice"), b.User("bob")

	var wg sync.WaitGroup
	for _, u := range []struct {
		tab  *Tab
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st := u.tab.Navigate(srv.URL + "/"); st != http.StatusOK {
				t.Errorf("%s: status %d, want 200", u.name, st)
			}
			u.tab.Type("#name", u.name)
			if st := u.tab.Submit("button[type=submit]"); st != http.StatusOK {
				t.Errorf("%s: status %d after submit, want 200", u.name, st)
			}
		}()
	}
	wg.Wait()
	// Each context kept its own cookie.
	for _, u := range []struct {
		tab  *Tab
		want string
	}{{alice, "Hello alice"}, {bob, "Hello bob"}} {
		u.tab.Navigate(srv.URL + "/hello")
		if got := u.tab.Text("h1"); got != u.want {
			t.Errorf("got %q, want %q", got, u.want)
		}
		if got := u.tab.URL(); got != srv.URL+"/hello" {
			t.Errorf("URL %q, want %q", got, srv.URL+"/hello")
		}
	}
	// A third user starts without cookies.
	carol := b.User("carol")
	carol.Navigate(srv.URL + "/hello")
	if got := carol.Text("h1"); got != "Hello nobody" {
		t.Errorf("a new user sees %q, want Hello nobody", got)
	}
	if st := carol.Navigate(srv.URL + "/gone"); st != http.StatusGone {
		t.Errorf("status %d, want 410", st)
	}
}

func TestKeyboardAndScreenshots(t *testing.T) {
	srv := site()
	defer srv.Close()
	b := New(t)
	p := b.User("kbd")
	p.Navigate(srv.URL + "/")
	if got := p.Focused(); got != "input#name" {
		t.Errorf("focused %q, want input#name (autofocus)", got)
	}
	if got := p.TabKey(); got != `button "Go"` {
		t.Errorf("after Tab, focused %q, want button \"Go\"", got)
	}
	if !p.FocusRingVisible() {
		t.Error("the focused button draws no focus ring")
	}
	if got := p.TabKey(); got != `a "Who am I"` {
		t.Errorf("after Tab, focused %q, want the link", got)
	}
	if st := p.Press(kb.Enter, true); st != http.StatusOK || p.Text("h1") != "Hello nobody" {
		t.Errorf("Enter on the link: status %d, page %q", st, p.Text("h1"))
	}
	p.CheckConsole()

	p.Navigate(srv.URL + "/")
	files := p.Screenshot("form")
	if len(files) != len(Widths) {
		t.Fatalf("%d files, want %d", len(files), len(Widths))
	}
	for i, f := range files {
		if !strings.HasPrefix(f, b.Dir()) || !strings.HasSuffix(f, fmt.Sprintf("kbd-form-%d.png", Widths[i])) {
			t.Errorf("file %s, want kbd-form-%d.png in %s", f, Widths[i], b.Dir())
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if w := img.Bounds().Dx(); w != Widths[i] {
			t.Errorf("%s is %d px wide, want %d", f, w, Widths[i])
		}
	}
	if p.HorizontalOverflow(375) {
		t.Error("the form overflows at 375 px")
	}
	if got := p.Focused(); got != "input#name" {
		t.Errorf("after screenshots, focused %q", got)
	}
}

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckConsoleCatchesCSPViolation(t *testing.T) {
	srv := site()
	defer srv.Close()
	rec := &recorder{TB: t}
	b := New(rec)
	p := b.User("csp")
	p.Navigate(srv.URL + "/script")
	if got := p.Title(); got != "Script" {
		t.Errorf("title %q: the inline script ran despite the CSP", got)
	}
	p.CheckConsole()
	if len(rec.errs) == 0 || !strings.Contains(strings.Join(rec.errs, "\n"), "Content Security Policy") {
		t.Errorf("CheckConsole reported %q, want the CSP violation", rec.errs)
	}
}

func TestMissingBrowserFails(t *testing.T) {
	t.Setenv("CHROMIUM", "/nonexistent/chromium")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(rec)
	}()
	<-done
	if !strings.Contains(rec.msg, InstallHint) || strings.Contains(rec.msg, "\n") {
		t.Errorf("fatal %q, want one line with %q", rec.msg, InstallHint)
	}
}

// fatalRecorder records Fatalf and ends the goroutine, as t.Fatalf does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
