package shared

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// scopeVectors is testdata/scopes.json (a copy of the project's vectors).
type scopeVectors struct {
	CatalogOrder []string `json:"catalog_order"`
	Authorize    []struct {
		Name    string   `json:"name"`
		Ceiling []string `json:"ceiling"`
		User    []string `json:"user"`
		Request *string  `json:"request"`
		Granted []string `json:"granted"`
		Error   string   `json:"error"`
	} `json:"authorize"`
	Refresh []struct {
		Name          string   `json:"name"`
		GrantedBefore []string `json:"granted_before"`
		Ceiling       []string `json:"ceiling"`
		User          []string `json:"user"`
		Request       *string  `json:"request"`
		Granted       []string `json:"granted"`
		Error         string   `json:"error"`
	} `json:"refresh"`
}

// redirectVectors is testdata/redirects.json.
type redirectVectors struct {
	Register []struct {
		URI   string `json:"uri"`
		Valid bool   `json:"valid"`
	} `json:"register"`
	Authorize []struct {
		Registered []string `json:"registered"`
		Request    *string  `json:"request"`
		RedirectTo *string  `json:"redirect_to"`
	} `json:"authorize"`
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestScopeVectorsCatalogOrder(t *testing.T) {
	var v scopeVectors
	loadJSON(t, "scopes.json", &v)
	if got := DefaultCatalog().Names(); !slices.Equal(got, v.CatalogOrder) {
		t.Errorf("got catalog order %q, want %q", got, v.CatalogOrder)
	}
}

func TestScopeVectorsAuthorize(t *testing.T) {
	var v scopeVectors
	loadJSON(t, "scopes.json", &v)
	if len(v.Authorize) == 0 {
		t.Fatal("no authorize vectors")
	}
	c := DefaultCatalog()
	for _, tc := range v.Authorize {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := c.Cap(deref(tc.Request), tc.Ceiling, tc.User)
			checkCapResult(t, got, err, tc.Granted, tc.Error)
		})
	}
}

func TestScopeVectorsRefresh(t *testing.T) {
	var v scopeVectors
	loadJSON(t, "scopes.json", &v)
	if len(v.Refresh) == 0 {
		t.Fatal("no refresh vectors")
	}
	c := DefaultCatalog()
	for _, tc := range v.Refresh {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := c.CapRefresh(deref(tc.Request), tc.GrantedBefore, tc.Ceiling, tc.User)
			checkCapResult(t, got, err, tc.Granted, tc.Error)
		})
	}
}

// checkCapResult compares a Cap or CapRefresh result with a vector's
// expectation: either the granted scopes or an OAuth error code.
func checkCapResult(t *testing.T, got []string, err error, want []string, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("got %q, want error %s", got, wantErr)
		}
		if e := AsError(err); e.Code != wantErr {
			t.Fatalf("got error %v, want %s", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("got error %v, want %q", err, want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRedirectVectorsRegister(t *testing.T) {
	var v redirectVectors
	loadJSON(t, "redirects.json", &v)
	if len(v.Register) == 0 {
		t.Fatal("no register vectors")
	}
	for _, tc := range v.Register {
		t.Run(tc.URI, func(t *testing.T) {
			err := ValidateRedirectURI(tc.URI)
			if got := err == nil; got != tc.Valid {
				t.Errorf("ValidateRedirectURI(%q) = %v, want valid=%v", tc.URI, err, tc.Valid)
			}
		})
	}
}

func TestRedirectVectorsAuthorize(t *testing.T) {
	var v redirectVectors
	loadJSON(t, "redirects.json", &v)
	if len(v.Authorize) == 0 {
		t.Fatal("no authorize vectors")
	}
	for _, tc := range v.Authorize {
		name := "absent"
		if tc.Request != nil {
			name = *tc.Request
		}
		t.Run(name, func(t *testing.T) {
			// The registered list itself must pass registration.
			if err := ValidateRedirectURIs(tc.Registered); err != nil {
				t.Fatalf("registered %q refused: %v", tc.Registered, err)
			}
			got, ok := MatchRedirectURI(tc.Registered, deref(tc.Request), tc.Request != nil)
			switch {
			case tc.RedirectTo == nil && ok:
				t.Errorf("MatchRedirectURI(%q, %q) = %q, want refusal", tc.Registered, name, got)
			case tc.RedirectTo != nil && (!ok || got != *tc.RedirectTo):
				t.Errorf("MatchRedirectURI(%q, %q) = %q, %v, want %q, true", tc.Registered, name, got, ok, *tc.RedirectTo)
			case tc.RedirectTo == nil && got != "":
				t.Errorf("refusal returned %q, want \"\"", got)
			}
		})
	}
}
