package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"

	"github.com/applinks/applinks/shared/routes"
)

// notRouted are the routes a function serves that the HTTP API does not
// send it, with the reason. A route here is served by the local runner and
// not in AWS.
var notRouted = map[string]string{}

// sends reports whether the HTTP API route ar sends requests of the
// function's route rt to its function: the same method (ANY: every one;
// a GET route gets a HEAD route, addRoutes), and the same path, where
// {name} matches a wildcard segment and a final {proxy+} any path under
// it.
func sends(ar Route, rt routes.Route) bool {
	switch {
	case ar.Method == awsapigatewayv2.HttpMethod_ANY, string(ar.Method) == rt.Method:
	case ar.Method == awsapigatewayv2.HttpMethod_GET && rt.Method == "HEAD":
	default:
		return false
	}
	path := strings.ReplaceAll(rt.Path, "{$}", "")
	if prefix, ok := strings.CutSuffix(ar.Path, "{proxy+}"); ok {
		return strings.HasPrefix(path, prefix)
	}
	as, fs := strings.Split(ar.Path, "/"), strings.Split(path, "/")
	if len(as) != len(fs) {
		return false
	}
	for i := range as {
		wild := strings.HasPrefix(as[i], "{")
		if wild != strings.HasPrefix(fs[i], "{") || !wild && as[i] != fs[i] {
			return false
		}
	}
	return true
}

// TestRoutesMatchFunctions ties the HTTP API (Routes) to the routes each
// function serves (shared/routes, which the function's mux is built from):
// every route of a function is sent to it by a route of the API, and every
// route of the API sends some route of its function. A route added to a
// function and not to the API fails here (but under a {proxy+}: the admin
// API and the console, whose routes functions/admin's
// TestOpenAPIMatchesRoutes ties to openapi.json), and so does a route of
// the API that its function does not serve. local/server's
// TestLocalMuxRoutes ties the same routes to the local runner's mux.
func TestRoutesMatchFunctions(t *testing.T) {
	tables := map[string][]routes.Route{"token": routes.Token, "authorize": routes.Authorize, "admin": routes.Admin}
	if len(tables) != len(Functions) {
		t.Fatalf("got route tables for %d functions, want %d (%v)", len(tables), len(Functions), Functions)
	}
	excused := map[string]bool{}
	for _, fn := range Functions {
		table, ok := tables[fn]
		if !ok || len(table) == 0 {
			t.Fatalf("function %s: no routes in shared/routes", fn)
		}
		for _, rt := range table {
			sent := slices.ContainsFunc(Routes, func(ar Route) bool { return ar.Function == fn && sends(ar, rt) })
			key := fn + " " + rt.String()
			if _, ok := notRouted[key]; ok {
				excused[key] = true
				if sent {
					t.Errorf("%s is routed now: remove it from notRouted", key)
				}
				continue
			}
			if !sent {
				t.Errorf("function %s serves %s, which no route of the HTTP API (Routes) sends it", fn, rt)
			}
		}
	}
	for key := range notRouted {
		if !excused[key] {
			t.Errorf("notRouted names %s, which its function does not serve", key)
		}
	}
	for _, ar := range Routes {
		table, ok := tables[ar.Function]
		if !ok {
			t.Errorf("route %s %s: unknown function %q", ar.Method, ar.Path, ar.Function)
			continue
		}
		if !slices.ContainsFunc(table, func(rt routes.Route) bool { return sends(ar, rt) }) {
			t.Errorf("the HTTP API sends %s %s to %s, which serves no such route (shared/routes)", ar.Method, ar.Path, ar.Function)
		}
	}
}
