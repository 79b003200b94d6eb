// This folder holds the pinned npm tools (DynamoDB Local, the CDK CLI,
// cdklocal, openid-client) and openid-client-rp.mjs, the Node.js relying
// party of tests/e2e/openidclient_test.go. The CDK CLI ships Go template files;
// this go.mod makes the folder a module of its own so that `go build ./...`
// and `go test ./...` at the root never walk node_modules.
module applinks.invalid/tools

go 1.26
