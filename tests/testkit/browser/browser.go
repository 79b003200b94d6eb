// Package browser drives a real, headless Chromium for the tests of the pages
// people see (sign-in, consent, the account page, the console). It starts
// Debian's chromium (/usr/bin/chromium, `apt-get install -y chromium`) through
// github.com/chromedp/chromedp, gives each simulated person a browser context
// of their own (own cookies, own storage: two users at once), and writes
// screenshots at a phone width (375 px) and a desktop width (1280 px) into a
// folder it names in the test output.
//
// A test:
//
//	func TestSignIn(t *testing.T) {
//		b := browser.New(t)                  // fails with an install hint when chromium is missing
//		alice := b.User("alice")             // a fresh browser context and one tab in it
//		alice.Navigate(srv.URL + "/account/authorizations")
//		alice.Type("#username", "alice")     // CSS selectors
//		alice.Type("#password", "secret")
//		if st := alice.Submit("button[type=submit]"); st != 200 { ... }   // click, wait for the next page
//		alice.Screenshot("account")          // alice-account-375.png and alice-account-1280.png
//		if got := alice.Text("h1"); got != "Authorized applications" { ... }
//		if got := alice.TabKey(); got != "a \"Sign out\"" { ... }    // the keyboard alone
//		alice.CheckConsole()                 // no CSP violation, no script error
//	}
//
// Every method fails the test (t.Fatal) on an error, each step within
// Timeout, so a test reads as a list of steps. For a step the helpers do not
// cover, use Tab.Do with any chromedp action (chromedp v0.23's generic API:
// Action[T]; selectors are typed, chromedp.CSS("#id")), Must for an action
// that returns a value, or Run when the error is expected. Tab.Context is
// the tab's chromedp context for code that needs chromedp directly.
//
// Two people at once: b.User("alice") and b.User("bob") are separate
// browser contexts of one browser; each Tab is for one goroutine at a time,
// two Tabs may run in parallel.
//
// Screenshots go to $SCREENSHOT_DIR/<test name>/ when SCREENSHOT_DIR is set,
// else to .local/screenshots/<test name>/ at the module root (ignored by
// git; emptied at the start of each run of that test). New logs the folder
// with t.Logf, so `go test -v` prints it; a failing test prints it too.
//
// The browser runs with --no-sandbox (chromedp.NoSandbox): CI runs as root,
// where Chromium's sandbox refuses to start, and the tests load only pages of
// servers they started themselves on loopback. Set CHROMIUM to use another
// Chrome or Chromium binary.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// DefaultPath is where Debian's chromium package puts the browser.
const DefaultPath = "/usr/bin/chromium"

// InstallHint is the command that installs DefaultPath on Debian.
const InstallHint = "apt-get install -y chromium"

// Timeout bounds each step of a Tab (one Do, Navigate, Submit, ...). A page
// of the local provider loads in well under a second; the margin is for a
// busy 2-core CI machine.
const Timeout = 30 * time.Second

// Widths are the viewport widths Screenshot captures: a small phone and a
// laptop.
var Widths = []int{375, 1280}

// defaultHeight is the viewport height of a tab; screenshots capture the
// whole page, whatever its height.
const defaultHeight = 800

// Browser is one headless Chromium process, started for one test and
// stopped when the test ends.
type Browser struct {
	t   testing.TB
	ctx context.Context // the browser's first chromedp context
	dir string          // the screenshot folder
	mu  sync.Mutex
	n   int // screenshots written
}

// New starts headless Chromium for t and stops it when t ends. A missing
// browser fails t with one line saying how to install it; the test is not
// skipped, since the pages would then go unchecked.
func New(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = DefaultPath
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("browser: no Chromium at %s; install it with `%s` (or set CHROMIUM to a Chrome binary)", path, InstallHint)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(Widths[len(Widths)-1], defaultHeight),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first run starts the browser and binds its life to ctx: no
	// timeout here (chromedp.NewContext), so the start gets its own watch.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			cancel()
			cancelAlloc()
			t.Fatalf("browser: start %s: %v", path, err)
		}
	case <-time.After(Timeout):
		cancel()
		cancelAlloc()
		t.Fatalf("browser: %s did not start within %s", path, Timeout)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &Browser{t: t, ctx: ctx, dir: screenshotDir(t)}
	t.Logf("browser: %s; screenshots in %s", path, b.dir)
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.n > 0 {
			t.Logf("browser: %d screenshots in %s", b.n, b.dir)
		}
	})
	return b
}

// Dir is the folder the screenshots of this test go to.
func (b *Browser) Dir() string { return b.dir }

// screenshotDir returns the test's screenshot folder, emptied (Screenshot
// creates it).
func screenshotDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv("SCREENSHOT_DIR")
	if root == "" {
		mod, err := moduleRoot()
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		root = filepath.Join(mod, ".local", "screenshots")
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("browser: empty %s: %v", dir, err)
	}
	return dir
}

// moduleRoot is the nearest folder above the working directory (a test's
// package folder) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; set SCREENSHOT_DIR")
		}
		dir = parent
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a test or screenshot name into a file name.
func safeName(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }

// Tab is one tab in a browser context of its own: a person with their own
// cookies. Use a Tab from one goroutine at a time; two Tabs may run in
// parallel.
type Tab struct {
	b    *Browser
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// User opens a new browser context (like a private window: no cookies
// shared with any other User) with one tab, at the desktop width. name
// prefixes its screenshots.
func (b *Browser) User(name string) *Tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	p := &Tab{b: b, name: name, ctx: ctx}
	// The first run on ctx creates the tab; no timeout on it (see
	// chromedp.NewContext), bounded by the browser's start instead.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("browser: open a tab for %s: %v", name, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	p.Do(chromedp.EmulateViewport(int64(Widths[len(Widths)-1]), defaultHeight))
	return p
}

// Context is the tab's chromedp context, for chromedp calls the helpers do
// not cover. It has no deadline; derive one with context.WithTimeout.
func (p *Tab) Context() context.Context { return p.ctx }

// Do runs chromedp actions in order within Timeout; an error fails the test.
func (p *Tab) Do(steps ...chromedp.Action[chromedp.Void]) {
	p.b.t.Helper()
	if _, err := Run(p, chromedp.Steps(steps...)); err != nil {
		p.b.t.Fatalf("browser %s: %v", p.name, err)
	}
}

// Run runs one chromedp action that returns a value, within Timeout. Unlike
// the Tab's methods it returns the error, for steps that are expected to
// fail.
func Run[T any](p *Tab, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Must runs one chromedp action that returns a value, within Timeout; an
// error fails the test.
func Must[T any](p *Tab, a chromedp.Action[T]) T {
	p.b.t.Helper()
	v, err := Run(p, a)
	if err != nil {
		p.b.t.Fatalf("browser %s: %v", p.name, err)
	}
	return v
}

// Navigate loads url, waits for the page and returns the HTTP status of the
// document (after redirects).
func (p *Tab) Navigate(url string) int {
	p.b.t.Helper()
	return p.navigation(func(ctx context.Context) (int, error) {
		nav := func() (int, error) {
			resp, err := chromedp.RunResponse(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Navigate(url)(ctx, t)
				return err
			}))
			return status(resp, err)
		}
		st, err := nav()
		if contextGone(err) {
			// The previous page's script navigated as this one began
			// (a GET: loading it again is harmless).
			st, err = nav()
		}
		return st, err
	}, "navigate to "+url)
}

// Submit clicks the element that the CSS selector css matches (a submit
// button, a link) as a person would, waits for the page that follows and
// returns its HTTP status.
func (p *Tab) Submit(css string) int {
	p.b.t.Helper()
	return p.navigation(func(ctx context.Context) (int, error) {
		return status(chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible)))
	}, "click "+css)
}

// Click clicks the element css matches without waiting for a new page
// (a details summary, a checkbox); use Submit when the click loads one.
func (p *Tab) Click(css string) {
	p.b.t.Helper()
	p.Do(chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// Focus moves the keyboard focus to the element css matches, as if the
// keyboard had reached it.
func (p *Tab) Focus(css string) {
	p.b.t.Helper()
	p.Do(chromedp.Focus(chromedp.CSS(css), chromedp.NodeVisible))
}

// Type types text into the element css matches, key by key, after what it
// holds already.
func (p *Tab) Type(css, text string) {
	p.b.t.Helper()
	p.Do(chromedp.SendKeys(chromedp.CSS(css), text, chromedp.NodeVisible))
}

// Exists reports whether the CSS selector css matches an element of the
// current page, without waiting.
func (p *Tab) Exists(css string) bool {
	p.b.t.Helper()
	return Must(p, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, css)))
}

// Press sends keys to the focused element as key presses (kb.Enter
// submits a form, kb.Tab moves the focus) and, when wait is true, waits for
// the page that follows and returns its status (else 0).
func (p *Tab) Press(keys string, wait bool) int {
	p.b.t.Helper()
	if !wait {
		p.Do(chromedp.KeyEvent(keys))
		return 0
	}
	return p.navigation(func(ctx context.Context) (int, error) {
		return status(chromedp.RunResponse(ctx, chromedp.KeyEvent(keys)))
	}, fmt.Sprintf("press %q", keys))
}

// TabKey presses Tab once, moving the focus as the keyboard does, and
// returns the newly focused element (Focused).
func (p *Tab) TabKey() string {
	p.b.t.Helper()
	p.Press(kb.Tab, false)
	return p.Focused()
}

func (p *Tab) navigation(f func(context.Context) (int, error), what string) int {
	p.b.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	st, err := f(ctx)
	if err == nil {
		// The load event can come before the browser applies autofocus
		// (it does so when it next renders; on a busy machine, later):
		// wait until the autofocus element, if any, has the focus, so
		// that what a test reads next is the page a person sees.
		// The poll runs in the page's JavaScript context; when the page
		// replaced it meanwhile (a script's navigation, a history
		// change), the browser answers that the context is gone: poll
		// again in the current one.
		for range 5 {
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](autofocusApplied, chromedp.WithPollingTimeout(2*time.Second)))
			if !contextGone(err) {
				break
			}
		}
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			err = nil // the page moved the focus elsewhere itself
		}
	}
	if err != nil {
		p.b.t.Fatalf("browser %s: %s: %v", p.name, what, err)
	}
	return st
}

// contextGone reports whether err is the browser's answer to an evaluation
// in a JavaScript context that a navigation destroyed.
func contextGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Cannot find context with specified id")
}

// autofocusApplied is true once the page's autofocus element (if any)
// holds the focus, or the focus is anywhere but the body.
const autofocusApplied = `(() => {
  const a = document.querySelector("[autofocus]");
  return !a || document.activeElement !== document.body;
})()`

func status(resp *network.Response, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	if resp == nil {
		return 0, errors.New("no response")
	}
	return int(resp.Status), nil
}

// URL is the tab's current address.
func (p *Tab) URL() string {
	p.b.t.Helper()
	return Must(p, chromedp.Location())
}

// Title is the current page's title.
func (p *Tab) Title() string {
	p.b.t.Helper()
	return Must(p, chromedp.Title())
}

// Text is the visible text of the first element the CSS selector css
// matches (waiting for it to be visible).
func (p *Tab) Text(css string) string {
	p.b.t.Helper()
	return Must(p, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
}

// BodyText is the visible text of the whole page.
func (p *Tab) BodyText() string {
	p.b.t.Helper()
	return Must(p, chromedp.Evaluate[string](`document.body.innerText`))
}

// Focused describes the element that has the keyboard focus:
// tag#id, tag[name=...][value=...] or tag "text", e.g. `input#username`,
// `button[name=decision][value=deny]`, `a "Sign out"`. "body" means
// nothing is focused.
func (p *Tab) Focused() string {
	p.b.t.Helper()
	return Must(p, chromedp.Evaluate[string](`(() => {
  const e = document.activeElement;
  if (!e) return "";
  let s = e.tagName.toLowerCase();
  if (e.id) return s + "#" + e.id;
  if (e.name) s += "[name=" + e.name + "]";
  if (e.value && e.tagName !== "INPUT") s += "[value=" + e.value + "]";
  if (s === e.tagName.toLowerCase() && e !== document.body) s += " " + JSON.stringify(e.innerText.trim());
  return s;
})()`))
}

// FocusRingVisible reports whether the focused element draws a focus
// indicator: a non-zero outline or box-shadow in its computed style (the
// pages style :focus-visible, which applies to keyboard focus).
func (p *Tab) FocusRingVisible() bool {
	p.b.t.Helper()
	return Must(p, chromedp.Evaluate[bool](`(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return false;
  const cs = getComputedStyle(e);
  return (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== "none";
})()`))
}

// Screenshot captures the whole page at each of Widths (the 375 px one as a
// mobile viewport, honouring the page's viewport meta) into
// <Dir>/<user>-<name>-<width>.png, then restores the desktop width. It
// returns the files written; open them with an image viewer to look.
func (p *Tab) Screenshot(name string) []string {
	p.b.t.Helper()
	if err := os.MkdirAll(p.b.dir, 0o755); err != nil {
		p.b.t.Fatalf("browser: %v", err)
	}
	var files []string
	for _, w := range Widths {
		var opts []chromedp.EmulateViewportOption
		if w < 800 {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		p.Do(chromedp.EmulateViewport(int64(w), defaultHeight, opts...))
		png := Must(p, chromedp.FullScreenshot(100))
		f := filepath.Join(p.b.dir, fmt.Sprintf("%s-%s-%d.png", safeName(p.name), safeName(name), w))
		if err := os.WriteFile(f, png, 0o644); err != nil {
			p.b.t.Fatalf("browser: %v", err)
		}
		files = append(files, f)
	}
	p.Do(chromedp.EmulateViewport(int64(Widths[len(Widths)-1]), defaultHeight))
	p.b.mu.Lock()
	p.b.n += len(files)
	p.b.mu.Unlock()
	return files
}

// HorizontalOverflow reports whether the page is wider than the viewport at
// width (content a phone user would have to scroll sideways to read).
func (p *Tab) HorizontalOverflow(width int) bool {
	p.b.t.Helper()
	p.Do(chromedp.EmulateViewport(int64(width), defaultHeight, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	defer p.Do(chromedp.EmulateViewport(int64(Widths[len(Widths)-1]), defaultHeight))
	return Must(p, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
}

// Console returns the messages the tab's pages wrote to the console so far
// (script errors, CSP violations, failed loads).
func (p *Tab) Console() []chromedp.ConsoleMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), p.console...)
}

// CheckConsole fails the test for every error or warning on the console
// so far (a CSP violation, a script error, a load that failed), except the
// browser's own request for /favicon.ico and the note that a response had
// an error status (Navigate and Submit return statuses to check). Messages arrive asynchronously:
// call it after the page has loaded.
func (p *Tab) CheckConsole() {
	p.b.t.Helper()
	// A round trip to the tab, so that messages of the page already
	// loaded have been delivered.
	Must(p, chromedp.Evaluate[bool](`true`))
	for _, m := range p.Console() {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && m.Type != chromedp.ConsoleException {
			continue
		}
		if strings.Contains(m.URL, "/favicon.ico") {
			continue
		}
		if m.Source == "network" && strings.HasPrefix(m.Text, "Failed to load resource: the server responded with a status of") {
			// A page answered with an error status (an error page the
			// test asked for): Navigate and Submit return the status for
			// the test to check.
			continue
		}
		p.b.t.Errorf("browser %s: console %s (%s)", p.name, m, m.URL)
	}
}
