package store_test

import (
	"slices"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// TestRegistrationPolicy: no policy is stored on a new table; a written one
// reads back whole, and a second write replaces it.
func TestRegistrationPolicy(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		_, _, found, err := s.GetRegistrationPolicy(ctx())
		if err != nil || found {
			t.Fatalf("GetRegistrationPolicy on a new table: found %v, err %v", found, err)
		}
		p := shared.DefaultRegistrationPolicy(shared.DefaultCatalog())
		p.MetadataDocuments.Mode = shared.ModeTrustedHosts
		p.MetadataDocuments.TrustedHosts = []string{"app.example", ".agents.example"}
		p.DynamicRegistration.Mode = shared.ModeApproval
		p.DynamicRegistration.Scopes = []string{"REPO_READ"}
		p.DynamicRegistration.IdleDays = 7
		at := now()
		if err := s.PutRegistrationPolicy(ctx(), p, at); err != nil {
			t.Fatal(err)
		}
		got, updated, found, err := s.GetRegistrationPolicy(ctx())
		if err != nil || !found || !updated.Equal(at) {
			t.Fatalf("GetRegistrationPolicy: found %v, updated %v (want %v), err %v", found, updated, at, err)
		}
		if got.MetadataDocuments.Mode != p.MetadataDocuments.Mode || !slices.Equal(got.MetadataDocuments.TrustedHosts, p.MetadataDocuments.TrustedHosts) ||
			got.DynamicRegistration.Mode != p.DynamicRegistration.Mode || !slices.Equal(got.DynamicRegistration.Scopes, p.DynamicRegistration.Scopes) ||
			got.DynamicRegistration.IdleDays != 7 {
			t.Fatalf("read back %+v, want %+v", got, p)
		}
		p.MetadataDocuments.Mode = shared.ModeOff
		p.MetadataDocuments.TrustedHosts = []string{}
		if err := s.PutRegistrationPolicy(ctx(), p, at.Add(1)); err != nil {
			t.Fatal(err)
		}
		got, _, _, _ = s.GetRegistrationPolicy(ctx())
		if got.MetadataDocuments.Mode != shared.ModeOff || len(got.MetadataDocuments.TrustedHosts) != 0 {
			t.Fatalf("after the second write: %+v", got.MetadataDocuments)
		}
	})
}

// TestLinkOrigin: a link an administrator creates is admin and active; a
// dynamic registration's pending link reads back as such and is not usable.
func TestLinkOrigin(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		admin, _, err := s.CreateLink(ctx(), newLink(""), now())
		if err != nil {
			t.Fatal(err)
		}
		if admin.Origin != shared.OriginAdmin || admin.Status != shared.StatusActive || !admin.Usable() {
			t.Fatalf("admin link: origin %q status %q usable %v", admin.Origin, admin.Status, admin.Usable())
		}
		in := newLink("")
		in.Origin, in.Status = shared.OriginDynamic, shared.StatusPending
		if _, _, err := s.CreateLink(ctx(), in, now()); err != nil {
			t.Fatal(err)
		}
		for _, get := range []func() (store.Link, error){
			func() (store.Link, error) { return s.GetLink(ctx(), in.ID) },
			func() (store.Link, error) { return s.GetLinkByClientID(ctx(), in.ClientID) },
		} {
			l, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if l.Origin != shared.OriginDynamic || l.Status != shared.StatusPending || l.Usable() {
				t.Fatalf("dynamic link: origin %q status %q usable %v", l.Origin, l.Status, l.Usable())
			}
		}
	})
}
