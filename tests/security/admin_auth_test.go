package security

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestAdminAuth_LocalTokenRequired: locally, every admin request without
// the right `Authorization: Bearer $ADMIN_TOKEN` is 401 with a
// WWW-Authenticate challenge, before any routing (an unknown path is 401
// too, so nothing about the API leaks).
func TestAdminAuth_LocalTokenRequired(t *testing.T) {
	e := newEnv(t, nil)
	for _, auth := range [][]string{
		nil,
		{"Bearer " + adminToken + "x"},
		{"Bearer " + adminToken[:len(adminToken)-1]},
		{"Bearer "},
		{"Bearer"},
		{"Basic " + adminToken},
		{adminToken},
		{"Bearer " + strings.ToUpper(adminToken)},
		{"Bearer " + adminToken, "Bearer " + adminToken},
	} {
		for _, req := range []struct{ method, path string }{
			{"GET", "/admin/links"}, {"POST", "/admin/links"}, {"DELETE", "/admin/users/alice"},
			{"POST", "/admin/signing-keys/rotate"}, {"GET", "/admin/no-such-thing"},
		} {
			var hdr []string
			for _, a := range auth {
				hdr = append(hdr, "Authorization", a)
			}
			r := e.do(req.method, req.path, strings.NewReader(`{}`), append(hdr, "Content-Type", "application/json")...)
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with Authorization %q: got status %d WWW-Authenticate %q, want 401 with a Bearer challenge",
					req.method, req.path, auth, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
	}
	if r := e.do("GET", "/admin/links", nil, "Authorization", "bearer "+adminToken); r.status != 200 {
		t.Errorf("the right token (scheme in lower case, RFC 6750 §2.1): got status %d, want 200", r.status)
	}
}

// TestAdminAuth_LambdaModeRequiresIAMPrincipal: behind API Gateway (the
// Lambda adapter), a request whose context carries no IAM principal is
// 403, whatever it sends; one signed with SigV4 (an IAM principal in the
// authorizer context) is served.
func TestAdminAuth_LambdaModeRequiresIAMPrincipal(t *testing.T) {
	st := storetest.DynamoLocal(t)
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.New(context.Background(), st, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := admin.New(admin.Options{Config: cfg, Store: st, Keys: keys, Auth: admin.IAMPrincipal()})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httpadapter.NewV2(h)
	event := func(authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: "/admin/links",
			Headers: map[string]string{"authorization": "Bearer " + adminToken},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RequestID: "req-1", Stage: "$default", Authorizer: authorizer,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/admin/links", SourceIP: "192.0.2.1"},
			},
		}
	}
	for _, tc := range []struct {
		name       string
		authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		want       int
	}{
		{"no authorizer", nil, http.StatusForbidden},
		{"no IAM principal", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}, http.StatusForbidden},
		{"empty IAM principal", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}}, http.StatusForbidden},
		{"JWT claims instead of IAM", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "admin"}}}, http.StatusForbidden},
		{"IAM principal", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/admin", AccountID: "123456789012"}}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := proxy.ProxyWithContext(context.Background(), event(tc.authorizer))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("got status %d (%s), want %d", resp.StatusCode, resp.Body, tc.want)
			}
		})
	}
	// Not through API Gateway at all (no Lambda context): 403, even with
	// the admin token of local mode.
	req, _ := http.NewRequest("GET", "/admin/links", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w := &recorder{header: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != http.StatusForbidden {
		t.Errorf("without a Lambda context: got status %d, want 403", w.status)
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) { r.status = s }

// TestAdminAuth_ConstantTimeComparison checks the code, since a test cannot
// time a comparison reliably: BearerToken compares the presented token only
// through shared.Equal, which compares SHA-256 digests with
// crypto/subtle.ConstantTimeCompare (no == between the token and the
// configured one anywhere in the function).
func TestAdminAuth_ConstantTimeComparison(t *testing.T) {
	fset := token.NewFileSet()
	auth, err := parser.ParseFile(fset, "../../functions/admin/auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn := funcDecl(auth, "BearerToken")
	if fn == nil {
		t.Fatal("functions/admin/auth.go: no func BearerToken")
	}
	usesEqual := false
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Equal" && len(n.Args) == 2 && mentions(n.Args[1], "token") {
				usesEqual = true
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && mentions(n.X, "token") != mentions(n.Y, "token") {
				if lit, ok := n.Y.(*ast.BasicLit); !ok || lit.Value != `""` {
					t.Errorf("%s: the admin token is compared with %s, not in constant time", fset.Position(n.Pos()), n.Op)
				}
			}
		}
		return true
	})
	if !usesEqual {
		t.Error("BearerToken does not compare the token with shared.Equal")
	}
	tok, err := parser.ParseFile(fset, "../../shared/token.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	eq := funcDecl(tok, "Equal")
	constant := false
	ast.Inspect(eq, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "subtle" {
				constant = true
			}
		}
		return true
	})
	if !constant {
		t.Error("shared.Equal does not use crypto/subtle.ConstantTimeCompare")
	}
}

func funcDecl(f *ast.File, name string) *ast.FuncDecl {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && fd.Recv == nil {
			return fd
		}
	}
	return nil
}

func mentions(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
