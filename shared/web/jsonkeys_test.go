package web

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type keysInner struct {
	URI string `json:"uri"`
}

type keysEmbedded struct {
	Note *string `json:"note"`
}

type keysInput struct {
	keysEmbedded
	Name    *string              `json:"name"`
	Scopes  *[]string            `json:"scopes"`
	Items   []keysInner          `json:"items"`
	Labels  map[string]string    `json:"labels"`
	Extra   map[string]any       `json:"extra"`
	Raw     json.RawMessage      `json:"raw"`
	When    *time.Time           `json:"when"`
	Plain   int                  // no tag: the Go name
	Skipped string               `json:"-"`
	Nested  *keysInner           `json:"nested"`
	ByKey   map[string]keysInner `json:"by_key"`
}

// TestDecodeJSONKeys: a repeated key and a key that differs from a field's
// name only by letter case are refused with an error naming the key, at
// any depth where the target is a struct; map keys keep their case; what
// was valid before stays valid.
func TestDecodeJSONKeys(t *testing.T) {
	tests := []struct {
		name, body, want string // want "" = accepted
	}{
		{"plain", `{"name":"x","scopes":["A"],"items":[{"uri":"u"}],"note":"n","Plain":1}`, ""},
		{"case-changed key", `{"name":"x","NAME":"y"}`, `key "NAME" differs from the field "name" only by letter case`},
		{"case-changed key alone", `{"Name":"y"}`, `key "Name" differs from the field "name" only by letter case`},
		{"case-changed untagged field", `{"plain":1}`, `key "plain" differs from the field "Plain" only by letter case`},
		{"case-changed embedded field", `{"NOTE":"n"}`, `key "NOTE" differs from the field "note" only by letter case`},
		{"repeated key", `{"name":"x","name":"y"}`, `key "name" is repeated`},
		{"repeated key, same value", `{"scopes":["A"],"scopes":["A"]}`, `key "scopes" is repeated`},
		{"repeated key in a nested struct", `{"items":[{"uri":"a"},{"uri":"b","uri":"c"}]}`, `key "uri" is repeated`},
		{"case-changed key in a nested struct", `{"nested":{"URI":"a"}}`, `key "URI" differs from the field "uri" only by letter case`},
		{"case-changed key in a map's struct value", `{"by_key":{"k":{"Uri":"a"}}}`, `key "Uri" differs from the field "uri" only by letter case`},
		{"map keys keep their case", `{"labels":{"a":"1","A":"2"}}`, ""},
		{"repeated map key", `{"labels":{"a":"1","a":"2"}}`, `key "a" is repeated`},
		{"repeated key inside any", `{"extra":{"x":{"y":1,"y":2}}}`, `key "y" is repeated`},
		{"case differences inside any", `{"extra":{"x":{"y":1,"Y":2}}}`, ""},
		{"repeated key inside raw JSON", `{"raw":{"a":1,"a":2}}`, `key "a" is repeated`},
		{"raw JSON keeps its case", `{"raw":{"a":1,"A":2}}`, ""},
		{"time", `{"when":"2026-01-01T00:00:00Z"}`, ""},
		{"unknown field first", `{"nmae":"x"}`, `unknown field "nmae"`},
		{"skipped field is unknown", `{"Skipped":"x"}`, `unknown field "Skipped"`},
		{"unicode escape of a case-changed key", `{"N\u0041ME":"y"}`, `key "NAME" differs from the field "name" only by letter case`},
		{"escaped repeat", `{"name":"x","n\u0061me":"y"}`, `key "name" is repeated`},
		{"malformed", `{"name":"x",}`, "malformed JSON at offset"},
		{"trailing", `{"name":"x"} {}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			var v keysInput
			err := DecodeJSON(r, &v)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("DecodeJSON(%s): got %v, want nil", tt.body, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("DecodeJSON(%s): got %v, want an error containing %q", tt.body, err, tt.want)
			}
		})
	}
}
