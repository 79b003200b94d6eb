package config

import "testing"

// TestPasswordSignIn: PASSWORD_SIGN_IN takes on, admins or off in any
// letter case, defaults to on, and anything else stops start-up with one
// line naming the variable.
func TestPasswordSignIn(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.PasswordSignIn != PasswordOn {
		t.Fatalf("default: got %q, %v; want on", c.PasswordSignIn, err)
	}
	for v, want := range map[string]string{"on": PasswordOn, "ADMINS": PasswordAdmins, " off ": PasswordOff} {
		c, err := FromEnv(env(map[string]string{"PASSWORD_SIGN_IN": v}))
		if err != nil || c.PasswordSignIn != want {
			t.Errorf("%q: got %q, %v; want %q", v, c.PasswordSignIn, err, want)
		}
	}
	for _, v := range []string{"yes", "true"} {
		_, err := FromEnv(env(map[string]string{"PASSWORD_SIGN_IN": v}))
		if want := `PASSWORD_SIGN_IN: "` + v + `" is not one of on, admins, off`; err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", v, err, want)
		}
	}
}

// TestIdentityProviderSecretPrincipals: IDP_SECRET_PRINCIPALS is read like
// the other secrets' principals.
func TestIdentityProviderSecretPrincipals(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"IDP_SECRET_PRINCIPALS": "arn:aws:iam::111111111111:role/admin, arn:aws:iam::111111111111:role/authorize"}))
	if err != nil || len(c.IdentityProviderSecretPrincipals) != 2 || c.IdentityProviderSecretPrincipals[1] != "arn:aws:iam::111111111111:role/authorize" {
		t.Errorf("got %v, %v", c.IdentityProviderSecretPrincipals, err)
	}
	if _, err := FromEnv(env(map[string]string{"IDP_SECRET_PRINCIPALS": "arn:aws:iam::1:role/x"})); err == nil || err.Error()[:22] != "IDP_SECRET_PRINCIPALS:" {
		t.Errorf("a bad ARN: got %v", err)
	}
}
