package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// form is the one POST form of a login or consent page (SPEC "Endpoints"):
// where it posts, the values a browser would send (the hidden inputs), the
// names of its other inputs and its submit buttons.
type form struct {
	action  *url.URL
	values  url.Values
	fields  map[string]bool     // non-hidden input names
	buttons map[string][]string // submit button name -> values
}

func (f *form) has(field string) bool { return f.fields[field] }

func (f *form) hasButton(name, value string) bool {
	for _, v := range f.buttons[name] {
		if v == value {
			return true
		}
	}
	return false
}

// parseForm finds the page's only <form method="post"> and reads it. The
// action is resolved against the page's URL (an empty action posts to the
// page itself).
func parseForm(page []byte, base *url.URL) (*form, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse html: %w", err)
	}
	var forms []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") {
			forms = append(forms, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(forms) != 1 {
		return nil, fmt.Errorf(`got %d <form method="post">, want exactly 1`, len(forms))
	}
	fn := forms[0]
	action, err := base.Parse(attr(fn, "action"))
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", attr(fn, "action"), err)
	}
	f := &form{action: action, values: url.Values{}, fields: map[string]bool{}, buttons: map[string][]string{}}
	var read func(*html.Node)
	read = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := attr(n, "name")
			typ := strings.ToLower(attr(n, "type"))
			switch {
			case name == "":
			case n.Data == "input" && typ == "hidden":
				f.values.Add(name, attr(n, "value"))
			case n.Data == "input" && typ == "submit", n.Data == "button" && (typ == "" || typ == "submit"):
				f.buttons[name] = append(f.buttons[name], attr(n, "value"))
			case n.Data == "input", n.Data == "textarea", n.Data == "select":
				f.fields[name] = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			read(c)
		}
	}
	read(fn)
	if len(f.values) == 0 {
		return nil, errors.New("the form has no hidden inputs (its state and CSRF token travel in them)")
	}
	return f, nil
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
