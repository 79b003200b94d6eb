// Package e2e runs the provider whole: the local runner's handler
// (local/server) on a loopback port over the real store on DynamoDB Local,
// driven from outside as its clients drive it. Relying parties
// (golang.org/x/oauth2, zitadel/oidc, Node's openid-client, an MCP client),
// pages read by their forms (tests/testkit/oauthflow) and in Chromium
// (tests/testkit/browser), several instances as regions on one table, and
// the runner's own binary on moto's server. Its code is all tests.
package e2e
