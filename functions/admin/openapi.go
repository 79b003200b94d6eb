package admin

import (
	_ "embed"
	"net/http"
)

// openAPIPath is where the API's OpenAPI 3.1 document is served.
const openAPIPath = "/admin/openapi.json"

// openAPI is the document (openapi.json beside this file), kept in step
// with the routes by TestOpenAPIMatchesRoutes.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI serves GET /admin/openapi.json. It needs no authentication
// of its own: it describes the API and holds nothing secret (in AWS the
// IAM authorizer on /admin/* still applies).
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method " + r.Method + " is not allowed here; allowed: GET, HEAD"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI)
}
