package oauthflow

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/applinks/applinks/tests/testkit/htmlform"
)

// form is the one POST form of a login or consent page (SPEC "Endpoints"),
// as CodeFlow checks it: where it posts, the values a browser would send
// (the hidden inputs), the names of its other inputs and its submit
// buttons.
type form struct {
	htmlform.Form
	action *url.URL
	values url.Values
}

func (f *form) has(field string) bool { return f.Fields[field] }

func (f *form) hasButton(name, value string) bool { return f.HasButton(name, value) }

// parseForm finds the page's only <form method="post"> and reads it
// (htmlform.One). The action is resolved against the page's URL (an empty
// action posts to the page itself).
func parseForm(page []byte, base *url.URL) (*form, error) {
	hf, err := htmlform.One(page)
	if err != nil {
		return nil, err
	}
	action, err := base.Parse(hf.Action)
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", hf.Action, err)
	}
	if len(hf.Hidden) == 0 {
		return nil, errors.New("the form has no hidden inputs (its state and CSRF token travel in them)")
	}
	return &form{Form: hf, action: action, values: hf.Hidden}, nil
}

// pageText is the visible text of an HTML answer, whitespace collapsed, for
// error messages.
func pageText(page []byte) string {
	z := html.NewTokenizer(bytes.NewReader(page))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.StartTagToken:
			if name, _ := z.TagName(); string(name) == "style" || string(name) == "script" {
				skip++
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); (string(name) == "style" || string(name) == "script") && skip > 0 {
				skip--
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}
