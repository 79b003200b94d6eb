package shared

import "strings"

// htmlEscaper: the five characters html.EscapeString escapes, as it
// writes them, and NUL, which HTML parsers drop or replace, as U+FFFD (as
// html/template does).
var htmlEscaper = strings.NewReplacer(
	"&", "&amp;",
	"'", "&#39;",
	"<", "&lt;",
	">", "&gt;",
	`"`, "&#34;",
	"\x00", "\uFFFD",
)

// EscapeHTML escapes s for an HTML element or a double-quoted attribute:
// the one escaping of the pages built by hand (this package's error page,
// page.Buffer).
func EscapeHTML(s string) string { return htmlEscaper.Replace(s) }
