// Package config reads the provider's configuration from the environment
// (SPEC "Configuration"). It is the one place configuration is parsed; every
// binary calls FromEnv and stops with its one-line error.
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
)

// Defaults and limits of SPEC "Configuration".
const (
	DefaultIssuer       = "http://127.0.0.1:8080"
	DefaultListenAddr   = "127.0.0.1:8080"
	DefaultTableName    = "applinks"
	DefaultSecretPrefix = "applinks"
	// MaxSecretPrefix bounds SECRET_PREFIX so that every secret name
	// (prefix + "/links/" + client id) stays within Secrets Manager's 512.
	MaxSecretPrefix          = 256
	DefaultAuthCodeTTL       = 60 * time.Second
	MaxAuthCodeTTL           = 600 * time.Second
	DefaultAccessTokenTTL    = 3600 * time.Second
	DefaultRefreshTokenTTL   = 90 * 24 * time.Hour
	DefaultRefreshReuseGrace = 0
	MaxRefreshReuseGrace     = 60 * time.Second
)

// Config is the validated configuration.
type Config struct {
	// Issuer is ISSUER_URL: scheme and host, no path, no trailing slash.
	// Default http://127.0.0.1:8080.
	Issuer string
	// ListenAddr is LISTEN_ADDR for the local runner (default 127.0.0.1:8080).
	ListenAddr string
	// TableName is TABLE_NAME (default "applinks").
	TableName string
	// SecretPrefix is SECRET_PREFIX (default "applinks"); secrets are named
	// SecretPrefix + "/links/<client_id>" and SecretPrefix + "/signing-keys".
	SecretPrefix string
	// EndpointURL is AWS_ENDPOINT_URL, "" for real AWS.
	EndpointURL string
	// AdminToken is ADMIN_TOKEN (local mode only).
	AdminToken string
	// AuthCodeTTL is AUTH_CODE_TTL (default 60s, at most 600s).
	AuthCodeTTL time.Duration
	// AccessTokenTTL is ACCESS_TOKEN_TTL (default 3600s).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is REFRESH_TOKEN_TTL (default 90 days).
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is REFRESH_REUSE_GRACE (default 0, at most 60s).
	RefreshReuseGrace time.Duration
	// Catalog is SCOPE_CATALOG (a path or inline JSON), default the
	// Bitbucket catalog.
	Catalog *shared.Catalog
	// Audience is AUDIENCE, default the issuer.
	Audience string
	// RequirePKCE is REQUIRE_PKCE (default false).
	RequirePKCE bool
	// ClientMetadataAllowLoopback is CLIENT_METADATA_ALLOW_LOOPBACK
	// (default false; local runs and tests only): Client ID Metadata
	// Documents may also be fetched from http and https URLs on
	// 127.0.0.1, [::1] and localhost, on any port. Refused with an issuer
	// whose host is not loopback.
	ClientMetadataAllowLoopback bool
	// ClientMetadataRoots, when set, are the roots the fetch of Client ID
	// Metadata Documents trusts instead of the system's. Not read from the
	// environment: in-process tests set it (a separate process trusts a
	// test authority through SSL_CERT_FILE, which Go's system roots read).
	ClientMetadataRoots *x509.CertPool
	// ProviderName is PROVIDER_NAME: the name the pages give this
	// provider ("Sign in to Example Corp"). Default: the issuer's host
	// name (ProviderNameFor).
	ProviderName string
	// SupportContact is SUPPORT_CONTACT: an optional line the error pages
	// show people who need help ("Contact the IT service desk on ext.
	// 4357."), plain text. Default none.
	SupportContact string
	// TrustCloudFrontViewerAddress is TRUST_CLOUDFRONT_VIEWER_ADDRESS
	// (default false): the sign-in limits take a request's source address
	// from its CloudFront-Viewer-Address header instead of the connection's
	// (API Gateway's sourceIp). Set it only when the API is reachable
	// solely through CloudFront, which sets that header: anyone who can
	// reach the API directly could otherwise choose their address.
	TrustCloudFrontViewerAddress bool

	// LinkSecretPrincipals is LINK_SECRET_PRINCIPALS and
	// SigningKeyPrincipals SIGNING_KEY_PRINCIPALS: the IAM principals
	// (role or user ARNs, comma-separated) that alone may use the link
	// secrets and the signing-key secret. The store attaches a resource
	// policy denying every other principal to each such secret it creates.
	// Empty (the default, and local runs): no policy.
	LinkSecretPrincipals []string
	SigningKeyPrincipals []string
	// PermissionKeyPrincipals is PERMISSION_KEY_PRINCIPALS: likewise for
	// the permission-request key secret (PERMISSION_SOURCE=service).
	PermissionKeyPrincipals []string
	// IdentityProviderSecretPrincipals is IDP_SECRET_PRINCIPALS: the same
	// for the client secrets of the upstream identity providers.
	IdentityProviderSecretPrincipals []string
	// SecretKMSKey is SECRET_KMS_KEY: the KMS key (ARN, key id or alias)
	// the store creates secrets with. Default: Secrets Manager's AWS
	// managed key aws/secretsmanager.
	SecretKMSKey string
	// SecretPrimaryRegion is SECRET_PRIMARY_REGION and SecretReplicaRegions
	// SECRET_REPLICA_REGIONS (comma-separated): with the provider in several
	// regions, the store creates and writes every secret in the primary
	// region, replicates each new secret to the replica regions
	// (CreateSecret's AddReplicaRegions), and reads the key sets from the
	// function's own region's replica first. Default none: the secrets are
	// in the function's own region, unreplicated.
	SecretPrimaryRegion  string
	SecretReplicaRegions []string
	// StoreNoTransactions is STORE_TRANSACTIONS=off: the store writes one
	// item at a time in an order that leaves every crash readable, and
	// never calls TransactWriteItems, which a DynamoDB global table with
	// multi-Region strong consistency refuses (docs/multi-region.md).
	// Default (unset or "on"): transactions.
	StoreNoTransactions bool
	// OriginVerifySecret is ORIGIN_VERIFY_SECRET: the ARN (or name) of the
	// Secrets Manager secret holding the value CloudFront sends in the
	// X-Origin-Verify header. When set, the Lambda functions read it at
	// start and refuse (403) every request not authorized by IAM that
	// lacks it. Default none: no check.
	OriginVerifySecret string
	// AdminMFA is ADMIN_MFA: AdminMFAOptional (the default) or
	// AdminMFARequired, under which every console administrator signs in
	// with a passkey besides the password (functions/admin).
	AdminMFA string
	// Permissions is PERMISSION_SOURCE and the permission service's
	// PERMISSIONS_URL, PERMISSIONS_TIMEOUT and PERMISSIONS_CACHE
	// (permissions.go).
	Permissions Permissions

	// DevicePollInterval is the interval the device authorization endpoint
	// asks devices to poll at (RFC 8628 §3.2), in whole seconds; zero is
	// the default, 5 s. Not read from the environment: tests shorten it so
	// that a client library's real wait stays short.
	DevicePollInterval time.Duration
	// PasswordSignIn is PASSWORD_SIGN_IN: who may sign in with a password
	// (PasswordOn, the default; PasswordAdmins; PasswordOff). The other way
	// in is an upstream identity provider.
	PasswordSignIn string
}

// Values of PASSWORD_SIGN_IN.
const (
	// PasswordOn: every user with a password may sign in with it.
	PasswordOn = "on"
	// PasswordAdmins: only administrators may sign in with a password (for
	// the console and for applications alike); everyone else signs in
	// through an identity provider.
	PasswordAdmins = "admins"
	// PasswordOff: no password signs anyone in; the sign-in page shows
	// only the identity providers.
	PasswordOff = "off"
)

// The values of ADMIN_MFA.
const (
	// AdminMFAOptional: an administrator who has a passkey signs in with
	// it after the password; one without signs in with the password.
	AdminMFAOptional = "optional"
	// AdminMFARequired: every administrator signs in with password and
	// passkey; passkeys are enrolled only through the admin API's
	// one-time links.
	AdminMFARequired = "required"
)

// Limits of the text settings the pages show.
const (
	MaxProviderName   = 64
	MaxSupportContact = 200
)

// ProviderNameFor is the default PROVIDER_NAME: the host name of the
// issuer ("auth.example.com", "127.0.0.1"), or "" when issuer does not
// parse.
func ProviderNameFor(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// FromEnv reads the configuration through getenv (os.Getenv in binaries).
// An invalid value is an error of one line naming the variable, e.g.
// `AUTH_CODE_TTL: 900s is above the maximum of 600s`. Durations are Go
// durations ("90s", "2160h") or whole seconds ("60").
//
// The rules beyond the defaults: ISSUER_URL is an absolute http or https
// URL with a host and no userinfo, path, query or fragment (one trailing
// slash is trimmed); plain http only for the loopback hosts 127.0.0.1,
// [::1] and localhost. AWS_ENDPOINT_URL, when set, is an absolute http(s)
// URL. TTLs are positive (REFRESH_REUSE_GRACE may be 0). SCOPE_CATALOG is
// inline JSON when its first non-space character is '{', otherwise the path
// of a JSON file. REQUIRE_PKCE and TRUST_CLOUDFRONT_VIEWER_ADDRESS are
// true, false, 1 or 0 (any letter case). PROVIDER_NAME (at
// most 64 characters) and SUPPORT_CONTACT (at most 200) are one line of
// text without control characters. LINK_SECRET_PRINCIPALS,
// SIGNING_KEY_PRINCIPALS and PERMISSION_KEY_PRINCIPALS are comma-separated IAM role or user ARNs (no
// wildcards). SECRET_KMS_KEY and ORIGIN_VERIFY_SECRET are names or ARNs
// (letters, digits and the punctuation of ARNs). ADMIN_MFA is optional or
// required (any letter case), required only with an issuer whose host is a
// domain name. PERMISSION_SOURCE and the PERMISSIONS_* variables follow
// Permissions. PASSWORD_SIGN_IN is on (default), admins or off (any letter
// case). Values are trimmed of
// surrounding whitespace; an empty value means unset.
func FromEnv(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{
		ListenAddr:   orDefault(get("LISTEN_ADDR"), DefaultListenAddr),
		TableName:    orDefault(get("TABLE_NAME"), DefaultTableName),
		SecretPrefix: orDefault(get("SECRET_PREFIX"), DefaultSecretPrefix),
		EndpointURL:  get("AWS_ENDPOINT_URL"),
		AdminToken:   get("ADMIN_TOKEN"),
	}
	var err error
	if c.Issuer, err = parseIssuer(orDefault(get("ISSUER_URL"), DefaultIssuer)); err != nil {
		return Config{}, fmt.Errorf("ISSUER_URL: %w", err)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return Config{}, fmt.Errorf("LISTEN_ADDR: %q is not host:port", c.ListenAddr)
	}
	if c.EndpointURL != "" {
		u, err := url.Parse(c.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("AWS_ENDPOINT_URL: %q is not an absolute http(s) URL", c.EndpointURL)
		}
	}
	if !validName(c.TableName, 3, 255, "_.-") {
		return Config{}, fmt.Errorf("TABLE_NAME: %q is not a DynamoDB table name (3 to 255 letters, digits, '_', '.' or '-')", c.TableName)
	}
	if !validName(c.SecretPrefix, 1, MaxSecretPrefix, "/_+=.@-") {
		return Config{}, fmt.Errorf("SECRET_PREFIX: %q is not a Secrets Manager name prefix (1 to %d letters, digits or any of /_+=.@-)", c.SecretPrefix, MaxSecretPrefix)
	}
	durations := []struct {
		name      string
		dst       *time.Duration
		def, max  time.Duration
		allowZero bool
	}{
		{"AUTH_CODE_TTL", &c.AuthCodeTTL, DefaultAuthCodeTTL, MaxAuthCodeTTL, false},
		{"ACCESS_TOKEN_TTL", &c.AccessTokenTTL, DefaultAccessTokenTTL, 0, false},
		{"REFRESH_TOKEN_TTL", &c.RefreshTokenTTL, DefaultRefreshTokenTTL, 0, false},
		{"REFRESH_REUSE_GRACE", &c.RefreshReuseGrace, DefaultRefreshReuseGrace, MaxRefreshReuseGrace, true},
	}
	for _, d := range durations {
		v := get(d.name)
		if v == "" {
			*d.dst = d.def
			continue
		}
		dur, err := parseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", d.name, err)
		}
		switch {
		case dur < 0 && d.allowZero:
			return Config{}, fmt.Errorf("%s: %s must not be negative", d.name, v)
		case dur <= 0 && !d.allowZero:
			return Config{}, fmt.Errorf("%s: %s must be positive", d.name, v)
		case d.max > 0 && dur > d.max:
			return Config{}, fmt.Errorf("%s: %s is above the maximum of %s", d.name, v, formatSeconds(d.max))
		}
		*d.dst = dur
	}
	if c.Catalog, err = loadCatalog(get("SCOPE_CATALOG")); err != nil {
		return Config{}, fmt.Errorf("SCOPE_CATALOG: %w", err)
	}
	c.Audience = orDefault(get("AUDIENCE"), c.Issuer)
	c.ProviderName = orDefault(get("PROVIDER_NAME"), ProviderNameFor(c.Issuer))
	if err := checkText(c.ProviderName, MaxProviderName); err != nil {
		return Config{}, fmt.Errorf("PROVIDER_NAME: %w", err)
	}
	c.SupportContact = get("SUPPORT_CONTACT")
	if err := checkText(c.SupportContact, MaxSupportContact); err != nil {
		return Config{}, fmt.Errorf("SUPPORT_CONTACT: %w", err)
	}
	for _, p := range []struct {
		name string
		dst  *[]string
	}{
		{"LINK_SECRET_PRINCIPALS", &c.LinkSecretPrincipals},
		{"SIGNING_KEY_PRINCIPALS", &c.SigningKeyPrincipals},
		{"PERMISSION_KEY_PRINCIPALS", &c.PermissionKeyPrincipals},
		{"IDP_SECRET_PRINCIPALS", &c.IdentityProviderSecretPrincipals},
	} {
		if *p.dst, err = parsePrincipals(get(p.name)); err != nil {
			return Config{}, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	c.SecretKMSKey = get("SECRET_KMS_KEY")
	if c.SecretKMSKey != "" && !validName(c.SecretKMSKey, 1, 2048, ":/_-") {
		return Config{}, fmt.Errorf("SECRET_KMS_KEY: %q is not a KMS key ARN, key id or alias", c.SecretKMSKey)
	}
	if c.SecretPrimaryRegion, c.SecretReplicaRegions, err = parseSecretRegions(get("SECRET_PRIMARY_REGION"), get("SECRET_REPLICA_REGIONS")); err != nil {
		return Config{}, err
	}
	switch v := get("STORE_TRANSACTIONS"); strings.ToLower(v) {
	case "", "on":
	case "off":
		c.StoreNoTransactions = true
	default:
		return Config{}, fmt.Errorf("STORE_TRANSACTIONS: %q is neither on nor off", v)
	}
	c.OriginVerifySecret = get("ORIGIN_VERIFY_SECRET")
	if c.OriginVerifySecret != "" && !validName(c.OriginVerifySecret, 1, 2048, ":/_+=.@-") {
		return Config{}, fmt.Errorf("ORIGIN_VERIFY_SECRET: %q is not a Secrets Manager secret ARN or name", c.OriginVerifySecret)
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"REQUIRE_PKCE", &c.RequirePKCE},
		{"TRUST_CLOUDFRONT_VIEWER_ADDRESS", &c.TrustCloudFrontViewerAddress},
		{"CLIENT_METADATA_ALLOW_LOOPBACK", &c.ClientMetadataAllowLoopback},
	} {
		switch v := get(b.name); strings.ToLower(v) {
		case "", "false", "0":
			*b.dst = false
		case "true", "1":
			*b.dst = true
		default:
			return Config{}, fmt.Errorf("%s: %q is not one of true, false, 1, 0", b.name, v)
		}
	}
	if c.ClientMetadataAllowLoopback && !issuerIsLoopback(c.Issuer) {
		return Config{}, fmt.Errorf("CLIENT_METADATA_ALLOW_LOOPBACK: true is for local runs and tests only, and the issuer %q is not on a loopback host", c.Issuer)
	}
	if c.AdminMFA, err = parseAdminMFA(get("ADMIN_MFA"), c.Issuer); err != nil {
		return Config{}, fmt.Errorf("ADMIN_MFA: %w", err)
	}
	if c.Permissions, err = readPermissions(get, c.Audience); err != nil {
		return Config{}, err
	}
	if c.PasswordSignIn, err = readPasswordSignIn(get("PASSWORD_SIGN_IN")); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readPasswordSignIn reads PASSWORD_SIGN_IN (any letter case; empty: on).
func readPasswordSignIn(v string) (string, error) {
	switch m := strings.ToLower(v); m {
	case "":
		return PasswordOn, nil
	case PasswordOn, PasswordAdmins, PasswordOff:
		return m, nil
	}
	return "", fmt.Errorf("PASSWORD_SIGN_IN: %q is not one of on, admins, off", v)
}

// isPrincipalARN reports whether s is an IAM role or user ARN, with its
// path: what the condition key aws:PrincipalArn holds for a request by
// that principal (for a role, also when it is assumed). It is
// arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512},
// checked by hand: that regular expression, compiled at package init,
// cost every function's cold start 1.4 ms or more and 1,600 allocations
// (GODEBUG=inittrace=1), its {1,512} unrolled into 512 states.
func isPrincipalARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:aws")
	if !ok {
		return false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	if !ok || strings.Trim(partition, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return false
	}
	if rest, ok = strings.CutPrefix(rest, "iam::"); !ok || len(rest) < 13 || rest[12] != ':' {
		return false
	}
	for i := range 12 {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	rest = rest[13:]
	name, ok := strings.CutPrefix(rest, "role/")
	if !ok {
		name, ok = strings.CutPrefix(rest, "user/")
	}
	if !ok || len(name) == 0 || len(name) > 512 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+=,.@_/-", c) >= 0) {
			return false
		}
	}
	return true
}

// parsePrincipals reads a comma-separated list of IAM role or user ARNs
// ("" is none). Wildcards are refused: the policy compares them exactly.
func parsePrincipals(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if !isPrincipalARN(p) {
			return nil, fmt.Errorf("%q is not an IAM role or user ARN (arn:aws:iam::123456789012:role/name, comma-separated)", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseAdminMFA reads ADMIN_MFA (any letter case; empty: optional). A
// passkey is bound to a domain name (its relying party ID is the issuer's
// host), so required with an issuer whose host is an IP address is
// refused: no administrator could ever sign in.
func parseAdminMFA(v, issuer string) (string, error) {
	switch m := strings.ToLower(v); m {
	case "", AdminMFAOptional:
		return AdminMFAOptional, nil
	case AdminMFARequired:
		if PasskeyRPID(issuer) == "" {
			return "", fmt.Errorf("required needs ISSUER_URL to name a domain, not an IP address (%s): passkeys are bound to a domain name; use http://localhost:PORT locally", issuer)
		}
		return m, nil
	default:
		return "", fmt.Errorf("%q is not one of optional, required", v)
	}
}

// PasskeyRPID is the WebAuthn relying party ID of the provider whose
// issuer is issuer: the issuer's host name ("auth.example.com",
// "localhost"), or "" when the host is an IP address (or issuer does not
// parse), where browsers refuse passkeys.
func PasskeyRPID(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	return strings.ToLower(host)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parseIssuer checks an issuer identifier (RFC 8414 §2: https, no query or
// fragment; here also no path, and http for loopback development).
func parseIssuer(s string) (string, error) {
	trimmed := strings.TrimSuffix(s, "/")
	u, err := url.Parse(trimmed)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid URL", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q must be an absolute http or https URL", s)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return "", fmt.Errorf("%q must not contain userinfo", s)
	case u.Path != "" || u.RawPath != "":
		return "", fmt.Errorf("%q must not have a path", s)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("%q must not have a fragment", s)
	case u.Scheme == "http" && !shared.IsLoopbackHost(u.Hostname()):
		return "", fmt.Errorf("%q must use https (http only for 127.0.0.1, [::1] or localhost)", s)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has an invalid port", s)
		}
	}
	return trimmed, nil
}

// issuerIsLoopback reports whether the issuer's host is 127.0.0.1, [::1]
// or localhost.
func issuerIsLoopback(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && shared.IsLoopbackHost(u.Hostname())
}

// parseDuration reads a Go duration ("90s") or whole seconds ("60").
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64((1<<63-1)/time.Second) || n < -int64((1<<63-1)/time.Second) {
			return 0, fmt.Errorf("%s is out of range", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90s, 2160h) or a number of seconds", v)
	}
	if d%time.Second != 0 {
		// Lifetimes reach clients as whole seconds (expires_in, exp).
		return 0, fmt.Errorf("%q is not a whole number of seconds", v)
	}
	return d, nil
}

// formatSeconds prints a limit the way the SPEC states it ("600s").
func formatSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// loadCatalog reads SCOPE_CATALOG: empty is the default catalog, a value
// starting with '{' is inline JSON, anything else a file path.
func loadCatalog(v string) (*shared.Catalog, error) {
	if v == "" {
		return shared.DefaultCatalog(), nil
	}
	data := []byte(v)
	if !strings.HasPrefix(v, "{") {
		var err error
		if data, err = os.ReadFile(v); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("read %s: %w", v, err)
		}
	}
	c, err := shared.ParseCatalog(data)
	if err != nil {
		return nil, oneLine(err)
	}
	return c, nil
}

// checkText accepts text a page can show on one line: valid UTF-8, at most
// max characters, no control characters (a newline included).
func checkText(s string, max int) error {
	if !utf8.ValidString(s) {
		return errors.New("the value is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%d characters is above the maximum of %d", n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q holds a control character", s)
		}
	}
	return nil
}

// validName reports whether s has between min and max bytes, each an ASCII
// letter, a digit or one of extra: the names DynamoDB (tables) and Secrets
// Manager (secrets) accept, checked here so that a bad name stops start-up
// instead of failing every request.
func validName(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r))
		if !ok {
			return false
		}
	}
	return true
}

// oneLine keeps an error on one line (a JSON syntax error never spans lines,
// but a catalog could name a scope with odd characters).
func oneLine(err error) error {
	s := err.Error()
	if !strings.ContainsAny(s, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(s), " "))
}

// awsRegion is the shape of an AWS region name (us-east-1, eu-central-2,
// us-gov-west-1).
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// parseSecretRegions checks SECRET_PRIMARY_REGION and
// SECRET_REPLICA_REGIONS: region names, the replicas distinct and not the
// primary, and replicas only with a primary (a replica of what?).
func parseSecretRegions(primary, replicas string) (string, []string, error) {
	if primary != "" && !awsRegion.MatchString(primary) {
		return "", nil, fmt.Errorf("SECRET_PRIMARY_REGION: %q is not a region name", primary)
	}
	var out []string
	for _, r := range strings.Split(replicas, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		switch {
		case !awsRegion.MatchString(r):
			return "", nil, fmt.Errorf("SECRET_REPLICA_REGIONS: %q is not a region name", r)
		case r == primary:
			return "", nil, fmt.Errorf("SECRET_REPLICA_REGIONS: %q is the primary region (SECRET_PRIMARY_REGION)", r)
		case slices.Contains(out, r):
			return "", nil, fmt.Errorf("SECRET_REPLICA_REGIONS: %q is listed twice", r)
		}
		out = append(out, r)
	}
	if len(out) > 0 && primary == "" {
		return "", nil, errors.New("SECRET_REPLICA_REGIONS needs SECRET_PRIMARY_REGION (the region that holds the secrets they replicate)")
	}
	return primary, out, nil
}
