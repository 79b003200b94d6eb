package admin

import (
	"compress/gzip"
	_ "embed"
	"io"
	"net/http"
	"strings"
	"sync"
)

// openAPIPath is where the API's OpenAPI 3.1 document is served.
const openAPIPath = "/admin/openapi.json"

// openAPIGz is the document, openapi.json beside this file, compressed
// (gen_openapi.go; TestOpenAPICompressedCopy keeps the two equal): it is
// embedded in the admin binary, whose size is budgeted, at a fifth of the
// document's size. The document is kept in step with the routes by
// TestOpenAPIMatchesRoutes.
//
//go:generate go run gen_openapi.go
//go:embed openapi.json.gz
var openAPIGz string // read-only: a string is linked into the read-only segment, a []byte into the data

// openAPI is the document, decompressed on its first request.
var openAPI = sync.OnceValue(func() []byte {
	z, err := gzip.NewReader(strings.NewReader(openAPIGz))
	if err != nil {
		panic("admin: openapi.json.gz: " + err.Error()) // embedded at build time: a broken file fails every test
	}
	doc, err := io.ReadAll(z)
	if err != nil {
		panic("admin: openapi.json.gz: " + err.Error())
	}
	return doc
})

// serveOpenAPI serves GET /admin/openapi.json. It needs no authentication
// of its own: it describes the API and holds nothing secret (in AWS the
// IAM authorizer on /admin/* still applies).
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI())
}
