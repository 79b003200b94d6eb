package shared

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/idna"
)

// Where a link came from (Link.Origin): an administrator created it, the
// application named it by a Client ID Metadata Document, or it registered
// itself (RFC 7591).
const (
	OriginAdmin            = "admin"
	OriginMetadataDocument = "metadata_document"
	OriginDynamic          = "dynamic"
)

// A link's standing with the administrator (Link.Status): only an active
// link signs anyone in; a pending one waits for Approve, a rejected one
// stays so that its next use is refused again.
const (
	StatusActive   = "active"
	StatusPending  = "pending"
	StatusRejected = "rejected"
)

// Modes of the registration policy.
const (
	ModeOff          = "off"
	ModeTrustedHosts = "trusted_hosts" // metadata documents only
	ModeApproval     = "approval"
	ModeOpen         = "open" // dynamic registration only
)

// Bounds of RegistrationPolicy.
const (
	MaxTrustedHosts   = 100
	DefaultIdleDays   = 30
	MinIdleDays       = 1
	MaxIdleDays       = 365
	maxTrustedHostLen = 253
)

// RegistrationPolicy is the administrator's policy for links that
// applications create themselves: by naming a Client ID Metadata Document
// as their client_id, or by Dynamic Client Registration (RFC 7591). Its
// JSON form is the admin API's /admin/client-registration document.
type RegistrationPolicy struct {
	MetadataDocuments   MetadataDocumentPolicy    `json:"metadata_documents"`
	DynamicRegistration DynamicRegistrationPolicy `json:"dynamic_registration"`
}

// MetadataDocumentPolicy: Mode is ModeOff, ModeTrustedHosts (documents
// from TrustedHosts become active links) or ModeApproval (every new one
// waits for the administrator); Scopes is the ceiling of such links.
type MetadataDocumentPolicy struct {
	Mode         string   `json:"mode"`
	TrustedHosts []string `json:"trusted_hosts"`
	Scopes       []string `json:"scopes"`
}

// DynamicRegistrationPolicy: Mode is ModeOff, ModeApproval (registrations
// are pending links) or ModeOpen (active at once); Scopes is the ceiling;
// a dynamic link unused for IdleDays with no live grant is deleted by the
// daily clean-up.
type DynamicRegistrationPolicy struct {
	Mode     string   `json:"mode"`
	Scopes   []string `json:"scopes"`
	IdleDays int      `json:"idle_days"`
}

// DefaultRegistrationPolicy is the policy of a new deployment: both modes
// off, no trusted host, both ceilings the catalog's baseline scope.
func DefaultRegistrationPolicy(c *Catalog) RegistrationPolicy {
	return RegistrationPolicy{
		MetadataDocuments:   MetadataDocumentPolicy{Mode: ModeOff, TrustedHosts: []string{}, Scopes: []string{c.Baseline()}},
		DynamicRegistration: DynamicRegistrationPolicy{Mode: ModeOff, Scopes: []string{c.Baseline()}, IdleDays: DefaultIdleDays},
	}
}

// FieldError is one reason a document was refused, named by its field's
// JSON path (e.g. "metadata_documents.trusted_hosts[2]").
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks p against the catalog and returns every problem found
// (nil when there is none). Scopes must be catalog names; they are kept
// as given (Normalize puts them in catalog order).
func (p RegistrationPolicy) Validate(c *Catalog) []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	md, dr := p.MetadataDocuments, p.DynamicRegistration
	if !slices.Contains([]string{ModeOff, ModeTrustedHosts, ModeApproval}, md.Mode) {
		add("metadata_documents.mode", `must be "off", "trusted_hosts" or "approval"`)
	}
	if len(md.TrustedHosts) > MaxTrustedHosts {
		add("metadata_documents.trusted_hosts", "at most %d hosts", MaxTrustedHosts)
	}
	seen := map[string]bool{}
	for i, h := range md.TrustedHosts {
		field := fmt.Sprintf("metadata_documents.trusted_hosts[%d]", i)
		if err := ValidateTrustedHost(h); err != nil {
			add(field, "%v", err)
		} else if seen[h] {
			add(field, "%q is listed twice", h)
		}
		seen[h] = true
	}
	if !slices.Contains([]string{ModeOff, ModeApproval, ModeOpen}, dr.Mode) {
		add("dynamic_registration.mode", `must be "off", "approval" or "open"`)
	}
	if dr.IdleDays < MinIdleDays || dr.IdleDays > MaxIdleDays {
		add("dynamic_registration.idle_days", "must be %d to %d", MinIdleDays, MaxIdleDays)
	}
	for field, scopes := range map[string][]string{"metadata_documents.scopes": md.Scopes, "dynamic_registration.scopes": dr.Scopes} {
		if _, err := c.Validate(scopes); err != nil {
			add(field, "%v", err)
		}
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// Normalize returns p with nil lists made empty and the scopes in catalog
// order; p must have passed Validate.
func (p RegistrationPolicy) Normalize(c *Catalog) RegistrationPolicy {
	p.MetadataDocuments.TrustedHosts = slices.Clone(NonNil(p.MetadataDocuments.TrustedHosts))
	p.MetadataDocuments.Scopes, _ = c.Validate(NonNil(p.MetadataDocuments.Scopes))
	p.DynamicRegistration.Scopes, _ = c.Validate(NonNil(p.DynamicRegistration.Scopes))
	p.MetadataDocuments.Scopes = NonNil(p.MetadataDocuments.Scopes)
	p.DynamicRegistration.Scopes = NonNil(p.DynamicRegistration.Scopes)
	return p
}

// ValidateTrustedHost checks one entry of trusted_hosts: a host name in
// lower case with A-labels (IDNA) and no trailing dot, an IP address
// literal (IPv6 without brackets), or ".example.com" for every subdomain
// of example.com (not example.com itself).
func ValidateTrustedHost(h string) error {
	name := strings.TrimPrefix(h, ".")
	switch {
	case h == "":
		return fmt.Errorf("empty host")
	case len(h) > maxTrustedHostLen:
		return fmt.Errorf("longer than %d bytes", maxTrustedHostLen)
	case strings.HasSuffix(h, "."):
		return fmt.Errorf("%q ends with a dot", h)
	}
	if a, err := netip.ParseAddr(name); err == nil {
		if name != h {
			return fmt.Errorf("%q: a leading dot is for host names, not addresses", h)
		}
		if a.Zone() != "" || a.String() != h {
			return fmt.Errorf("%q: write the address as %q", h, a.WithZone("").String())
		}
		return nil
	}
	if name != strings.ToLower(name) {
		return fmt.Errorf("%q must be lower case", h)
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return fmt.Errorf("%q is not a valid host name", h)
	}
	if ascii != name {
		return fmt.Errorf("%q: write the host name as %q", h, ascii)
	}
	if h[0] == '.' && !strings.Contains(name, ".") {
		return fmt.Errorf("%q would trust every host under a top-level domain", h)
	}
	return nil
}

// HostTrusted reports whether host (as in a URL: lower-cased here, without
// port or brackets) is allowed by the trusted hosts list: equal to an
// entry, or a subdomain of an entry that starts with a dot.
func HostTrusted(trusted []string, host string) bool {
	host = strings.ToLower(host)
	for _, t := range trusted {
		if strings.HasPrefix(t, ".") {
			if strings.HasSuffix(host, t) && len(host) > len(t) {
				return true
			}
		} else if host == t {
			return true
		}
	}
	return false
}
