package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

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
//
// Sets of scopes are handled internally as []bool indexed by catalog
// position, which keeps every result in catalog order for free.
type Catalog struct {
	baseline string
	scopes   []Scope
	index    map[string]int
	// closure[i] is the transitive closure of scope i, itself included.
	closure [][]bool
}

// DefaultCatalog returns Bitbucket Data Center's catalog (SPEC "Scopes and
// capping"), baseline PUBLIC_REPOS. It is built from Go values, not parsed
// from JSON, so that a function's start does no JSON decoding for it.
func DefaultCatalog() *Catalog {
	c, err := NewCatalog("PUBLIC_REPOS", []Scope{
		{Name: "PUBLIC_REPOS", Description: "View public projects and repositories"},
		{Name: "ACCOUNT_WRITE", Description: "Update your account"},
		{Name: "REPO_READ", Description: "View projects and repositories", Implies: []string{"PUBLIC_REPOS"}},
		{Name: "REPO_WRITE", Description: "Update projects and repositories", Implies: []string{"REPO_READ"}},
		{Name: "REPO_ADMIN", Description: "Administer repositories", Implies: []string{"REPO_WRITE"}},
		{Name: "PROJECT_ADMIN", Description: "Administer projects", Implies: []string{"REPO_ADMIN"}},
		{Name: "ADMIN_WRITE", Description: "Administer Bitbucket", Implies: []string{"PROJECT_ADMIN", "ACCOUNT_WRITE"}},
		{Name: "SYSTEM_ADMIN", Description: "Administer Bitbucket system", Implies: []string{"ADMIN_WRITE"}},
	})
	if err != nil {
		// The values above are covered by tests; this cannot happen.
		panic("shared: default scope catalog: " + err.Error())
	}
	return c
}

// catalogJSON is the wire form read by ParseCatalog.
type catalogJSON struct {
	Baseline string  `json:"baseline"`
	Scopes   []Scope `json:"scopes"`
}

// ParseCatalog reads and validates a catalog in JSON:
//
//	{"baseline": "PUBLIC_REPOS", "scopes": [{"name": "...", "description": "...", "implies": ["..."]}]}
//
// Unknown implied scope, a cycle, a duplicate, an empty name or a missing
// baseline is an error naming the scope. A name must be a valid scope token
// (RFC 6749 §3.3: NQCHARs, no space); unknown JSON fields are refused so
// that a typo ("implied") does not go unnoticed. The order of "scopes" is
// the catalog order.
func ParseCatalog(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in catalogJSON
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("scope catalog: invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("scope catalog: trailing data after the JSON object")
	}
	return NewCatalog(in.Baseline, in.Scopes)
}

// NewCatalog validates a catalog given as values, with the rules of
// ParseCatalog (which it serves), and returns it. The order of scopes is
// the catalog order; scopes is not retained.
func NewCatalog(baseline string, scopes []Scope) (*Catalog, error) {
	if len(scopes) == 0 {
		return nil, errors.New("scope catalog: no scopes")
	}
	c := &Catalog{index: make(map[string]int, len(scopes))}
	for i, s := range scopes {
		if s.Name == "" {
			return nil, fmt.Errorf("scope catalog: scope #%d has an empty name", i+1)
		}
		if !validScopeToken(s.Name) {
			return nil, fmt.Errorf("scope catalog: scope %q: name is not a valid scope token (RFC 6749 §3.3)", s.Name)
		}
		if slices.Contains(ProtocolScopes, s.Name) {
			// A catalog scope of that name could never be asked for: the
			// authorization endpoint reads it as OpenID Connect's.
			return nil, fmt.Errorf("scope catalog: scope %q is an OpenID Connect scope, outside the catalog; choose another name", s.Name)
		}
		if _, dup := c.index[s.Name]; dup {
			return nil, fmt.Errorf("scope catalog: scope %q is listed twice", s.Name)
		}
		c.index[s.Name] = i
		c.scopes = append(c.scopes, Scope{
			Name:        s.Name,
			Description: s.Description,
			Implies:     append([]string(nil), s.Implies...),
		})
	}
	for _, s := range c.scopes {
		for _, imp := range s.Implies {
			if _, ok := c.index[imp]; !ok {
				return nil, fmt.Errorf("scope catalog: scope %q implies unknown scope %q", s.Name, imp)
			}
		}
	}
	if err := c.checkCycles(); err != nil {
		return nil, err
	}
	if baseline == "" {
		return nil, errors.New("scope catalog: missing baseline scope")
	}
	if _, ok := c.index[baseline]; !ok {
		return nil, fmt.Errorf("scope catalog: baseline %q is not a scope of the catalog", baseline)
	}
	c.baseline = baseline
	c.closure = make([][]bool, len(c.scopes))
	for i := range c.scopes {
		set := make([]bool, len(c.scopes))
		c.addClosure(set, i)
		c.closure[i] = set
	}
	return c, nil
}

// checkCycles finds a cycle of implications by depth-first search and names
// a scope on it.
func (c *Catalog) checkCycles() error {
	const (
		unseen = iota
		active
		done
	)
	state := make([]int, len(c.scopes))
	var visit func(i int) error
	visit = func(i int) error {
		state[i] = active
		for _, imp := range c.scopes[i].Implies {
			j := c.index[imp]
			switch state[j] {
			case active:
				return fmt.Errorf("scope catalog: scope %q is part of an implication cycle (through %q)", imp, c.scopes[i].Name)
			case unseen:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		state[i] = done
		return nil
	}
	for i := range c.scopes {
		if state[i] == unseen {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// addClosure marks i and everything it implies, transitively, in set.
// The catalog has no cycles, and marked scopes are not visited again.
func (c *Catalog) addClosure(set []bool, i int) {
	if set[i] {
		return
	}
	set[i] = true
	for _, imp := range c.scopes[i].Implies {
		c.addClosure(set, c.index[imp])
	}
}

// Baseline is the scope granted when capping leaves nothing.
func (c *Catalog) Baseline() string { return c.baseline }

// Scopes returns the catalog's scopes in catalog order. The result is a
// copy: changing it does not change the catalog.
func (c *Catalog) Scopes() []Scope {
	out := make([]Scope, len(c.scopes))
	for i, s := range c.scopes {
		out[i] = Scope{Name: s.Name, Description: s.Description, Implies: append([]string(nil), s.Implies...)}
	}
	return out
}

// Names returns the scope names in catalog order (for scopes_supported).
func (c *Catalog) Names() []string {
	out := make([]string, len(c.scopes))
	for i, s := range c.scopes {
		out[i] = s.Name
	}
	return out
}

// Description returns the description of a known scope, "" otherwise.
func (c *Catalog) Description(name string) string {
	if i, ok := c.index[name]; ok {
		return c.scopes[i].Description
	}
	return ""
}

// Validate checks that every name is in the catalog; the error names the
// first unknown one. Used for a link's ceiling and a user's permissions.
// It returns the names deduplicated in catalog order (an empty list gives an
// empty, non-nil result). The error is a plain error, fit for a 422 message.
func (c *Catalog) Validate(names []string) ([]string, error) {
	set := make([]bool, len(c.scopes))
	for _, n := range names {
		i, ok := c.index[n]
		if !ok {
			return nil, fmt.Errorf("unknown scope %q", n)
		}
		set[i] = true
	}
	return c.list(set), nil
}

// Cap computes the scope granted for an authorization request (SPEC):
//
//	granted = max(closure(R) ∩ closure(C) ∩ closure(U)), or {baseline} when empty
//
// request is the raw scope parameter; "" means absent (R = ceiling). The
// result is in catalog order. An unknown or malformed scope token is an
// InvalidScope *Error.
//
// Names in ceiling and user that the catalog does not know (e.g. after the
// catalog changed) grant nothing; they are not an error.
func (c *Catalog) Cap(request string, ceiling, user []string) ([]string, error) {
	var r []bool
	if request == "" {
		r = c.closureOf(ceiling)
	} else {
		var err error
		if r, err = c.parseRequest(request); err != nil {
			return nil, err
		}
	}
	return c.capSet(r, ceiling, user), nil
}

// CapRefresh computes the scope of a refresh (RFC 6749 §6): request (""
// absent = grantedBefore, which is Recap) must lie within
// closure(grantedBefore), else InvalidScope; the result is capped against
// the current ceiling and user permissions exactly like Cap.
func (c *Catalog) CapRefresh(request string, grantedBefore, ceiling, user []string) ([]string, error) {
	if request == "" {
		return c.Recap(grantedBefore, ceiling, user), nil
	}
	before := c.closureOf(grantedBefore)
	r, err := c.parseRequest(request)
	if err != nil {
		return nil, err
	}
	for i, in := range r {
		if in && !before[i] {
			return nil, InvalidScope("scope " + shorten(c.scopes[i].Name) + " was not granted and cannot be added on refresh")
		}
	}
	return c.capSet(r, ceiling, user), nil
}

// Recap caps a scope approved earlier again, against the current ceiling
// and user permissions, when no scope parameter narrows it (a code's
// redemption, a refresh without scope):
//
//	max(closure(approved) ∩ closure(C) ∩ closure(U)), or {baseline} when empty
func (c *Catalog) Recap(approved, ceiling, user []string) []string {
	return c.capSet(c.closureOf(approved), ceiling, user)
}

// Covers reports whether closure(want) ⊆ closure(have): an earlier grant of
// have makes a consent for want unnecessary. A want name unknown to the
// catalog is never covered.
func (c *Catalog) Covers(have, want []string) bool {
	h := c.closureOf(have)
	for _, n := range want {
		i, ok := c.index[n]
		if !ok {
			return false
		}
		for j, in := range c.closure[i] {
			if in && !h[j] {
				return false
			}
		}
	}
	return true
}

// Union returns max(closure(a) ∪ closure(b)) in catalog order: what a user
// has approved in all, after approving a and then b. Unknown names are
// dropped.
func (c *Catalog) Union(a, b []string) []string {
	set := c.closureOf(a)
	for i, in := range c.closureOf(b) {
		set[i] = set[i] || in
	}
	return c.list(c.maxOf(set))
}

// Max returns max(closure(names)) in catalog order (SPEC): names without
// duplicates and without a scope another of them implies. Unknown names
// are dropped.
func (c *Catalog) Max(names []string) []string {
	return c.list(c.maxOf(c.closureOf(names)))
}

// parseRequest parses a scope parameter into the closure of its scopes, or
// an InvalidScope *Error.
func (c *Catalog) parseRequest(request string) ([]bool, error) {
	toks, err := ParseScope(request)
	if err != nil {
		return nil, InvalidScope("the scope parameter is malformed")
	}
	set := make([]bool, len(c.scopes))
	for _, t := range toks {
		i, ok := c.index[t]
		if !ok {
			return nil, InvalidScope("unknown scope " + shorten(t))
		}
		c.addClosureInto(set, i)
	}
	return set, nil
}

// shorten cuts a scope token (NQCHARs, safe in an error_description) for
// an error description.
func shorten(tok string) string {
	const max = 64
	if len(tok) > max {
		return tok[:max] + "..."
	}
	return tok
}

// capSet finishes the capping formula for a request closure r.
func (c *Catalog) capSet(r []bool, ceiling, user []string) []string {
	cc := c.closureOf(ceiling)
	uc := c.closureOf(user)
	set := make([]bool, len(c.scopes))
	nonEmpty := false
	for i := range set {
		set[i] = r[i] && cc[i] && uc[i]
		nonEmpty = nonEmpty || set[i]
	}
	if !nonEmpty {
		return []string{c.baseline}
	}
	return c.list(c.maxOf(set))
}

// closureOf returns closure(names) as a set; unknown names are ignored.
func (c *Catalog) closureOf(names []string) []bool {
	set := make([]bool, len(c.scopes))
	for _, n := range names {
		if i, ok := c.index[n]; ok {
			c.addClosureInto(set, i)
		}
	}
	return set
}

func (c *Catalog) addClosureInto(set []bool, i int) {
	for j, in := range c.closure[i] {
		if in {
			set[j] = true
		}
	}
}

// maxOf drops from set every member implied by another member.
func (c *Catalog) maxOf(set []bool) []bool {
	out := append([]bool(nil), set...)
	for i, in := range set {
		if !in {
			continue
		}
		for j, implied := range c.closure[i] {
			if implied && j != i {
				out[j] = false
			}
		}
	}
	return out
}

// list returns the members of set in catalog order.
func (c *Catalog) list(set []bool) []string {
	out := []string{}
	for i, in := range set {
		if in {
			out = append(out, c.scopes[i].Name)
		}
	}
	return out
}

// ParseScope splits a scope parameter per RFC 6749 §3.3 (space-delimited,
// each token of NQCHAR). It does not check the catalog.
//
// It follows the ABNF strictly: scope = scope-token *( SP scope-token ).
// The empty string, a leading or trailing space, two spaces in a row, and
// any character outside NQCHAR (%x21 / %x23-5B / %x5D-7E: printable ASCII
// but '"' and '\') are refused. Duplicate tokens are kept; the catalog
// collapses them.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("scope is empty")
	}
	toks := strings.Split(s, " ")
	for i, t := range toks {
		if t == "" {
			return nil, fmt.Errorf("scope has an empty token at position %d (leading, trailing or double space)", i+1)
		}
		if !validScopeToken(t) {
			return nil, fmt.Errorf("scope token %q holds a character outside NQCHAR (RFC 6749 §3.3)", t)
		}
	}
	return toks, nil
}

// validScopeToken reports whether t is a non-empty run of NQCHAR
// (RFC 6749 Appendix A.4: %x21 / %x23-5B / %x5D-7E).
func validScopeToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		ch := t[i]
		if ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\' {
			return false
		}
	}
	return true
}

// FormatScope joins scopes with single spaces.
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }
