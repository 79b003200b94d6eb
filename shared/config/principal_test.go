package config

import (
	"regexp"
	"strings"
	"testing"
)

// TestIsPrincipalARN: the hand-written check agrees with the regular
// expression it replaces, on ARNs and near misses.
func TestIsPrincipalARN(t *testing.T) {
	re := regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	long := strings.Repeat("a", 512)
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/token",
		"arn:aws:iam::123456789012:user/ops/alice",
		"arn:aws-us-gov:iam::123456789012:role/path/x+y=z,a.b@c_d-e",
		"arn:aws-cn:iam::123456789012:role/" + long,
		"arn:aws-cn:iam::123456789012:role/" + long + "a",
		"arn:aws:iam::123456789012:role/",
		"arn:aws:iam::12345678901:role/x",
		"arn:aws:iam::1234567890123:role/x",
		"arn:aws:iam::12345678901a:role/x",
		"arn:aws:iam::123456789012:group/x",
		"arn:aws:iam::123456789012:role/*",
		"arn:aws:iam::123456789012:role/a b",
		"arn:aws:iam::123456789012:role/é",
		"arn:aws:sts::123456789012:assumed-role/x/y",
		"arn:awsX:iam::123456789012:role/x",
		"arn:aws1:iam::123456789012:role/x",
		"arn:aws:iam:us-east-1:123456789012:role/x",
		"arn:aws:iam::123456789012:role/x\n",
		"xarn:aws:iam::123456789012:role/x",
		"arn:aws",
		"",
	} {
		if got, want := isPrincipalARN(s), re.MatchString(s); got != want {
			t.Errorf("isPrincipalARN(%.60q): got %v, want %v", s, got, want)
		}
	}
}
