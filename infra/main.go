// Command infra is the CDK app of the provider: one stack with the DynamoDB
// table, the three Lambda functions (from the bootstraps `make build`
// leaves under build/) and the HTTP API in front of them. See README.md.
//
// Settings come from CDK context (`cdk synth -c stage=prod -c
// domainName=auth.example.com ...`, or "context" in cdk.json):
//
//	stage              deployment name, default "dev" (stack applinks-<stage>)
//	domainName         custom domain; the issuer becomes https://<domainName>
//	certificateArn     ACM certificate for domainName (same region)
//	authCodeTtl, accessTokenTtl, refreshTokenTtl, refreshReuseGrace
//	                   Go durations for the variables of the same name
//	requirePkce        "true" for REQUIRE_PKCE=true
//	audience           AUDIENCE
//	providerName       PROVIDER_NAME (the name the pages give the provider)
//	supportContact     SUPPORT_CONTACT (the error pages' help line)
//	adminMfa           ADMIN_MFA: "optional" (default) or "required" (console
//	                   administrators need a passkey; needs a domain issuer)
//	permissionSource   PERMISSION_SOURCE (stored, claims, service)
//	permissionsUrl, permissionsTimeout, permissionsCache
//	                   PERMISSIONS_URL, PERMISSIONS_TIMEOUT, PERMISSIONS_CACHE
//	                   (with permissionSource service)
//	assetDir           directory holding <fn>/bootstrap, default ../build
//	throttleRate, throttleBurst
//	                   $default stage limits, default 100 and 200
//	alarmTopicArn      SNS topic for the alarms
//	removalPolicy      "retain" (default) or "destroy" for throw-away stacks
//	withoutApi         "true" leaves the HTTP API out, for emulators without
//	                   API Gateway v2 (make localstack-deploy against moto)
//	operatorRoleArn    IAM role ARNs (comma-separated) that may use the link
//	                   and signing-key secrets besides the functions
//	kmsKey             "true" for a customer managed KMS key (table and
//	                   secrets), or the ARN of an existing key
//	frontDomainName, frontCertificateArn
//	                   the CloudFront front door with AWS WAF (certificate
//	                   in us-east-1; needs domainName as its origin)
//	wafRateLimit, wafSignInRateLimit
//	                   requests and password posts per IP address in 5
//	                   minutes at the front door, default 1000 and 100
//	regions            comma-separated regions: several deploy one stack per
//	                   region (applinks-<stage>-<region>) around one global
//	                   table; the first is the primary (regions.go)
//	consistency        the global table's: strong (default) or eventual
//	hostedZoneId, hostedZoneName
//	                   the Route 53 zone of domainName (several regions)
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	props, err := propsFromContext(app)
	if err == nil {
		_, err = NewProvider(app, "applinks-"+stageOrDefault(props.Stage), props)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}

// propsFromContext reads the stack's settings from CDK context.
func propsFromContext(app awscdk.App) (ProviderStackProps, error) {
	get := func(key string) string {
		v := app.Node().TryGetContext(jsii.String(key))
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	num := func(key string) (float64, error) {
		s := get(key)
		if s == "" {
			return 0, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return 0, fmt.Errorf("context %s: %q is not a positive number", key, s)
		}
		return f, nil
	}
	p := ProviderStackProps{
		StackProps: awscdk.StackProps{
			Env: &awscdk.Environment{
				Account: jsii.String(os.Getenv("CDK_DEFAULT_ACCOUNT")),
				Region:  jsii.String(os.Getenv("CDK_DEFAULT_REGION")),
			},
			Description: jsii.String("applinks: OAuth 2.0 authorization server (incoming application links)"),
		},
		Stage:               get("stage"),
		DomainName:          get("domainName"),
		CertificateArn:      get("certificateArn"),
		AuthCodeTTL:         get("authCodeTtl"),
		AccessTokenTTL:      get("accessTokenTtl"),
		RefreshTokenTTL:     get("refreshTokenTtl"),
		RefreshReuseGrace:   get("refreshReuseGrace"),
		Audience:            get("audience"),
		ProviderName:        get("providerName"),
		SupportContact:      get("supportContact"),
		AdminMFA:            get("adminMfa"),
		PermissionSource:    get("permissionSource"),
		PermissionsURL:      get("permissionsUrl"),
		PermissionsTimeout:  get("permissionsTimeout"),
		PermissionsCache:    get("permissionsCache"),
		AssetDir:            get("assetDir"),
		AlarmTopicArn:       get("alarmTopicArn"),
		FrontDomainName:     get("frontDomainName"),
		FrontCertificateArn: get("frontCertificateArn"),
		Consistency:         get("consistency"),
		HostedZoneID:        get("hostedZoneId"),
		HostedZoneName:      get("hostedZoneName"),
	}
	if v := get("regions"); v != "" {
		p.Regions = strings.Split(v, ",")
	}
	for _, a := range strings.Split(get("operatorRoleArn"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			p.OperatorRoleArns = append(p.OperatorRoleArns, a)
		}
	}
	switch v := get("kmsKey"); {
	case v == "" || v == "false":
	case v == "true":
		p.CreateKMSKey = true
	case strings.HasPrefix(v, "arn:"):
		p.KMSKeyArn = v
	default:
		return p, fmt.Errorf("context kmsKey: %q is neither true, false nor a key ARN", v)
	}
	if p.AssetDir == "" {
		if root := projectRoot(); root != "" {
			p.AssetDir = filepath.Join(root, "build")
		}
	}
	switch v := get("requirePkce"); v {
	case "", "false":
	case "true":
		p.RequirePKCE = true
	default:
		return p, fmt.Errorf("context requirePkce: %q is neither true nor false", v)
	}
	switch v := get("withoutApi"); v {
	case "", "false":
	case "true":
		p.WithoutAPI = true
	default:
		return p, fmt.Errorf("context withoutApi: %q is neither true nor false", v)
	}
	switch v := get("removalPolicy"); v {
	case "", "retain":
	case "destroy":
		p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY
	default:
		return p, fmt.Errorf("context removalPolicy: %q is neither retain nor destroy", v)
	}
	var err error
	if p.ThrottleRate, err = num("throttleRate"); err != nil {
		return p, err
	}
	if p.ThrottleBurst, err = num("throttleBurst"); err != nil {
		return p, err
	}
	if p.WAFRateLimit, err = num("wafRateLimit"); err != nil {
		return p, err
	}
	if p.WAFSignInRateLimit, err = num("wafSignInRateLimit"); err != nil {
		return p, err
	}
	if os.Getenv("CDK_DEFAULT_ACCOUNT") == "" || os.Getenv("CDK_DEFAULT_REGION") == "" {
		p.Env = nil // environment-agnostic: account and region stay tokens
	}
	return p, nil
}

// projectRoot is the directory holding cdk.json: the cdk CLI runs there and
// cdk.json's app command moves into infra/. "" when not found.
func projectRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func stageOrDefault(s string) string {
	if s == "" {
		return "dev"
	}
	return s
}
