// Package htmlform reads the post forms of an HTML page the way a browser
// sees them, and the way SPEC's contract describes the provider's pages: a
// <form method="post"> whose state travels in hidden inputs, with named
// fields and named submit buttons. The load generator and the end-to-end,
// security and performance tests all drive the pages through it, so that
// they rely on nothing but that contract.
package htmlform

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Form is one <form method="post">.
type Form struct {
	// Action is the action attribute as written ("" posts to the page).
	Action string
	// Hidden holds the hidden inputs: what a browser sends unchanged.
	Hidden url.Values
	// Fields names the other inputs (text, password, textarea, select).
	Fields map[string]bool
	// Buttons maps each named submit button to its values.
	Buttons map[string][]string
}

// HasButton reports whether the form has a submit button name=value.
func (f Form) HasButton(name, value string) bool {
	for _, v := range f.Buttons[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Parse returns every <form method="post"> of page, in document order.
func Parse(page []byte) ([]Form, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse html: %w", err)
	}
	var forms []Form
	var walk func(n *html.Node, f *Form)
	walk = func(n *html.Node, f *Form) {
		if n.Type == html.ElementNode {
			name, typ := attr(n, "name"), strings.ToLower(attr(n, "type"))
			switch {
			case n.Data == "form":
				if strings.EqualFold(attr(n, "method"), "post") {
					forms = append(forms, Form{Action: attr(n, "action"), Hidden: url.Values{},
						Fields: map[string]bool{}, Buttons: map[string][]string{}})
					f = &forms[len(forms)-1]
				}
			case f == nil || name == "":
			case n.Data == "input" && typ == "hidden":
				f.Hidden.Add(name, attr(n, "value"))
			case n.Data == "input" && typ == "submit", n.Data == "button" && (typ == "" || typ == "submit"):
				f.Buttons[name] = append(f.Buttons[name], attr(n, "value"))
			case n.Data == "input", n.Data == "textarea", n.Data == "select":
				f.Fields[name] = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return forms, nil
}

// One returns the page's only <form method="post">; any other number is an
// error (SPEC: the login and consent pages hold exactly one).
func One(page []byte) (Form, error) {
	forms, err := Parse(page)
	if err != nil {
		return Form{}, err
	}
	if len(forms) != 1 {
		return Form{}, fmt.Errorf(`got %d <form method="post">, want exactly 1`, len(forms))
	}
	return forms[0], nil
}

// attr returns the value of n's attribute key ("" when absent).
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}
