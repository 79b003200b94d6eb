package admin

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
)

// The errors of the console's forms: every invalid field at once (the
// operations collect them, problems in errors.go), each beside its input
// and in a summary above the form that links to it, in plain words that
// use the form's labels ("Redirect URL 2", "Line 3 of the sign-out
// redirect URLs") rather than the admin API's field names
// ("redirect_uris[1]"). The admin API's JSON keeps its field names.

// fieldErrors holds the sentence shown beside each invalid field of a
// form, keyed by the API's field name ("name", "redirect_uris[1]",
// "scopes"; "" for an error of no field).
type fieldErrors map[string]string

// fieldError reads the validation error of an operation: each invalid
// field with the API's reason, in the order they were checked; ok is
// false for any other error.
func fieldError(err error) ([]fieldProblem, bool) {
	e, ok := err.(*apiError)
	if !ok || e.Status != http.StatusUnprocessableEntity || e.Code != "validation_failed" {
		return nil, false
	}
	if len(e.fields) > 0 {
		return e.fields, true
	}
	field, reason, ok := strings.Cut(e.Message, ": ")
	if !ok {
		return []fieldProblem{{"", e.Message}}, true
	}
	return []fieldProblem{{field, reason}}, true
}

// plainErrors turns an operation's invalid fields into a form's
// sentences; label names a field as the form shows it (label(field) ==
// field for a field the form does not know).
func plainErrors(ps []fieldProblem, label func(field string) string) fieldErrors {
	errs := fieldErrors{}
	for _, p := range ps {
		msg := plainReason(label(p.Field), p.Reason, label)
		if prev := errs[p.Field]; prev != "" {
			msg = prev + " " + msg
		}
		errs[p.Field] = msg
	}
	return errs
}

var (
	// specRef is a reference to a specification in a reason: the
	// administrator needs what to do, not where it is written.
	specRef = regexp.MustCompile(` \((?:RFC|OpenID|SPEC)[^)]*\)`)
	// fieldRef is an API field name with an index ("redirect_uris[0]",
	// `permission_map["devs"][1]`).
	fieldRef = regexp.MustCompile(`\b[a-z_]+(?:\[[^\]]+\])+`)
	uriWord  = regexp.MustCompile(`\bURI(s?)\b`)
)

// plainReason is the sentence shown for the API's reason about the field
// the form labels label: the label instead of the API's field name, "URL"
// for "URI", no references to specifications, and for the reasons a form
// can cause, what to do.
func plainReason(label, reason string, labelOf func(string) string) string {
	lower := lowerFirst(label)
	switch {
	case reason == "must not be empty" || reason == "is required" || strings.HasPrefix(reason, "is required ("):
		return "Enter " + article(lower) + " " + lower + "."
	case reason == "at least one redirect URI is required":
		return "Enter a redirect URL, or tick Devices and command-line tools for an application that connects only that way."
	case strings.HasPrefix(reason, "a resource_server link has no redirect URIs"):
		return "A resource server has no " + lower + ": clear this field, or choose another client type."
	case strings.HasPrefix(reason, "a resource_server link has no grant types"):
		return "A resource server does not connect as a device or a command-line tool: untick this, or choose another client type."
	case strings.HasPrefix(reason, "a resource_server link gets no ID tokens"):
		return "A resource server gets no ID tokens: choose RS256 (it will not be used), or another client type."
	case strings.HasPrefix(reason, "only a resource_server link has resource URIs"):
		return "Only a resource server has resource URLs: clear this field, or choose Resource server as the client type."
	}
	r := specRef.ReplaceAllString(reason, "")
	if s, ok := strings.CutPrefix(r, "unknown scope "); ok {
		r = "has " + s + ", which is not a permission of this service"
	}
	r = fieldRef.ReplaceAllStringFunc(r, func(f string) string {
		l := labelOf(f)
		if strings.HasPrefix(l, "Line ") || strings.HasPrefix(l, "The ") {
			return lowerFirst(l)
		}
		return l
	})
	if s, ok := strings.CutPrefix(r, "duplicates "); ok {
		r = "is the same as " + s
	}
	for _, subject := range []string{"redirect URI ", "resource URI "} {
		r = strings.TrimPrefix(r, subject)
	}
	r = uriWord.ReplaceAllString(r, "URL$1")
	r = strings.ReplaceAll(r, "resource_server", "resource server")
	verb, _, _ := strings.Cut(r, " ")
	switch verb {
	case "must", "is", "has", "are", "cannot", "come", "may":
		r = label + " " + r
	default:
		r = label + ": " + r
	}
	return sentence(r)
}

// lowerFirst is s with its first letter in lower case, unless it starts
// an abbreviation ("ID token signature" stays).
func lowerFirst(s string) string {
	if len(s) < 2 || s[1] >= 'A' && s[1] <= 'Z' {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// article is "a" or "an" before word.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

// listLabel names element i of a list field shown as one input per
// element ("Redirect URL", "Redirect URL 2"), as the form labels them.
func listLabel(field, base string) (string, bool) {
	n, ok := elementIndex(field)
	if !ok {
		return "", false
	}
	if n == 0 {
		return base, true
	}
	return base + " " + strconv.Itoa(n+1), true
}

// elementIndex is i of "field[i]".
func elementIndex(field string) (int, bool) {
	_, rest, ok := strings.Cut(field, "[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	return n, err == nil && n >= 0
}

// lineLabel names element i of a one-per-line field whose text is text:
// "Line 3 of the sign-out redirect URLs" (blank lines counted, as the
// person sees them).
func lineLabel(field, text, what string) string {
	n, ok := elementIndex(field)
	if _, lines := uriLines(text); ok && n < len(lines) {
		return "Line " + strconv.Itoa(lines[n]) + " of the " + what
	}
	return strings.ToUpper(what[:1]) + what[1:]
}

// elementErrors joins the errors of field and of its elements
// ("field[i]"), in order, for an input that holds the whole list.
func elementErrors(errs fieldErrors, field string) string {
	var keys []string
	for k := range errs {
		if k == field || strings.HasPrefix(k, field+"[") {
			keys = append(keys, k)
		}
	}
	sortFields(keys)
	var msgs []string
	for _, k := range keys {
		msgs = append(msgs, errs[k])
	}
	return strings.Join(msgs, " ")
}

// sortFields orders field names as their elements come: "x" before
// "x[2]" before "x[10]".
func sortFields(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
}

// formInput is an input of a form as its error summary links to it:
// the API's field (its elements "field[i]" too) and the input's id.
type formInput struct{ field, id string }

// errorSummary writes, above a form, every error of errs as a link to its
// input, in the order of inputs (errors of fields not among them last,
// without a link). The summary takes the focus when the page loads, so a
// keyboard or screen reader user starts at it.
func errorSummary(b *page.Buffer, errs fieldErrors, inputs []formInput) {
	if len(errs) == 0 {
		return
	}
	b.WriteString(`<div class="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">
<h2 id="error-summary-title">Nothing was saved: correct what is marked below</h2>
<ul>
`)
	done := map[string]bool{}
	for _, in := range inputs {
		var keys []string
		for k := range errs {
			if !done[k] && (k == in.field || strings.HasPrefix(k, in.field+"[")) {
				keys = append(keys, k)
			}
		}
		sortFields(keys)
		for _, k := range keys {
			done[k] = true
			b.Fill(`<li><a href="#%s">%s</a></li>`+"\n", in.id, errs[k])
		}
	}
	var rest []string
	for k := range errs {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sortFields(rest)
	for _, k := range rest {
		b.Fill("<li>%s</li>\n", errs[k])
	}
	b.WriteString("</ul>\n</div>\n")
}

// inputAttrs returns the attributes that mark an input invalid and tie it
// to its error (writeFieldError), when field has one.
func inputAttrs(errs fieldErrors, field, id string) string {
	if errs[field] == "" {
		return ""
	}
	return ` aria-invalid="true" aria-describedby="` + shared.EscapeHTML(id) + `-error"`
}

// writeFieldError writes the error of field (if any) under its input.
func writeFieldError(b *page.Buffer, errs fieldErrors, field, id string) {
	if msg := errs[field]; msg != "" {
		b.Fill(`<p class="field-error" id="%s-error">%s</p>`+"\n", id, msg)
	}
}
