package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/table"
)

// ProviderStackProps configure NewProviderStack. Zero values take the
// defaults documented on each field.
type ProviderStackProps struct {
	awscdk.StackProps

	// Stage names the deployment ("dev", "prod"); it prefixes the secret
	// names (SECRET_PREFIX is "applinks-<stage>") so that two stages can
	// share an account. Default "dev".
	Stage string

	// DomainName is an optional custom domain (e.g. "auth.example.com").
	// When set, CertificateArn must name an ACM certificate for it in the
	// stack's region, the issuer is https://DomainName, and the operator
	// points DNS at the DomainTarget output.
	DomainName     string
	CertificateArn string

	// Token lifetimes and the refresh-token reuse grace, as Go durations
	// ("60s", "2160h"); "" leaves the variable unset so that the function
	// uses the default of SPEC "Configuration".
	AuthCodeTTL       string
	AccessTokenTTL    string
	RefreshTokenTTL   string
	RefreshReuseGrace string
	// RequirePKCE sets REQUIRE_PKCE=true (PKCE for confidential clients too).
	RequirePKCE bool
	// Audience sets AUDIENCE (default: the issuer).
	Audience string
	// ProviderName sets PROVIDER_NAME, the name the pages give the
	// provider (default: the issuer's host name).
	ProviderName string
	// SupportContact sets SUPPORT_CONTACT, the help line of the error
	// pages (default: none).
	SupportContact string
	// AdminMFA sets ADMIN_MFA: "optional" (the default when empty) or
	// "required" (console administrators need a passkey).
	AdminMFA string
	// PermissionSource sets PERMISSION_SOURCE (stored, claims, service;
	// default stored). With service, PermissionsURL (PERMISSIONS_URL) is
	// required, PermissionsTimeout and PermissionsCache (Go durations) set
	// PERMISSIONS_TIMEOUT and PERMISSIONS_CACHE, and only then do the token
	// and authorize functions get access to the permission-request key
	// secret (<prefix>/permission-request-keys).
	PermissionSource   string
	PermissionsURL     string
	PermissionsTimeout string
	PermissionsCache   string

	// AssetDir holds the prebuilt bootstraps, one directory per function
	// (AssetDir/token/bootstrap...), as `make build` leaves them. Default
	// "../build" (the app runs in infra/).
	AssetDir string

	// ThrottleRate and ThrottleBurst limit the $default stage (requests per
	// second, steady and burst). Defaults 100 and 200.
	ThrottleRate  float64
	ThrottleBurst float64

	// AlarmTopicArn is an optional SNS topic that receives every alarm.
	AlarmTopicArn string

	// WithoutAPI leaves the HTTP API out (routes, stage, custom domain,
	// access logs, the API alarm and the ApiUrl output): for emulators
	// without API Gateway v2 (moto; LocalStack without a Pro token), whose
	// CloudFormation fails on the API's attributes. The functions' issuer is
	// then https://DomainName, or http://localhost without a domain. Such
	// a stack serves nothing: it checks the rest of the template.
	WithoutAPI bool

	// RemovalPolicy of the table; default RETAIN (a stack deletion must not
	// delete every link and grant). DESTROY is for throw-away test stacks
	// and also turns off deletion protection.
	RemovalPolicy awscdk.RemovalPolicy

	// OperatorRoleArns are IAM role (or user) ARNs that may use the link
	// secrets and the signing-key secret besides the functions' roles:
	// every other principal is denied by the resource policy the functions
	// attach when they create those secrets (LINK_SECRET_PRINCIPALS,
	// SIGNING_KEY_PRINCIPALS). Exact ARNs, with their paths.
	OperatorRoleArns []string

	// CreateKMSKey declares a customer managed KMS key (rotated yearly)
	// that encrypts the table and the secrets; KMSKeyArn names an existing
	// one instead. Neither: the AWS managed keys aws/dynamodb and
	// aws/secretsmanager.
	CreateKMSKey bool
	KMSKeyArn    string

	// FrontDomainName and FrontCertificateArn (an ACM certificate in
	// us-east-1) put a CloudFront distribution with an AWS WAF web ACL in
	// front of the public routes: the issuer becomes https://FrontDomainName,
	// CloudFront forwards to DomainName (the API's custom domain, which
	// they require) with a secret X-Origin-Verify header the functions
	// check, and /admin/* stays on DomainName (SigV4). The web ACL is in a
	// second stack, <id>-edge, in us-east-1 (CloudFront's web ACLs live
	// there), so the stack's account and region must be known (Env).
	FrontDomainName     string
	FrontCertificateArn string
	// WAFRateLimit is the most requests one IP address may send through
	// the front door in 5 minutes (default 1000); WAFSignInRateLimit the
	// most password posts (sign-in, the console's confirmation) in 5
	// minutes (default 100).
	WAFRateLimit       float64
	WAFSignInRateLimit float64

	// Regions deploys the provider to several regions (NewProvider; context
	// regions): one stack per region, each with its own functions and HTTP
	// API, one global table, one issuer host. Regions[0] is the primary
	// region: the table's stack, and where the secrets are created and
	// written. With one region or none, NewProvider declares the stack of
	// NewProviderStack, unchanged. See regions.go and docs/multi-region.md.
	Regions []string
	// Consistency is the global table's multi-region consistency:
	// "strong" (the default: DynamoDB's multi-Region strong consistency,
	// three regions of one region set) or "eventual".
	Consistency string
	// HostedZoneID and HostedZoneName are the Route 53 public hosted zone
	// of DomainName, where the stacks of several regions write the
	// issuer's latency records and each region's admin host.
	HostedZoneID   string
	HostedZoneName string

	// regional is one region's part of a deployment to several regions
	// (set by NewProvider).
	regional *regional
}

// Functions are the three Lambda functions, in a fixed order.
var Functions = []string{"token", "authorize", "admin"}

// Route is one HTTP API route and the function that serves it.
type Route struct {
	Function string
	Method   awsapigatewayv2.HttpMethod
	Path     string
	// IAM marks routes behind API Gateway IAM (SigV4) authorization.
	IAM bool
}

// Routes are the routes of SPEC "Endpoints"; each GET route gets a HEAD
// route to the same function. Only the admin API is behind IAM
// authorization: the OAuth endpoints authenticate clients and users
// themselves, and the console (/console, served by the admin function)
// authenticates administrators with their sign-in session.
var Routes = []Route{
	{"token", awsapigatewayv2.HttpMethod_POST, "/oauth2/token", false},
	{"token", awsapigatewayv2.HttpMethod_POST, "/rest/oauth2/latest/token", false},
	{"token", awsapigatewayv2.HttpMethod_POST, "/oauth2/revoke", false},
	{"token", awsapigatewayv2.HttpMethod_POST, "/oauth2/introspect", false},
	{"token", awsapigatewayv2.HttpMethod_GET, "/.well-known/oauth-authorization-server", false},
	{"token", awsapigatewayv2.HttpMethod_GET, "/.well-known/jwks.json", false},
	{"token", awsapigatewayv2.HttpMethod_GET, "/.well-known/permissions-jwks.json", false},
	{"token", awsapigatewayv2.HttpMethod_GET, "/.well-known/openid-configuration", false},
	{"token", awsapigatewayv2.HttpMethod_GET, "/oauth2/userinfo", false},
	{"token", awsapigatewayv2.HttpMethod_POST, "/oauth2/userinfo", false},
	{"token", awsapigatewayv2.HttpMethod_POST, "/oauth2/device_authorization", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/oauth2/authorize", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/oauth2/authorize", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/rest/oauth2/latest/authorize", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/rest/oauth2/latest/authorize", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/oauth2/login", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/oauth2/login", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/oauth2/consent", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/oauth2/logout", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/oauth2/logout", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/account/authorizations", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/account/authorizations/{client_id}/revoke", false},
	// Sign-in through an upstream identity provider: the start, and the
	// redirect URI registered at every upstream (a console flow goes on to
	// /console/upstream/callback).
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/oauth2/upstream/start", false},
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/oauth2/upstream/callback", false},
	// The Device Authorization Grant's verification page (RFC 8628).
	{"authorize", awsapigatewayv2.HttpMethod_GET, "/device", false},
	{"authorize", awsapigatewayv2.HttpMethod_POST, "/device", false},
	{"admin", awsapigatewayv2.HttpMethod_ANY, "/admin/{proxy+}", true},
	// The console: the administrator's sign-in session is the
	// authentication (functions/admin checks it and the administrator
	// flag), so no IAM authorizer; the JSON API above keeps it.
	{"admin", awsapigatewayv2.HttpMethod_ANY, "/console", false},
	{"admin", awsapigatewayv2.HttpMethod_ANY, "/console/{proxy+}", false},
	// Dynamic Client Registration (RFC 7591): an application registers
	// itself, so no IAM authorizer; the admin function applies the
	// administrator's policy (404 while it is off) and the limits on
	// unauthenticated creation.
	{"admin", awsapigatewayv2.HttpMethod_POST, "/oauth2/register", false},
}

// sizing is the memory and timeout of a function. Lambda gives CPU in
// proportion to memory (1,769 MB is one vCPU), so memory is chosen for CPU
// as much as for RAM.
type sizing struct {
	memoryMB float64
	timeout  time.Duration
}

var sizes = map[string]sizing{
	// token: an RS256 signature per token and, on the very first start of
	// a deployment, one RSA key generation; the working set is a few MB.
	// 256 MB (0.14 vCPU) signs in a few ms.
	"token": {256, 10 * time.Second},
	// authorize: every sign-in runs argon2id with m=19 MiB, t=2
	// (shared/password), which is CPU-bound: about 50 ms on a full vCPU,
	// so about 170 ms at 512 MB (0.29 vCPU) against 350 ms at 256 MB.
	"authorize": {512, 10 * time.Second},
	// admin: rare calls; creating a user hashes a password once and a
	// signing-key rotation generates one RSA key.
	"admin": {256, 10 * time.Second},
}

// The timeouts (10 s) are far below API Gateway's 30 s integration limit
// and far above a healthy request (one to three DynamoDB calls, tens of
// ms): a request that needs 10 s is stuck on a dependency, and answering
// 503 then is better than holding the client.

// Access is the IAM access of one function: the exact DynamoDB item actions
// on the table, Query on its indexes, and the Secrets Manager actions on
// the link secrets and on the signing-key secret. Nothing else, and never
// on "*".
type Access struct {
	Table []string
	// WritePrefixes, when set, restrict the item writes among Table
	// (PutItem, UpdateItem, DeleteItem) to partition keys starting with one
	// of them (table.WritePrefixes).
	WritePrefixes []string
	QueryIndex    bool
	LinkSecrets   []string
	SigningKeys   []string
	// PermissionKeys are the actions on the permission-request key secret,
	// granted only with PERMISSION_SOURCE=service (effectiveAccess).
	PermissionKeys []string
	// IDPSecrets are the actions on the client secrets of the upstream
	// identity providers (<prefix>/identity-providers/<id>).
	IDPSecrets []string
}

// Accesses follow the store methods each handler calls and the SDK
// operations behind them (shared/store); TestAccessesFollowTheCode derives
// them from the source and fails when the two differ:
//
//   - token: Fetch (BatchGetItem), GetRegistrationPolicy (GetItem: what
//     the metadata documents advertise), RevokeAccessToken
//     (PutItem), RevokeGrant (UpdateItem), RedeemCode and RotateRefresh
//     (a PutItem of the new refresh token, then a conditional UpdateItem),
//     and ReplaceSuccessor, a TransactWriteItems of Update, Put and
//     ConditionCheck items; without transactions (STORE_TRANSACTIONS=off)
//     a RedeemDevice or ReplaceSuccessor that loses its decision deletes
//     the pending refresh token it wrote (DeleteItem, conditioned on
//     pending, within the token's write prefixes like every item write).
//     IAM has no TransactWriteItems action: each item
//     of a transaction is authorized as its PutItem, UpdateItem, DeleteItem
//     or ConditionCheckItem. The keyring reads the signing keys, and the
//     first start of a deployment creates them (signing.New) and attaches
//     their resource policy (PutResourcePolicy); with
//     PERMISSION_SOURCE=service the same for the permission-request keys
//     (permissions.Setup).
//   - authorize: links, users, sessions, codes and grants by key (GetItem,
//     BatchGetItem for an authorization request's link, session, user and
//     grant, PutItem, UpdateItem, DeleteItem: login-attempt counters,
//     revocation and sign-out), ApproveGrant (a transaction of a Put or
//     Update of the grant and a ConditionCheck of the user), and
//     ListGrantsByUser (Query of the user's grants partition, on the table)
//     for the account page. Upstream sign-in: the identity providers (a
//     Query of their partition), its flows (PutItem, DeleteItem), the
//     users it creates and their pointers (a transaction of Puts), claims
//     permissions (PutItem), and the providers' client secrets
//     (GetSecretValue, to redeem a code). No index; no other secrets but,
//     with PERMISSION_SOURCE=service, the permission-request keys as the
//     token function has them (whichever starts first creates them).
//   - admin: links and users (Get/Put/Update/DeleteItem, BatchGetItem for
//     a user and its claims permissions with PERMISSION_SOURCE=claims, transactions of
//     Put and Delete items, and a ConditionCheck: a passkey enrollment
//     checks its user), the listings and revocation by link (Query on
//     gsi1), the user listing (Query on gsi2), a user's grants (Query on
//     the table), the link secrets (Create, Get, Put, Delete, and
//     PutResourcePolicy right after Create) and signing-key rotation (Get,
//     Create and PutResourcePolicy when the first rotation finds no key
//     set, Put), and the identity providers' client secrets (Create with
//     its PutResourcePolicy, Get for the console's upstream sign-in, Put,
//     Delete).
//
// Query of the table itself is in Table; QueryIndex grants Query on
// <table>/index/* alone.
var Accesses = map[string]Access{
	"token": {
		WritePrefixes: table.WritePrefixes["token"],
		Table: []string{
			"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
			"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem",
		},
		SigningKeys:    []string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy"},
		PermissionKeys: []string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy"},
	},
	"authorize": {
		WritePrefixes: table.WritePrefixes["authorize"],
		Table: []string{
			"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
			"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query",
		},
		PermissionKeys: []string{"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy"},
		IDPSecrets:     []string{"secretsmanager:GetSecretValue"},
	},
	"admin": {
		Table: []string{
			"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
			"dynamodb:ConditionCheckItem", "dynamodb:Query",
		},
		QueryIndex: true,
		LinkSecrets: []string{
			"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
			"secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
			"secretsmanager:PutResourcePolicy",
		},
		SigningKeys: []string{
			"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret",
			"secretsmanager:PutSecretValue", "secretsmanager:PutResourcePolicy",
		},
		IDPSecrets: []string{
			"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
			"secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
			"secretsmanager:PutResourcePolicy",
		},
	},
}

// isItemWrite reports whether a DynamoDB action writes an item (the
// actions dynamodb:LeadingKeys restricts in a write statement).
func isItemWrite(action string) bool {
	switch action {
	case "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem":
		return true
	}
	return false
}

// ProviderStack is the deployed provider: the table, the three functions
// and the HTTP API in front of them.
type ProviderStack struct {
	awscdk.Stack
	// Table is the table (with several regions: the global table in the
	// primary region's stack, its replica elsewhere).
	Table     awsdynamodb.ITable
	Functions map[string]awslambda.Function
	API       awsapigatewayv2.HttpApi
	// Issuer is ISSUER_URL as the functions see it (a token without a
	// custom domain).
	Issuer *string
	// Key is the customer managed KMS key (nil: AWS managed keys).
	Key awskms.IKey
	// Edge is the us-east-1 stack of the front door's web ACL, and
	// FrontDoor the distribution (both nil without FrontDomainName).
	Edge      awscdk.Stack
	FrontDoor awscloudfront.Distribution
}

// NewProviderStack declares the provider's stack. It returns an error for
// inconsistent props (a domain without a certificate, an unknown stage
// name); CDK itself panics on errors of its own.
func NewProviderStack(scope constructs.Construct, id string, props ProviderStackProps) (*ProviderStack, error) {
	p, err := withDefaults(props)
	if err != nil {
		return nil, err
	}
	front := p.FrontDomainName != ""
	if front {
		// The distribution (here) names the web ACL of the edge stack, in
		// us-east-1: a cross-region reference (CDK writes it to an SSM
		// parameter in us-east-1 and reads it here, with a custom resource
		// on each side).
		p.CrossRegionReferences = jsii.Bool(true)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	s := &ProviderStack{Stack: stack, Functions: map[string]awslambda.Function{}}

	s.Key = newKey(stack, p)
	if p.regional != nil {
		s.Table = regionalTable(stack, p)
	} else {
		s.Table = newTable(stack, p.RemovalPolicy, s.Key)
	}

	// The issuer. The functions need it in ISSUER_URL, and without a custom
	// domain it is the API's own endpoint. That is not a cycle: the
	// AWS::ApiGatewayV2::Api resource references nothing of ours; the
	// integrations, routes and permissions reference both the API and the
	// functions, so CloudFormation creates the API, then the functions
	// (whose environment references the API id), then the integrations.
	// stack_test.go checks that the template's dependency graph is acyclic.
	// The handlers never derive the issuer from the Host header.
	var api awsapigatewayv2.HttpApi
	if p.WithoutAPI {
		s.Issuer = jsii.String("http://localhost")
		if p.DomainName != "" {
			s.Issuer = jsii.String("https://" + p.DomainName)
		}
	} else {
		var domain, adminDomain awsapigatewayv2.DomainName
		api, domain, adminDomain = newAPI(stack, p)
		s.API = api
		if p.regional != nil {
			newRegionalRecords(stack, p, domain, adminDomain)
		}
		if domain != nil {
			s.Issuer = jsii.String("https://" + p.DomainName)
			awscdk.NewCfnOutput(stack, jsii.String("DomainTarget"), &awscdk.CfnOutputProps{
				Value:       domain.RegionalDomainName(),
				Description: jsii.String("Point a CNAME (or Route 53 alias) for the custom domain here"),
			})
		} else {
			s.Issuer = api.ApiEndpoint()
		}
		if front {
			// The public routes are reached through CloudFront; the
			// regional custom domain is its origin and the admin API's
			// host.
			s.Issuer = jsii.String("https://" + p.FrontDomainName)
		}
	}

	env := map[string]*string{
		"ISSUER_URL":    s.Issuer,
		"TABLE_NAME":    s.Table.TableName(),
		"SECRET_PREFIX": jsii.String(secretPrefix(p.Stage)),
	}
	for name, v := range map[string]string{
		"AUTH_CODE_TTL":       p.AuthCodeTTL,
		"ACCESS_TOKEN_TTL":    p.AccessTokenTTL,
		"REFRESH_TOKEN_TTL":   p.RefreshTokenTTL,
		"REFRESH_REUSE_GRACE": p.RefreshReuseGrace,
		"AUDIENCE":            p.Audience,
		"PROVIDER_NAME":       p.ProviderName,
		"SUPPORT_CONTACT":     p.SupportContact,
		"ADMIN_MFA":           p.AdminMFA,
		"PERMISSION_SOURCE":   p.PermissionSource,
		"PERMISSIONS_URL":     p.PermissionsURL,
		"PERMISSIONS_TIMEOUT": p.PermissionsTimeout,
		"PERMISSIONS_CACHE":   p.PermissionsCache,
	} {
		if v != "" {
			env[name] = jsii.String(v)
		}
	}
	if p.RequirePKCE {
		env["REQUIRE_PKCE"] = jsii.String("true")
	}
	if r := p.regional; r != nil {
		env["SECRET_PRIMARY_REGION"] = jsii.String(r.primary)
		env["SECRET_REPLICA_REGIONS"] = jsii.String(strings.Join(r.regions[1:], ","))
		if r.strong {
			// An MRSC global table refuses TransactWriteItems: the store
			// writes single items in its place (docs/multi-region.md).
			env["STORE_TRANSACTIONS"] = jsii.String("off")
		}
	}

	var origin awssecretsmanager.Secret
	if front {
		origin = newOriginSecret(stack, s.Key)
		// The ARN, not the value: each function reads the value at start,
		// so that the Lambda console does not show it.
		env["ORIGIN_VERIFY_SECRET"] = origin.SecretArn()
		// The public routes are reachable through CloudFront alone (the
		// origin check), so the sign-in limits may count the viewer's
		// address CloudFront reports instead of CloudFront's own.
		env["TRUST_CLOUDFRONT_VIEWER_ADDRESS"] = jsii.String("true")
	}

	integrations := map[string]awsapigatewayv2.HttpRouteIntegration{}
	for _, name := range Functions {
		fn := newFunction(stack, name, p.AssetDir, env)
		s.Functions[name] = fn
		access := effectiveAccess(name, p)
		grant(stack, fn, s.Table, p, access)
		if origin != nil {
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("OriginVerify"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: &[]*string{origin.SecretArn()},
			}))
		}
		grantKey(stack, fn, s.Key, access, origin != nil)
		if s.Key != nil && createsSecrets(access) {
			// The functions create their secrets themselves, with this key.
			fn.AddEnvironment(jsii.String("SECRET_KMS_KEY"), s.Key.KeyArn(), nil)
		}
		suppressRoleFindings(fn, p.Stage, p.regional != nil)
		if api == nil {
			continue
		}
		integrations[name] = awsapigatewayv2integrations.NewHttpLambdaIntegration(
			jsii.String(title(name)+"Integration"), fn,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			})
	}

	setSecretPrincipals(s.Functions, p)
	if p.regional == nil || p.regional.region == p.regional.primary {
		// With several regions, one daily run (the primary's): the table
		// is one.
		newIdleCleanup(stack, s.Functions["admin"])
	}

	if api != nil {
		if err := addRoutes(api, integrations); err != nil {
			return nil, err
		}
	}
	if front {
		s.Edge, s.FrontDoor = newFrontDoor(scope, id, stack, p, origin)
	}

	newAlarms(stack, s, p.AlarmTopicArn)

	awscdk.NewCfnOutput(stack, jsii.String("IssuerUrl"), &awscdk.CfnOutputProps{
		Value:       s.Issuer,
		Description: jsii.String("ISSUER_URL: the OAuth issuer; metadata at /.well-known/oauth-authorization-server"),
	})
	if api != nil {
		// With a custom domain the execute-api endpoint is disabled: the
		// API's URL is the domain's.
		apiURL := jsii.String("https://" + p.DomainName)
		if p.regional != nil {
			apiURL = jsii.String("https://" + p.regional.adminHost(p.DomainName))
		}
		if p.DomainName == "" {
			apiURL = api.ApiEndpoint()
		}
		awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
			Value:       apiURL,
			Description: jsii.String("The HTTP API's URL ($default stage), where the admin API (/admin/*, SigV4) is called"),
		})
	}
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Value:       s.Table.TableName(),
		Description: jsii.String("The DynamoDB table"),
	})
	return s, nil
}

// newAPI declares the HTTP API, its $default stage with access logs, and
// the custom domain when p has one (nil otherwise).
func newAPI(stack awscdk.Stack, p ProviderStackProps) (api awsapigatewayv2.HttpApi, domain, adminDomain awsapigatewayv2.DomainName) {
	api = awsapigatewayv2.NewHttpApi(stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String("applinks-" + p.Stage),
		Description:        jsii.String("applinks OAuth 2.0 authorization server (" + p.Stage + ")"),
		CreateDefaultStage: jsii.Bool(false),
		// With a custom domain, the execute-api endpoint would be a second
		// way in, around the domain (and the front door's web ACL).
		DisableExecuteApiEndpoint: jsii.Bool(p.DomainName != ""),
	})
	if p.DomainName != "" {
		domain = awsapigatewayv2.NewDomainName(stack, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:     jsii.String(p.DomainName),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(p.CertificateArn)),
			SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
		})
	}

	// The $default stage (the issuer has no path), throttled: the OAuth
	// endpoints are public, and the throttle bounds what a flood can cost.
	stageOpts := &awsapigatewayv2.HttpStageOptions{
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(p.ThrottleRate),
			BurstLimit: jsii.Number(p.ThrottleBurst),
		},
	}
	stage := api.AddStage(jsii.String("DefaultStage"), stageOpts)
	// Access logs: one JSON line per request at the API, so that requests
	// no function saw (throttled with 429, refused by IAM, integration
	// failures) are on record too. The path is logged without its query
	// string, and no header or body: nothing of a token, code or password.
	accessLogs := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	if domain != nil {
		// Declared here rather than through the stage's DomainMapping,
		// whose mapping takes the logical id "...Domainundefined..." (the
		// absent mapping key, stringified).
		awsapigatewayv2.NewApiMapping(stack, jsii.String("DomainMapping"), &awsapigatewayv2.ApiMappingProps{
			Api:        api,
			DomainName: domain,
			Stage:      stage,
		})
	}
	if p.regional != nil {
		// The region's own host, where /admin/* is called: a SigV4
		// signature names its region, and the issuer's host may answer
		// from any region.
		adminDomain = awsapigatewayv2.NewDomainName(stack, jsii.String("AdminDomain"), &awsapigatewayv2.DomainNameProps{
			DomainName:     jsii.String(p.regional.adminHost(p.DomainName)),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("AdminCertificate"), jsii.String(p.CertificateArn)),
			SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
		})
		awsapigatewayv2.NewApiMapping(stack, jsii.String("AdminDomainMapping"), &awsapigatewayv2.ApiMappingProps{
			Api:        api,
			DomainName: adminDomain,
			Stage:      stage,
		})
	}
	return api, domain, adminDomain
}

// addRoutes adds Routes to api, with the IAM authorizer where a route
// needs it and cdk-nag's APIG4 suppressed with its reason where not.
func addRoutes(api awsapigatewayv2.HttpApi, integrations map[string]awsapigatewayv2.HttpRouteIntegration) error {
	iam := awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	for _, r := range Routes {
		publicReason := ""
		if !r.IAM {
			if publicReason = publicRoutes[publicKind(r)]; publicReason == "" {
				return fmt.Errorf("route %s %s to %s: neither behind IAM nor of a public kind (publicRoutes)", r.Method, r.Path, r.Function)
			}
		}
		methods := []awsapigatewayv2.HttpMethod{r.Method}
		if r.Method == awsapigatewayv2.HttpMethod_GET {
			// Every GET answers HEAD too (shared/web's Middleware).
			methods = append(methods, awsapigatewayv2.HttpMethod_HEAD)
		}
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &methods,
			Integration: integrations[r.Function],
		}
		if r.IAM {
			opts.Authorizer = iam
		}
		for _, route := range *api.AddRoutes(opts) {
			if publicReason != "" {
				cdknag.NagSuppressions_AddResourceSuppressions(route, &[]*cdknag.NagPackSuppression{
					{Id: jsii.String("AwsSolutions-APIG4"), Reason: jsii.String(publicReason)},
				}, jsii.Bool(true))
			}
		}
	}
	return nil
}

func withDefaults(p ProviderStackProps) (ProviderStackProps, error) {
	if p.Stage == "" {
		p.Stage = "dev"
	}
	for _, c := range p.Stage {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return p, fmt.Errorf("stage %q: use lowercase letters, digits and hyphens", p.Stage)
		}
	}
	if (p.DomainName == "") != (p.CertificateArn == "") {
		return p, fmt.Errorf("domain name %q and certificate ARN %q: set both or neither", p.DomainName, p.CertificateArn)
	}
	if strings.ContainsAny(p.DomainName, "/:") {
		return p, fmt.Errorf("domain name %q: a host name only, without scheme or path", p.DomainName)
	}
	if err := checkFrontDoor(p); err != nil {
		return p, err
	}
	if p.CreateKMSKey && p.KMSKeyArn != "" {
		return p, fmt.Errorf("KMS key: create one or name one (%q), not both", p.KMSKeyArn)
	}
	if p.KMSKeyArn != "" && !kmsKeyArn.MatchString(p.KMSKeyArn) {
		return p, fmt.Errorf("KMS key %q: an ARN arn:aws:kms:REGION:ACCOUNT:key/ID is needed", p.KMSKeyArn)
	}
	// The functions refuse to start on an invalid configuration; checking
	// it here with the same parser (shared/config) fails the synth instead
	// of the deployment. Without a custom domain the issuer is only known
	// at deploy time, so a placeholder of the same shape stands in.
	iss := "https://placeholder.execute-api.us-east-1.amazonaws.com"
	if p.DomainName != "" {
		iss = "https://" + p.DomainName
	}
	env := map[string]string{
		"ISSUER_URL": iss, "AUTH_CODE_TTL": p.AuthCodeTTL, "ACCESS_TOKEN_TTL": p.AccessTokenTTL,
		"REFRESH_TOKEN_TTL": p.RefreshTokenTTL, "REFRESH_REUSE_GRACE": p.RefreshReuseGrace,
		"AUDIENCE": p.Audience, "PROVIDER_NAME": p.ProviderName, "SUPPORT_CONTACT": p.SupportContact, "ADMIN_MFA": p.AdminMFA,
		"PERMISSION_SOURCE": p.PermissionSource, "PERMISSIONS_URL": p.PermissionsURL,
		"PERMISSIONS_TIMEOUT": p.PermissionsTimeout, "PERMISSIONS_CACHE": p.PermissionsCache,
		// The operators join the functions' roles in the secrets' policies.
		"LINK_SECRET_PRINCIPALS": strings.Join(p.OperatorRoleArns, ","),
	}
	if _, err := config.FromEnv(func(k string) string { return env[k] }); err != nil {
		return p, err
	}
	if p.AssetDir == "" {
		p.AssetDir = filepath.Join("..", "build")
	}
	if p.ThrottleRate == 0 {
		p.ThrottleRate = 100
	}
	if p.ThrottleBurst == 0 {
		p.ThrottleBurst = 200
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.WAFRateLimit == 0 {
		p.WAFRateLimit = 1000
	}
	if p.WAFSignInRateLimit == 0 {
		p.WAFSignInRateLimit = 100
	}
	return p, nil
}

// kmsKeyArn is the ARN of a KMS key (not an alias: IAM statements name
// the key).
var kmsKeyArn = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)

// newKey declares the customer managed key (CreateKMSKey) or imports the
// one KMSKeyArn names; nil for neither. A declared key rotates every year
// (cdk-nag KMS5) and is retained with the table it encrypts.
func newKey(stack awscdk.Stack, p ProviderStackProps) awskms.IKey {
	switch {
	case p.CreateKMSKey:
		return awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
			Description:       jsii.String("applinks " + p.Stage + ": the table and the secrets"),
			Alias:             jsii.String("alias/applinks-" + p.Stage),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     p.RemovalPolicy,
		})
	case p.KMSKeyArn != "":
		return awskms.Key_FromKeyArn(stack, jsii.String("Key"), jsii.String(p.KMSKeyArn))
	}
	return nil
}

// grantKey gives fn the use of key that its access a needs, each through
// its service only (kms:ViaService): kms:Decrypt through DynamoDB (reading
// or writing an item decrypts the table key), and through Secrets Manager
// kms:Decrypt to read a secret (readsOrigin: the origin-verify secret) and
// kms:GenerateDataKey to create one or store a new value. Nothing without
// a key.
func grantKey(stack awscdk.Stack, fn awslambda.Function, key awskms.IKey, a Access, readsOrigin bool) {
	if key == nil {
		return
	}
	via := func(service string) *map[string]any {
		return &map[string]any{"StringEquals": map[string]any{
			"kms:ViaService": service + "." + *stack.Region() + ".amazonaws.com",
		}}
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TableKey"),
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  &[]*string{key.KeyArn()},
		Conditions: via("dynamodb"),
	}))
	secrets := slices.Concat(a.LinkSecrets, a.SigningKeys, a.PermissionKeys, a.IDPSecrets)
	var actions []string
	if readsOrigin || len(secrets) > 0 {
		actions = append(actions, "kms:Decrypt")
	}
	if slices.Contains(secrets, "secretsmanager:CreateSecret") || slices.Contains(secrets, "secretsmanager:PutSecretValue") {
		actions = append(actions, "kms:GenerateDataKey")
	}
	if len(actions) == 0 {
		return
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("SecretsKey"),
		Actions:    jsii.Strings(actions...),
		Resources:  &[]*string{key.KeyArn()},
		Conditions: via("secretsmanager"),
	}))
}

// createsSecrets reports whether a function with access a creates secrets.
func createsSecrets(a Access) bool {
	return slices.Contains(slices.Concat(a.LinkSecrets, a.SigningKeys, a.PermissionKeys, a.IDPSecrets), "secretsmanager:CreateSecret")
}

// effectiveAccess is the function's Access in the stack p describes: the
// permission-request keys only with PERMISSION_SOURCE=service, so that no
// function of a deployment that does not ask a permission service can
// create (and so know) the key such a service would later trust.
func effectiveAccess(name string, p ProviderStackProps) Access {
	a := Accesses[name]
	if !strings.EqualFold(p.PermissionSource, string(config.PermissionsService)) {
		a.PermissionKeys = nil
	}
	if p.regional != nil {
		a = withReplication(a)
	}
	return a
}

// setSecretPrincipals tells the functions that create the link secrets,
// the signing-key secret and the permission-request key secret whom the
// secrets' resource policies leave them to (LINK_SECRET_PRINCIPALS,
// SIGNING_KEY_PRINCIPALS, PERMISSION_KEY_PRINCIPALS): the roles of every
// function with access to them (effectiveAccess), then the operators. A
// function's environment naming roles is no cycle: the roles depend on
// nothing of the functions, and CloudFormation creates them first.
func setSecretPrincipals(fns map[string]awslambda.Function, p ProviderStackProps) {
	for _, kind := range []struct {
		env    string
		access func(Access) []string
	}{
		{"LINK_SECRET_PRINCIPALS", func(a Access) []string { return a.LinkSecrets }},
		{"SIGNING_KEY_PRINCIPALS", func(a Access) []string { return a.SigningKeys }},
		{"PERMISSION_KEY_PRINCIPALS", func(a Access) []string { return a.PermissionKeys }},
		{"IDP_SECRET_PRINCIPALS", func(a Access) []string { return a.IDPSecrets }},
	} {
		var arns []*string
		for _, name := range Functions {
			if len(kind.access(effectiveAccess(name, p))) > 0 {
				arns = append(arns, fns[name].Role().RoleArn())
			}
		}
		if len(arns) == 0 {
			continue // no function has the secret
		}
		for _, o := range p.OperatorRoleArns {
			arns = append(arns, jsii.String(o))
		}
		value := awscdk.Fn_Join(jsii.String(","), &arns)
		for _, name := range Functions {
			if slices.Contains(kind.access(effectiveAccess(name, p)), "secretsmanager:CreateSecret") {
				fns[name].AddEnvironment(jsii.String(kind.env), value, nil)
			}
		}
	}
}

// secretPrefix is SECRET_PREFIX for a stage.
func secretPrefix(stage string) string { return "applinks-" + stage }

// newTable declares the table from the one definition in
// shared/store/table.
func newTable(stack awscdk.Stack, removal awscdk.RemovalPolicy, key awskms.IKey) awsdynamodb.Table {
	// AWS_MANAGED: the KMS key aws/dynamodb in the account, so every use
	// of it is visible in CloudTrail, at no key cost and with no key
	// policy to get wrong. The table holds hashes, not secrets (client
	// secrets and signing keys are in Secrets Manager); a customer managed
	// key (kmsKey) is for when a policy requires revoking the key.
	encryption := awsdynamodb.TableEncryption_AWS_MANAGED
	if key != nil {
		encryption = awsdynamodb.TableEncryption_CUSTOMER_MANAGED
	}
	str := awsdynamodb.AttributeType_STRING
	t := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(table.PartitionKey), Type: str},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String(table.SortKey), Type: str},
		// On demand: traffic of an authorization server is spiky and small;
		// there is no capacity to plan or to exhaust.
		BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String(table.TTLAttribute),
		Encryption:          encryption,
		EncryptionKey:       key,
		DeletionProtection:  jsii.Bool(removal != awscdk.RemovalPolicy_DESTROY),
		RemovalPolicy:       removal,
	})
	for _, g := range table.GSIs {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(g.Name),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(g.PartitionKey), Type: str},
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String(g.SortKey), Type: str},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return t
}

// newFunction declares one function from its prebuilt bootstrap.
func newFunction(stack awscdk.Stack, name, assetDir string, env map[string]*string) awslambda.Function {
	id := title(name)
	// One log group per function, declared here so that its retention is
	// part of the stack (and not a custom resource that sets it later).
	logs := awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	sz := sizes[name]
	return awslambda.NewFunction(stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:  jsii.String("applinks " + name + " function"),
		Architecture: awslambda.Architecture_ARM_64(),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, name)), nil),
		MemorySize:   jsii.Number(sz.memoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(sz.timeout.Seconds())),
		Environment:  &env,
		LogGroup:     logs,
		// The handlers log JSON lines (log/slog); JSON platform logs keep
		// the whole log group queryable as JSON.
		LoggingFormat: awslambda.LoggingFormat_JSON,
	})
}

// grant gives fn exactly the access a: DynamoDB actions on the table and
// its indexes, Secrets Manager actions on the named secrets only.
func grant(stack awscdk.Stack, fn awslambda.Function, t awsdynamodb.ITable, p ProviderStackProps, a Access) {
	// With write prefixes, the item writes go in a statement of their own,
	// conditioned on dynamodb:LeadingKeys: every partition key written
	// (also each Put, Update or Delete of a transaction) must start with
	// one of the prefixes.
	reads, writes := a.Table, []string(nil)
	if len(a.WritePrefixes) > 0 {
		reads = nil
		for _, act := range a.Table {
			if isItemWrite(act) {
				writes = append(writes, act)
			} else {
				reads = append(reads, act)
			}
		}
	}
	if len(reads) > 0 {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Table"),
			Actions:   jsii.Strings(reads...),
			Resources: &[]*string{t.TableArn()},
		}))
	}
	if len(writes) > 0 {
		var keys []any
		for _, p := range a.WritePrefixes {
			keys = append(keys, p+"*")
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("TableWrites"),
			Actions:   jsii.Strings(writes...),
			Resources: &[]*string{t.TableArn()},
			Conditions: &map[string]any{
				"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": keys},
			},
		}))
	}
	if a.QueryIndex {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Indexes"),
			Actions:   jsii.Strings("dynamodb:Query"),
			Resources: jsii.Strings(*t.TableArn() + "/index/*"),
		}))
	}
	prefix := secretPrefix(p.Stage)
	// With several regions the secrets are in the primary region (created
	// and written there, replicated to the others).
	var secretRegion *string
	if p.regional != nil {
		secretRegion = jsii.String(p.regional.primary)
	}
	secretArnIn := func(region *string, name string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("secretsmanager"),
			Resource:     jsii.String("secret"),
			ResourceName: jsii.String(name),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
			Region:       region,
		})
	}
	secretArn := func(name string) *string { return secretArnIn(secretRegion, name) }
	if len(a.LinkSecrets) > 0 {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("LinkSecrets"),
			Actions:   jsii.Strings(a.LinkSecrets...),
			Resources: &[]*string{secretArn(prefix + "/links/*")},
		}))
	}
	if len(a.SigningKeys) > 0 {
		// Secrets Manager appends "-" and six random characters to a
		// secret's name in its ARN.
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("SigningKeys"),
			Actions:   jsii.Strings(a.SigningKeys...),
			Resources: &[]*string{secretArn(prefix + "/signing-keys-??????")},
		}))
		if p.regional.readsLocalReplicas() {
			// The key sets are read from this region's replica first.
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SigningKeysReplica"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: &[]*string{secretArnIn(nil, prefix+"/signing-keys-??????")},
			}))
		}
	}
	if len(a.PermissionKeys) > 0 {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PermissionRequestKeys"),
			Actions:   jsii.Strings(a.PermissionKeys...),
			Resources: &[]*string{secretArn(prefix + "/permission-request-keys-??????")},
		}))
		if p.regional.readsLocalReplicas() {
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("PermissionRequestKeysReplica"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: &[]*string{secretArnIn(nil, prefix+"/permission-request-keys-??????")},
			}))
		}
	}
	if len(a.IDPSecrets) > 0 {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("IdentityProviderSecrets"),
			Actions:   jsii.Strings(a.IDPSecrets...),
			Resources: &[]*string{secretArn(prefix + "/identity-providers/*")},
		}))
	}
}

// accessLogFormat is the API's access log line (HTTP API context
// variables): who called, what route, the answer, and timings. For the
// admin API, the IAM principal that signed the request.
const accessLogFormat = `{"requestId":"$context.requestId","time":"$context.requestTime","ip":"$context.identity.sourceIp",` +
	`"userAgent":"$context.identity.userAgent","method":"$context.httpMethod","routeKey":"$context.routeKey",` +
	`"path":"$context.path","protocol":"$context.protocol","status":"$context.status",` +
	`"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage",` +
	`"principal":"$context.identity.userArn"}`

// publicRoutes are the reasons why routes without IAM authorization are
// public (cdk-nag's AwsSolutions-APIG4, "the API does not implement
// authorization", is suppressed on them with that reason), by publicKind.
// A new route of another kind fails the synth until it is decided here.
var publicRoutes = map[string]string{
	"token": "OAuth 2.0 endpoints for clients: the token, revocation and introspection endpoints authenticate the client " +
		"themselves (client_secret_basic or client_secret_post, RFC 6749 2.3; public clients by PKCE, RFC 7636), and the " +
		"metadata and JWK Set are public documents (RFC 8414, RFC 7517, OpenID Connect Discovery), and UserInfo authenticates " +
		"the bearer access token (RFC 6750). An OAuth client cannot sign with SigV4.",
	"authorize": "Pages for a person's browser: the authorization endpoint (RFC 6749 3.1), sign-in, consent, sign-out and the " +
		"account page. The user authenticates with a password (argon2id, throttled) or through an upstream identity provider " +
		"(OpenID Connect: PKCE, state bound to the browser, nonce, the ID token verified) and then a session cookie, and every " +
		"form carries a CSRF token. A browser cannot sign with SigV4.",
	"registration": "OAuth 2.0 Dynamic Client Registration (RFC 7591): applications register themselves without credentials, " +
		"as the RFC's open registration intends. The admin function answers 404 unless the administrator's policy enables it, " +
		"creates only links limited to the policy's scope ceiling (pending the administrator's approval in approval mode), and " +
		"bounds unauthenticated creation (20 links per source address an hour, 100 pending links in all; beyond, 429).",
	"console": "The administrators' console in a browser: it authenticates with the sign-in session (administrators only, " +
		"CSRF tokens, the password confirmed again for sensitive actions). The JSON admin API, /admin/*, stays behind IAM.",
}

// publicKind is the key of publicRoutes for a route: its function, or
// "console" for the admin function's console pages, "registration" for
// its Dynamic Client Registration endpoint.
func publicKind(r Route) string {
	if r.Function == "admin" {
		if r.Path == "/console" || strings.HasPrefix(r.Path, "/console/") {
			return "console"
		}
		if r.Path == "/oauth2/register" {
			return "registration"
		}
		return "" // every other admin route needs IAM
	}
	return r.Function
}

// suppressRoleFindings suppresses cdk-nag's findings on fn's role that are
// accepted, each with its reason (listed in infra/README.md, "cdk-nag").
func suppressRoleFindings(fn awslambda.Function, stage string, regional bool) {
	indexes := []any{cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<Table[0-9A-F]{8}\.Arn>\/index\/\*$/g`)}}
	if regional {
		// With several regions, a replica's indexes, by the global
		// table's name.
		indexes = append(indexes, cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:dynamodb:[a-z0-9-]+:(<AWS::AccountId>|[0-9]{12}):table\/` +
			regexp.QuoteMeta(globalTableName(stage)) + `\/index\/\*$/g`)})
	}
	appliesTo := append(indexes,
		cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:secretsmanager:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):secret:` +
			regexp.QuoteMeta(secretPrefix(stage)) + `\/links\/\*$/g`)},
		cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:secretsmanager:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):secret:` +
			regexp.QuoteMeta(secretPrefix(stage)) + `\/identity-providers\/\*$/g`)})
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Role(), &[]*cdknag.NagPackSuppression{
		{
			Id: jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("AWSLambdaBasicExecutionRole, AWS's managed policy for a function's logs (logs:CreateLogGroup, " +
				"CreateLogStream, PutLogEvents). The function's log group is declared in the stack and named in its " +
				"LoggingConfig; the policy's Resource * only adds writing log lines to other groups of the account."),
			AppliesTo: &[]any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		},
		{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Query on <table>/index/*: the indexes of the provider's own table only (Query is " +
				"never granted on the table itself); <prefix>/links/*: one secret per application link, and " +
				"<prefix>/identity-providers/*: one client secret per upstream identity provider, each created " +
				"at run time under this stage's SECRET_PREFIX, so the names are not known at deploy time."),
			AppliesTo: &appliesTo,
		},
	}, jsii.Bool(true))
}

// newAlarms declares the alarms an operator needs first: server errors at
// the API, and errors and throttles of each function.
// newIdleCleanup is the daily run of the idle-link clean-up: an EventBridge
// rule whose target is the admin function itself. The function's entry
// point tells the scheduled event from an HTTP request (no route of the
// API reaches the job), and deletes the links that registered themselves
// and went unused for the registration policy's idle days, never one with
// a live grant. A failed run is retried twice by EventBridge, and shows in
// the admin function's Errors alarm.
func newIdleCleanup(stack awscdk.Stack, admin awslambda.Function) {
	rule := awsevents.NewRule(stack, jsii.String("IdleLinkCleanup"), &awsevents.RuleProps{
		Description: jsii.String("Daily: delete idle links that registered themselves (the admin function's clean-up)"),
		Schedule: awsevents.Schedule_Cron(&awsevents.CronOptions{
			Minute: jsii.String("17"), Hour: jsii.String("3"),
		}),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(admin, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(2),
		MaxEventAge:   awscdk.Duration_Hours(jsii.Number(6)),
	}))
}

func newAlarms(stack awscdk.Stack, s *ProviderStack, topicArn string) {
	var action awscloudwatch.IAlarmAction
	if topicArn != "" {
		action = awscloudwatchactions.NewSnsAction(awssns.Topic_FromTopicArn(stack, jsii.String("AlarmTopic"), jsii.String(topicArn)))
	}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	add := func(id, desc string, m awscloudwatch.Metric) {
		a := m.CreateAlarm(stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(desc),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if action != nil {
			a.AddAlarmAction(action)
		}
	}
	// 4xx is not alarmed: invalid_grant, invalid_client and login failures
	// are the normal traffic of an OAuth server, and HTTP APIs count their
	// throttling (429) among the 4xx.
	if s.API != nil {
		add("Api5xxAlarm", "The HTTP API answered 5xx (a function failed or timed out)",
			s.API.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}))
	}
	for _, name := range Functions {
		fn := s.Functions[name]
		add(title(name)+"ErrorsAlarm", "The "+name+" function failed (crash, timeout, bad configuration)",
			fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}))
		add(title(name)+"ThrottlesAlarm", "The "+name+" function was throttled (account concurrency exhausted)",
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}))
	}
}

// title is "Token" for "token".
func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
