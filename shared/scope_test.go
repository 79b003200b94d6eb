package shared

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// jiraCatalog is a second catalog, shaped like Jira Data Center's: a chain
// with the baseline at the bottom.
const jiraCatalog = `{
  "baseline": "READ",
  "scopes": [
    {"name": "READ", "description": "View Jira data"},
    {"name": "WRITE", "description": "Create and edit Jira data", "implies": ["READ"]},
    {"name": "ADMIN", "description": "Administer Jira", "implies": ["WRITE"]},
    {"name": "SYSTEM_ADMIN", "description": "Administer the Jira system", "implies": ["ADMIN"]}
  ]
}`

func mustCatalog(t testing.TB, data string) *Catalog {
	t.Helper()
	c, err := ParseCatalog([]byte(data))
	if err != nil {
		t.Fatalf("ParseCatalog: %v", err)
	}
	return c
}

func TestDefaultCatalog(t *testing.T) {
	c := DefaultCatalog()
	if got, want := c.Baseline(), "PUBLIC_REPOS"; got != want {
		t.Errorf("got baseline %q, want %q", got, want)
	}
	want := []Scope{
		{"PUBLIC_REPOS", "View public projects and repositories", nil},
		{"ACCOUNT_WRITE", "Update your account", nil},
		{"REPO_READ", "View projects and repositories", []string{"PUBLIC_REPOS"}},
		{"REPO_WRITE", "Update projects and repositories", []string{"REPO_READ"}},
		{"REPO_ADMIN", "Administer repositories", []string{"REPO_WRITE"}},
		{"PROJECT_ADMIN", "Administer projects", []string{"REPO_ADMIN"}},
		{"ADMIN_WRITE", "Administer Bitbucket", []string{"PROJECT_ADMIN", "ACCOUNT_WRITE"}},
		{"SYSTEM_ADMIN", "Administer Bitbucket system", []string{"ADMIN_WRITE"}},
	}
	got := c.Scopes()
	if len(got) != len(want) {
		t.Fatalf("got %d scopes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Description != want[i].Description || !slices.Equal(got[i].Implies, want[i].Implies) {
			t.Errorf("scope %d: got %+v, want %+v", i, got[i], want[i])
		}
		if d := c.Description(want[i].Name); d != want[i].Description {
			t.Errorf("Description(%q) = %q, want %q", want[i].Name, d, want[i].Description)
		}
	}
	if d := c.Description("NOPE"); d != "" {
		t.Errorf("Description of unknown scope = %q, want \"\"", d)
	}
}

func TestCatalogIsImmutable(t *testing.T) {
	c := DefaultCatalog()
	s := c.Scopes()
	s[0].Name = "CHANGED"
	s[2].Implies[0] = "CHANGED"
	n := c.Names()
	n[1] = "CHANGED"
	if got := c.Names(); got[0] != "PUBLIC_REPOS" || got[1] != "ACCOUNT_WRITE" {
		t.Errorf("got names %q after changing copies, want the catalog unchanged", got)
	}
	if got := c.Scopes()[2].Implies[0]; got != "PUBLIC_REPOS" {
		t.Errorf("got REPO_READ implies %q after changing a copy, want PUBLIC_REPOS", got)
	}
}

func TestParseCatalogErrors(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		wantText []string // each must appear in the error
	}{
		{"not JSON", `{"baseline":`, []string{"invalid JSON"}},
		{"trailing data", `{"baseline":"A","scopes":[{"name":"A"}]} {}`, []string{"trailing"}},
		{"unknown field", `{"baseline":"A","scopes":[{"name":"A","implied":["B"]}]}`, []string{"implied"}},
		{"no scopes", `{"baseline":"A","scopes":[]}`, []string{"no scopes"}},
		{"empty name", `{"baseline":"A","scopes":[{"name":"A"},{"name":""}]}`, []string{"#2", "empty name"}},
		{"name with a space", `{"baseline":"A","scopes":[{"name":"A B"}]}`, []string{`"A B"`, "scope token"}},
		{"name with a quote", `{"baseline":"A","scopes":[{"name":"A\"B"}]}`, []string{"scope token"}},
		{"duplicate", `{"baseline":"A","scopes":[{"name":"A"},{"name":"B"},{"name":"A"}]}`, []string{`"A"`, "twice"}},
		{"an OpenID Connect scope", `{"baseline":"A","scopes":[{"name":"A"},{"name":"email"}]}`, []string{`"email"`, "OpenID Connect"}},
		{"openid", `{"baseline":"openid","scopes":[{"name":"openid"}]}`, []string{`"openid"`, "OpenID Connect"}},
		{"unknown implied", `{"baseline":"A","scopes":[{"name":"A"},{"name":"B","implies":["C"]}]}`, []string{`"B"`, `"C"`, "unknown"}},
		{"self cycle", `{"baseline":"A","scopes":[{"name":"A","implies":["A"]}]}`, []string{`"A"`, "cycle"}},
		{"long cycle", `{"baseline":"A","scopes":[{"name":"A"},{"name":"B","implies":["C"]},{"name":"C","implies":["D"]},{"name":"D","implies":["B"]}]}`, []string{"cycle"}},
		{"missing baseline", `{"scopes":[{"name":"A"}]}`, []string{"missing baseline"}},
		{"unknown baseline", `{"baseline":"Z","scopes":[{"name":"A"}]}`, []string{`"Z"`, "baseline"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCatalog([]byte(tc.json))
			if err == nil {
				t.Fatalf("got catalog %v, want an error", c.Names())
			}
			for _, w := range tc.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Errorf("got a multi-line error %q, want one line", err)
			}
		})
	}
}

func TestParseCatalogDiamond(t *testing.T) {
	// A diamond is not a cycle: D is reached twice.
	c := mustCatalog(t, `{"baseline":"D","scopes":[
		{"name":"A","implies":["B","C"]},{"name":"B","implies":["D"]},{"name":"C","implies":["D"]},{"name":"D"}]}`)
	got, err := c.Cap("A", []string{"A"}, []string{"B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"B", "C"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJiraCatalogCap(t *testing.T) {
	c := mustCatalog(t, jiraCatalog)
	tests := []struct {
		name          string
		request       string
		ceiling, user []string
		want          []string
		wantErr       string
	}{
		{"admin app, writer user", "", []string{"ADMIN"}, []string{"WRITE"}, []string{"WRITE"}, ""},
		{"read app, sysadmin user", "", []string{"READ"}, []string{"SYSTEM_ADMIN"}, []string{"READ"}, ""},
		{"request above ceiling", "SYSTEM_ADMIN", []string{"WRITE"}, []string{"SYSTEM_ADMIN"}, []string{"WRITE"}, ""},
		{"narrow request", "READ", []string{"ADMIN"}, []string{"ADMIN"}, []string{"READ"}, ""},
		{"nothing selected", "", nil, []string{"ADMIN"}, []string{"READ"}, ""},
		{"user with no permissions", "", []string{"ADMIN"}, nil, []string{"READ"}, ""},
		{"redundant request", "READ WRITE ADMIN", []string{"SYSTEM_ADMIN"}, []string{"SYSTEM_ADMIN"}, []string{"ADMIN"}, ""},
		{"bitbucket scope is unknown here", "REPO_READ", []string{"ADMIN"}, []string{"ADMIN"}, nil, "invalid_scope"},
		{"lower case", "read", []string{"ADMIN"}, []string{"ADMIN"}, nil, "invalid_scope"},
		{"malformed", "READ  WRITE", []string{"ADMIN"}, []string{"ADMIN"}, nil, "invalid_scope"},
		{"stale names grant nothing", "", []string{"GONE", "WRITE"}, []string{"GONE", "ADMIN"}, []string{"WRITE"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Cap(tc.request, tc.ceiling, tc.user)
			checkCapResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestCapRefreshMore(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		name                  string
		request               string
		before, ceiling, user []string
		want                  []string
		wantErr               string
	}{
		{"narrow to an implied scope", "PUBLIC_REPOS", []string{"REPO_ADMIN"}, []string{"REPO_ADMIN"}, []string{"REPO_ADMIN"}, []string{"PUBLIC_REPOS"}, ""},
		{"same scopes written twice", "REPO_READ REPO_READ", []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, []string{"REPO_READ"}, ""},
		{"sibling branch refused", "ACCOUNT_WRITE", []string{"REPO_WRITE"}, []string{"ADMIN_WRITE"}, []string{"ADMIN_WRITE"}, nil, "invalid_scope"},
		{"unknown refused", "NOPE", []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, nil, "invalid_scope"},
		{"malformed refused", " REPO_READ", []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, []string{"REPO_WRITE"}, nil, "invalid_scope"},
		{"ceiling raised does not widen", "", []string{"REPO_READ"}, []string{"SYSTEM_ADMIN"}, []string{"SYSTEM_ADMIN"}, []string{"REPO_READ"}, ""},
		{"two branches kept", "", []string{"ACCOUNT_WRITE", "REPO_WRITE"}, []string{"ADMIN_WRITE"}, []string{"ADMIN_WRITE"}, []string{"ACCOUNT_WRITE", "REPO_WRITE"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.CapRefresh(tc.request, tc.before, tc.ceiling, tc.user)
			checkCapResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestCapErrorIsFreshInvalidScope(t *testing.T) {
	c := DefaultCatalog()
	_, err := c.Cap("FOO", []string{"REPO_READ"}, []string{"REPO_READ"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	if e.Code != CodeInvalidScope || e.Status != 400 || !e.Redirectable {
		t.Errorf("got %+v, want redirectable invalid_scope 400", e)
	}
	if e.Description != "unknown scope FOO" {
		t.Errorf("got description %q, want it to name the scope", e.Description)
	}
}

func TestValidate(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{nil, []string{}, ""},
		{[]string{"SYSTEM_ADMIN", "PUBLIC_REPOS", "SYSTEM_ADMIN"}, []string{"PUBLIC_REPOS", "SYSTEM_ADMIN"}, ""},
		{[]string{"REPO_READ", "repo_write", "NOPE"}, nil, `unknown scope "repo_write"`},
		{[]string{""}, nil, `unknown scope ""`},
	}
	for _, tc := range tests {
		got, err := c.Validate(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("Validate(%q) error = %v, want %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("Validate(%q) error = %v, want nil", tc.in, err)
		case tc.wantErr == "" && (got == nil || !slices.Equal(got, tc.want)):
			t.Errorf("Validate(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		have, want []string
		covers     bool
	}{
		{[]string{"REPO_WRITE"}, []string{"REPO_READ"}, true},
		{[]string{"REPO_WRITE"}, []string{"REPO_WRITE", "PUBLIC_REPOS"}, true},
		{[]string{"REPO_READ"}, []string{"REPO_WRITE"}, false},
		{[]string{"ADMIN_WRITE"}, []string{"ACCOUNT_WRITE", "REPO_ADMIN"}, true},
		{[]string{"REPO_ADMIN"}, []string{"ACCOUNT_WRITE"}, false},
		{nil, nil, true},
		{nil, []string{"PUBLIC_REPOS"}, false},
		{[]string{"SYSTEM_ADMIN"}, []string{"UNKNOWN"}, false},
	}
	for _, tc := range tests {
		if got := c.Covers(tc.have, tc.want); got != tc.covers {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.covers)
		}
	}
}

func TestUnion(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		a, b, want []string
	}{
		{[]string{"REPO_READ"}, []string{"REPO_WRITE"}, []string{"REPO_WRITE"}},
		{[]string{"REPO_WRITE"}, []string{"REPO_READ"}, []string{"REPO_WRITE"}},
		{[]string{"REPO_READ"}, []string{"ACCOUNT_WRITE"}, []string{"ACCOUNT_WRITE", "REPO_READ"}},
		{[]string{"REPO_ADMIN", "ACCOUNT_WRITE"}, []string{"PROJECT_ADMIN"}, []string{"ACCOUNT_WRITE", "PROJECT_ADMIN"}},
		{nil, []string{"PUBLIC_REPOS"}, []string{"PUBLIC_REPOS"}},
		{[]string{"UNKNOWN"}, nil, []string{}},
	}
	for _, tc := range tests {
		if got := c.Union(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("Union(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestRecap: an approval capped again by today's ceiling and permissions.
func TestRecap(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		approved, ceiling, user, want []string
	}{
		{[]string{"REPO_WRITE"}, []string{"REPO_ADMIN"}, []string{"REPO_READ"}, []string{"REPO_READ"}},
		{[]string{"REPO_WRITE", "ACCOUNT_WRITE"}, []string{"REPO_READ"}, []string{"SYSTEM_ADMIN"}, []string{"REPO_READ"}},
		{[]string{"ACCOUNT_WRITE"}, []string{"REPO_ADMIN"}, []string{"SYSTEM_ADMIN"}, []string{"PUBLIC_REPOS"}},
		{nil, []string{"REPO_ADMIN"}, []string{"SYSTEM_ADMIN"}, []string{"PUBLIC_REPOS"}},
	}
	for _, tc := range tests {
		if got := c.Recap(tc.approved, tc.ceiling, tc.user); !slices.Equal(got, tc.want) {
			t.Errorf("Recap(%q, %q, %q): got %q, want %q", tc.approved, tc.ceiling, tc.user, got, tc.want)
		}
	}
}

// TestMax: max(closure(names)), the reduction the account page shows a
// grant's scopes by.
func TestMax(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		names, want []string
	}{
		{[]string{"REPO_READ", "REPO_WRITE"}, []string{"REPO_WRITE"}},
		{[]string{"REPO_WRITE", "REPO_WRITE", "PUBLIC_REPOS"}, []string{"REPO_WRITE"}},
		{[]string{"REPO_READ", "ACCOUNT_WRITE"}, []string{"ACCOUNT_WRITE", "REPO_READ"}},
		{[]string{"PROJECT_ADMIN", "UNKNOWN", "ACCOUNT_WRITE"}, []string{"ACCOUNT_WRITE", "PROJECT_ADMIN"}},
		{[]string{"UNKNOWN"}, []string{}},
		{nil, []string{}},
	}
	for _, tc := range tests {
		if got := c.Max(tc.names); !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("Max(%q): got %q, want %q", tc.names, got, tc.want)
		}
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: error
	}{
		{"A", []string{"A"}},
		{"A B", []string{"A", "B"}},
		{"A A", []string{"A", "A"}},
		{"read:user repo!#$%&'()*+,-./;<=>?@[]^_`{|}~", []string{"read:user", "repo!#$%&'()*+,-./;<=>?@[]^_`{|}~"}},
		{"", nil},
		{" ", nil},
		{" A", nil},
		{"A ", nil},
		{"A  B", nil},
		{"A\tB", nil},
		{"A\nB", nil},
		{`A"B`, nil},
		{`A\B`, nil},
		{"A\x7f", nil},
		{"caf\u00e9", nil},
	}
	for _, tc := range tests {
		got, err := ParseScope(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParseScope(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScope(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatScope(t *testing.T) {
	if got, want := FormatScope([]string{"A", "B", "C"}), "A B C"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := FormatScope(nil); got != "" {
		t.Errorf("got %q, want \"\"", got)
	}
}

func TestCapErrorDescriptionIsShort(t *testing.T) {
	c := DefaultCatalog()
	_, err := c.Cap(strings.Repeat("X", 5000), nil, nil)
	e := AsError(err)
	if e.Code != CodeInvalidScope || len(e.Description) > 100 {
		t.Errorf("got %s with a description of %d bytes, want invalid_scope with a short one", e.Code, len(e.Description))
	}
}

// TestNewCatalogCopies: the catalog keeps its own copy of the values it was
// built from, and NewCatalog applies ParseCatalog's rules.
func TestNewCatalogCopies(t *testing.T) {
	in := []Scope{{Name: "A", Description: "a"}, {Name: "B", Description: "b", Implies: []string{"A"}}}
	c, err := NewCatalog("A", in)
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	in[0].Name, in[1].Implies[0] = "X", "X"
	if got := c.Scopes(); got[0].Name != "A" || got[1].Implies[0] != "A" {
		t.Errorf("got %+v after changing the input, want the catalog unchanged", got)
	}
	if _, err := NewCatalog("A", []Scope{{Name: "A", Implies: []string{"A"}}}); err == nil {
		t.Errorf("NewCatalog with a cycle: got nil error, want one")
	}
	if _, err := NewCatalog("", in); err == nil {
		t.Errorf("NewCatalog without a baseline: got nil error, want one")
	}
}
