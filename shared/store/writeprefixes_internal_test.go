package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store/table"
)

// TestWritePrefixesAreKeyPrefixes: the write prefixes the stack grants
// name this package's key prefixes, so a renamed prefix cannot leave the
// policy behind silently; and none of them reaches an item that is the
// admin function's alone: links, users the admin function created (ids of
// shared.NewID), console sessions and console upstream flows, identity
// providers.
func TestWritePrefixesAreKeyPrefixes(t *testing.T) {
	known := []string{linkPrefix, linkIDPrefix, idemPrefix, userPrefix, usernamePrefix, throttlePrefix,
		sessionPrefix, codePrefix, grantsPrefix, refreshPrefix, jtiPrefix, devicePrefix,
		upflowPrefix, upstreamPrefix, userPrefix + SignInUserPrefix, claimsPrefix, lastUsePrefix, consentedPrefix, metadataLinkPrefix}
	adminID, err := shared.NewID(strings.NewReader(strings.Repeat("u.", 64)))
	if err != nil {
		t.Fatal(err)
	}
	adminOnly := []string{linkPrefix + "c", linkIDPrefix + "i", idemPrefix + "k", userPrefix + adminID, userPrefix + "u",
		userPrefix + "uXYZ", consolePrefix + "h", consoleUpflowPrefix + "h", idpsPK,
		eventPK(EventWriterAdmin, EventSubject{Kind: EventLink, ID: "l"}), eventPK(EventWriterAdmin, EventSubject{Kind: EventUser, ID: "u"})}
	for fn, prefixes := range table.WritePrefixes {
		for _, p := range prefixes {
			if !slices.Contains(known, p) {
				t.Errorf("%s may write %q, which is no key prefix of the store", fn, p)
			}
			for _, k := range adminOnly {
				if strings.HasPrefix(k, p) {
					t.Errorf("%s may write %q, which covers %q: the admin function's alone", fn, p, k)
				}
			}
		}
		// Passkeys, their enrollment links and ceremonies: no prefix a
		// function may write leads any of their keys.
		for _, own := range []string{passkeyPrefix, enrollPrefix, ceremonyPrefix, consolePrefix} {
			for _, p := range prefixes {
				if strings.HasPrefix(own, p) {
					t.Errorf("%s may write %q, which leads the admin function's %q items", fn, p, own)
				}
			}
		}
	}
	if CreatedBySignIn(adminID) {
		t.Errorf("an id of shared.NewID (%q) counts as created by a sign-in", adminID)
	}
}
