package shared

import "testing"

func TestEscapeHTML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text é", "plain text é"},
		{`<a href="x">&'</a>`, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;"},
		{"a\x00b", "a\uFFFDb"},
		{"a+b%s", "a+b%s"},
	}
	for _, tc := range tests {
		if got := EscapeHTML(tc.in); got != tc.want {
			t.Errorf("EscapeHTML(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
