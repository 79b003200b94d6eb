package shared

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedirect(t *testing.T) {
	w := httptest.NewRecorder()
	Redirect(w, "/console/links", http.StatusSeeOther)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/links" ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("got %d %v, want 303 to /console/links, no-store, no-referrer", w.Code, w.Header())
	}
}
