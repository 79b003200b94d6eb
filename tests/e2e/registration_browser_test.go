package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestRegistrationConsoleInBrowser drives the console's Self-registration
// section in headless Chromium: two applications register themselves under
// the approval policy; the administrator finds them waiting, approves one
// with the keyboard alone (Tab to Approve, Enter, Enter on the page that
// shows the application), rejects the other, lists the links by origin and
// status, and saves a new policy. Each page is captured at 375 and 1280 px
// and must not scroll sideways at 375 px.
func TestRegistrationConsoleInBrowser(t *testing.T) {
	p := startProvider(t, nil)
	const adminPass = "a long administrator password"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": adminPass}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	p.admin("PUT", "/admin/client-registration", map[string]any{
		"metadata_documents":   map[string]any{"mode": "off", "trusted_hosts": []string{}, "scopes": []string{"PUBLIC_REPOS"}},
		"dynamic_registration": map[string]any{"mode": "approval", "scopes": []string{"REPO_READ"}, "idle_days": 30},
	}, 200, nil)
	for _, name := range []string{"Claude Desktop", "A command-line tool with a long name that wraps"} {
		resp, err := p.client.Post(p.issuer+"/oauth2/register", "application/json",
			strings.NewReader(`{"client_name": "`+name+`", "redirect_uris": ["http://127.0.0.1:33418/callback", "https://agent.example.com/oauth/callback"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register %s: %d", name, resp.StatusCode)
		}
	}
	p.createLink("Build server", callbackURL, []string{"REPO_READ"}, "confidential")

	b := chrome.New(t)
	adm := b.User("admin")
	look := func(name string) {
		t.Helper()
		adm.Screenshot(name)
		if adm.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
		adm.CheckConsole()
	}
	adm.Navigate(p.issuer + "/console/registration")
	adm.Type("#username", "root")
	adm.Type("#password", adminPass)
	if st := adm.Submit("button[type=submit]"); st != 200 || adm.Text("h1") != "Self-registration" {
		t.Fatalf("sign in: %d %q", st, adm.Text("h1"))
	}
	if body := adm.BodyText(); !strings.Contains(body, "Claude Desktop") || !strings.Contains(body, "Registered itself") {
		t.Fatalf("waiting list: %s", body)
	}
	look("registration")

	// The keyboard alone: from the first application's name, Tab reaches
	// its Approve button, with a visible focus; Enter opens the page that
	// shows the application, whose Approve button Enter presses.
	adm.Focus(`#pending + table td a`)
	if got := adm.TabKey(); !strings.HasPrefix(got, `a "Approve`) || !adm.FocusRingVisible() {
		t.Fatalf("Tab from the application's name: %s (focus ring %v), want its Approve", got, adm.FocusRingVisible())
	}
	if st := adm.Press(kb.Enter, true); st != 200 || !strings.HasPrefix(adm.Text("h1"), "Approve ") {
		t.Fatalf("Enter on Approve: %d %q", st, adm.Text("h1"))
	}
	look("approve")
	adm.Focus(`main form button[type=submit]`)
	if st := adm.Press(kb.Enter, true); st != 200 || !strings.Contains(adm.BodyText(), "The application was approved") {
		t.Fatalf("approve: %d %s", st, adm.BodyText())
	}

	if st := adm.Submit(`#pending + table a[href$="/reject"]`); st != 200 || !strings.HasPrefix(adm.Text("h1"), "Reject ") {
		t.Fatalf("reject page: %d %q", st, adm.Text("h1"))
	}
	look("reject")
	if st := adm.Submit(`main form button.danger`); st != 200 || !strings.Contains(adm.BodyText(), "No application is waiting.") {
		t.Fatalf("reject: %d %s", st, adm.BodyText())
	}
	look("registration-decided")

	// The links list by origin and status.
	adm.Navigate(p.issuer + "/console/links")
	look("links-all")
	adm.Do(chromedp.SetValue(chromedp.CSS("#origin"), "dynamic", chromedp.NodeVisible))
	adm.Do(chromedp.SetValue(chromedp.CSS("#status"), "rejected", chromedp.NodeVisible))
	if st := adm.Submit(`form.filter button`); st != 200 || !strings.Contains(adm.URL(), "origin=dynamic") {
		t.Fatalf("filter: %d %s", st, adm.URL())
	}
	if body := adm.BodyText(); !strings.Contains(body, "Rejected") || strings.Contains(body, "Build server") {
		t.Errorf("rejected dynamic links: %s", body)
	}
	look("links-filtered")

	// The policy: open registration, a trusted host for metadata documents.
	adm.Navigate(p.issuer + "/console/registration")
	adm.Click(`input[name=dr_mode][value=open]`)
	adm.Click(`input[name=md_mode][value=trusted_hosts]`)
	adm.Type("#trusted_hosts", "Agents.Example")
	if st := adm.Submit(`button[type=submit]:not(.link)`); st != 422 || !strings.Contains(adm.BodyText(), "must be lower case") {
		t.Fatalf("invalid host: %d %s", st, adm.BodyText())
	}
	look("policy-error")
	adm.Do(chromedp.Clear(chromedp.CSS("#trusted_hosts"), chromedp.NodeVisible))
	adm.Type("#trusted_hosts", ".agents.example")
	if st := adm.Submit(`button[type=submit]:not(.link)`); st != 200 || !strings.Contains(adm.BodyText(), "The policy was saved") {
		t.Fatalf("save policy: %d %s", st, adm.BodyText())
	}
	look("policy-saved")
	var saved struct {
		DynamicRegistration struct {
			Mode string `json:"mode"`
		} `json:"dynamic_registration"`
		MetadataDocuments struct {
			TrustedHosts []string `json:"trusted_hosts"`
		} `json:"metadata_documents"`
	}
	p.admin("GET", "/admin/client-registration", nil, 200, &saved)
	if saved.DynamicRegistration.Mode != "open" || len(saved.MetadataDocuments.TrustedHosts) != 1 {
		t.Errorf("saved policy: %+v", saved)
	}
	t.Logf("screenshots in %s", b.Dir())
}
