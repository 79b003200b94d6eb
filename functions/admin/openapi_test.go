package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/routes"
)

// docRoutes reads the document's operations as "METHOD /admin/links/*"
// (path parameters as *).
func docRoutes(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Errorf("got openapi %q, want 3.1.0", d.OpenAPI)
	}
	var out []string
	for p, item := range d.Paths {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				segs[i] = "*"
			}
		}
		for m := range item {
			switch m {
			case "get", "post", "put", "patch", "delete", "head", "options", "trace":
				out = append(out, strings.ToUpper(m)+" "+strings.Join(segs, "/"))
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIMatchesRoutes fails when a route the handler serves under
// /admin/ (routes.Admin, which its mux is built from) is missing from
// openapi.json, or the document names one the handler does not serve:
// both lists are compared, and every documented operation is requested
// and must reach a handler (not 404 "no such resource", not 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, errStore{}, nil)
	var served []string
	for _, rt := range routes.Admin {
		// HEAD is answered wherever GET is; the document names GET.
		if strings.HasPrefix(rt.Path, "/admin/") && rt.Method != http.MethodHead {
			segs := strings.Split(rt.Path, "/")
			for i, s := range segs {
				if strings.HasPrefix(s, "{") {
					segs[i] = "*"
				}
			}
			served = append(served, rt.Method+" "+strings.Join(segs, "/"))
		}
	}
	slices.Sort(served)
	documented := docRoutes(t, openAPI())
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("the handler serves %s, which openapi.json does not describe", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.json describes %s, which the handler does not serve", d)
		}
		method, path, _ := strings.Cut(d, " ")
		w := e.serve(req(method, strings.ReplaceAll(path, "*", "x"), ""))
		if w.Code == http.StatusMethodNotAllowed || w.Code == http.StatusNotFound && strings.Contains(w.Body.String(), "no such resource") {
			t.Errorf("%s: got %d %s, want it served", d, w.Code, w.Body.String())
		}
	}
}

// TestOpenAPIServed: the document is served without a token, as JSON.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, errStore{}, nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, openAPIPath, nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || !json.Valid(w.Body.Bytes()) {
		t.Errorf("got %d %q, want the JSON document", w.Code, w.Header().Get("Content-Type"))
	}
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, openAPIPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d, want 405", w.Code)
	}
}

// TestOpenAPIAdminFlag: the document says what the handler does with the
// administrator flag: the user body (POST, PATCH) has no admin property,
// PUT /admin/users/{username}/admin requires one, PUT .../admin/password
// requires a password, and PATCH and DELETE of a user list 403.
func TestOpenAPIAdminFlag(t *testing.T) {
	type operation struct {
		Responses   map[string]json.RawMessage `json:"responses"`
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI(), &d); err != nil {
		t.Fatal(err)
	}
	op := func(path, method string) operation {
		t.Helper()
		var o operation
		if err := json.Unmarshal(d.Paths[path][method], &o); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return o
	}
	schemas := d.Components.Schemas
	if _, ok := schemas["UserInput"].Properties["admin"]; ok {
		t.Error("UserInput lists admin, which POST and PATCH refuse")
	}
	if _, ok := schemas["User"].Properties["admin"]; !ok {
		t.Error("User does not list admin, which every answer carries")
	}
	for path, want := range map[string]string{"/admin/users/{username}/admin": "admin", "/admin/users/{username}/admin/password": "password"} {
		ref := op(path, "put").RequestBody.Content["application/json"].Schema.Ref
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if s, ok := schemas[name]; !ok || !slices.Equal(s.Required, []string{want}) {
			t.Errorf("PUT %s: body schema %q requires %v, want [%s]", path, ref, s.Required, want)
		}
	}
	for _, m := range []string{"patch", "delete"} {
		if _, ok := op("/admin/users/{username}", m).Responses["403"]; !ok {
			t.Errorf("%s /admin/users/{username} does not list 403", m)
		}
	}
}

// TestOpenAPILinkFields: the LinkInput, Link and Grant schemas list exactly
// the JSON fields of the body the handler reads (linkInput) and of the link
// and grant it answers (linkView, grantView).
func TestOpenAPILinkFields(t *testing.T) {
	var d struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI(), &d); err != nil {
		t.Fatal(err)
	}
	for schema, typ := range map[string]reflect.Type{"LinkInput": reflect.TypeFor[linkInput](), "Link": reflect.TypeFor[linkView](), "Grant": reflect.TypeFor[grantView]()} {
		var fields, documented []string
		for f := range typ.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				fields = append(fields, name)
			}
		}
		for p := range d.Components.Schemas[schema].Properties {
			documented = append(documented, p)
		}
		slices.Sort(fields)
		slices.Sort(documented)
		if !slices.Equal(fields, documented) {
			t.Errorf("%s: documented %v, want the fields of %s: %v", schema, documented, typ, fields)
		}
	}
}

// TestOpenAPICompressedCopy: the embedded, compressed document is
// openapi.json as it is now (run `go generate ./functions/admin` after an
// edit).
func TestOpenAPICompressedCopy(t *testing.T) {
	src, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(openAPI(), src) {
		t.Fatal("openapi.json.gz is not openapi.json: run `go generate ./functions/admin`")
	}
}
