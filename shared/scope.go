package shared

// Scope is one entry of a scope catalog.
type Scope struct {
	// Name is the scope token (RFC 6749 §3.3), case-sensitive.
	Name string `json:"name"`
	// Description is shown to the user on the consent page.
	Description string `json:"description"`
	// Implies lists the scopes this one includes directly.
	Implies []string `json:"implies,omitempty"`
}

// Catalog is a validated, immutable scope catalog. It is safe for concurrent
// use.
type Catalog struct {
	// TODO(shared)
}

// DefaultCatalog returns Bitbucket Data Center's catalog (SPEC "Scopes and
// capping"), baseline PUBLIC_REPOS.
func DefaultCatalog() *Catalog { panic("unimplemented") }

// ParseCatalog reads and validates a catalog in JSON:
//
//	{"baseline": "PUBLIC_REPOS", "scopes": [{"name": "...", "description": "...", "implies": ["..."]}]}
//
// Unknown implied scope, a cycle, a duplicate, an empty name or a missing
// baseline is an error naming the scope.
func ParseCatalog(data []byte) (*Catalog, error) { panic("unimplemented") }

// Baseline is the scope granted when capping leaves nothing.
func (c *Catalog) Baseline() string { panic("unimplemented") }

// Scopes returns the catalog's scopes in catalog order.
func (c *Catalog) Scopes() []Scope { panic("unimplemented") }

// Names returns the scope names in catalog order (for scopes_supported).
func (c *Catalog) Names() []string { panic("unimplemented") }

// Description returns the description of a known scope, "" otherwise.
func (c *Catalog) Description(name string) string { panic("unimplemented") }

// Validate checks that every name is in the catalog; the error names the
// first unknown one. Used for a link's ceiling and a user's permissions.
// It returns the names deduplicated in catalog order.
func (c *Catalog) Validate(names []string) ([]string, error) { panic("unimplemented") }

// Cap computes the scope granted for an authorization request (SPEC):
//
//	granted = max(closure(R) ∩ closure(C) ∩ closure(U)), or {baseline} when empty
//
// request is the raw scope parameter; "" means absent (R = ceiling). The
// result is in catalog order. An unknown or malformed scope token is an
// InvalidScope *Error.
func (c *Catalog) Cap(request string, ceiling, user []string) ([]string, error) {
	panic("unimplemented")
}

// CapRefresh computes the scope of a refresh (RFC 6749 §6): request (""
// absent = grantedBefore) must lie within closure(grantedBefore), else
// InvalidScope; the result is capped against the current ceiling and user
// permissions exactly like Cap.
func (c *Catalog) CapRefresh(request string, grantedBefore, ceiling, user []string) ([]string, error) {
	panic("unimplemented")
}

// Covers reports whether closure(want) ⊆ closure(have): an earlier grant of
// have makes a consent for want unnecessary.
func (c *Catalog) Covers(have, want []string) bool { panic("unimplemented") }

// ParseScope splits a scope parameter per RFC 6749 §3.3 (space-delimited,
// each token of NQCHAR). It does not check the catalog.
func ParseScope(s string) ([]string, error) { panic("unimplemented") }

// FormatScope joins scopes with single spaces.
func FormatScope(scopes []string) string { panic("unimplemented") }
