package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store/table"
)

// TestWritePrefixesAreKeyPrefixes: the write prefixes the stack grants
// name this package's key prefixes, so a renamed prefix cannot leave the
// policy behind silently.
func TestWritePrefixesAreKeyPrefixes(t *testing.T) {
	known := []string{linkPrefix, linkIDPrefix, idemPrefix, userPrefix, usernamePrefix, throttlePrefix,
		sessionPrefix, codePrefix, grantsPrefix, refreshPrefix, jtiPrefix, devicePrefix}
	for fn, prefixes := range table.WritePrefixes {
		for _, p := range prefixes {
			if !slices.Contains(known, p) {
				t.Errorf("%s may write %q, which is no key prefix of the store", fn, p)
			}
		}
		for _, p := range []string{linkPrefix, linkIDPrefix, idemPrefix, userPrefix, usernamePrefix} {
			if slices.Contains(prefixes, p) {
				t.Errorf("%s may write %q: links and users are the admin function's alone", fn, p)
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
}
