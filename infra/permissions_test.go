package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestPermissionService: with PermissionSource service the functions get
// PERMISSION_SOURCE, PERMISSIONS_URL, PERMISSIONS_TIMEOUT and
// PERMISSIONS_CACHE; the token and authorize functions (not admin) may
// read, create and protect the permission-request key secret, and only
// it, and are told to leave it to their two roles and the operators
// (PERMISSION_KEY_PRINCIPALS). With the default (stored) none of it is
// there: no function can create the key a permission service would later
// trust.
func TestPermissionService(t *testing.T) {
	const operator = "arn:aws:iam::111111111111:role/ops/applinks-operator"
	_, doc := synth(t, ProviderStackProps{OperatorRoleArns: []string{operator},
		PermissionSource: "service", PermissionsURL: "https://perms.example.com/permissions",
		PermissionsTimeout: "3s", PermissionsCache: "30s"})
	principals := joined(roleArn(doc.role(t, "token")), roleArn(doc.role(t, "authorize")), operator)
	for _, fn := range Functions {
		vars := doc.env(t, fn)
		for k, want := range map[string]any{"PERMISSION_SOURCE": "service",
			"PERMISSIONS_URL": "https://perms.example.com/permissions", "PERMISSIONS_TIMEOUT": "3s", "PERMISSIONS_CACHE": "30s"} {
			if vars[k] != want {
				t.Errorf("%s %s: got %v, want %v", fn, k, vars[k], want)
			}
		}
		st, ok := doc.statements(t, fn)["PermissionRequestKeys"]
		if fn == "admin" {
			if ok || vars["PERMISSION_KEY_PRINCIPALS"] != nil {
				t.Errorf("admin: got %+v and PERMISSION_KEY_PRINCIPALS %v, want neither", st, vars["PERMISSION_KEY_PRINCIPALS"])
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: no PermissionRequestKeys statement", fn)
		}
		var actions []string
		for _, a := range list(st.Action) {
			actions = append(actions, a.(string))
		}
		sort.Strings(actions)
		if want := []string{"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy"}; !slices.Equal(actions, want) {
			t.Errorf("%s actions: got %v, want %v", fn, actions, want)
		}
		res, _ := json.Marshal(st.Resource)
		if r := list(st.Resource); len(r) != 1 || !strings.Contains(string(res), `:secret:applinks-dev/permission-request-keys-??????"`) {
			t.Errorf("%s resource: got %s, want the secret applinks-dev/permission-request-keys alone", fn, res)
		}
		if got := vars["PERMISSION_KEY_PRINCIPALS"]; !reflect.DeepEqual(got, principals) {
			t.Errorf("%s PERMISSION_KEY_PRINCIPALS:\n got %v\nwant %v", fn, got, principals)
		}
	}

	_, plain := synth(t, ProviderStackProps{})
	for _, fn := range Functions {
		vars := plain.env(t, fn)
		for _, k := range []string{"PERMISSION_SOURCE", "PERMISSIONS_URL", "PERMISSION_KEY_PRINCIPALS"} {
			if vars[k] != nil {
				t.Errorf("stored, %s: got %s=%v, want unset", fn, k, vars[k])
			}
		}
		if st, ok := plain.statements(t, fn)["PermissionRequestKeys"]; ok {
			t.Errorf("stored, %s: got %+v, want no access to the permission-request keys", fn, st)
		}
	}
}

// TestPermissionPropsErrors: a bad permission setting fails the synth with
// the functions' own message naming the variable.
func TestPermissionPropsErrors(t *testing.T) {
	for _, tc := range []struct {
		props ProviderStackProps
		want  string
	}{
		{ProviderStackProps{PermissionSource: "ldap"}, "PERMISSION_SOURCE"},
		{ProviderStackProps{PermissionSource: "service"}, "PERMISSIONS_URL: required"},
		{ProviderStackProps{PermissionsURL: "https://perms.example.com/p"}, "PERMISSIONS_URL: set, but"},
		{ProviderStackProps{PermissionSource: "service", PermissionsURL: "http://perms.example.com/p"}, "PERMISSIONS_URL"},
		{ProviderStackProps{PermissionSource: "service", PermissionsURL: "https://api.example.com", Audience: "https://api.example.com"}, "is AUDIENCE"},
		{ProviderStackProps{PermissionSource: "service", PermissionsURL: "https://perms.example.com/p", PermissionsTimeout: "11s"}, "PERMISSIONS_TIMEOUT"},
		{ProviderStackProps{PermissionSource: "service", PermissionsURL: "https://perms.example.com/p", PermissionsCache: "10m"}, "PERMISSIONS_CACHE"},
	} {
		if _, err := withDefaults(tc.props); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error containing %q", tc.props, err, tc.want)
		}
	}
}
