package shared

import "strings"

// errorPage is the authorization endpoint's error page: no external assets,
// readable on a phone, every value escaped by EscapeHTML. It is
// built by hand rather than by html/template, which would make the linker
// keep every exported method of every type in a Lambda binary.
func errorPage(code, description string) string {
	var b strings.Builder
	b.WriteString(errorPageHead)
	if description != "" {
		b.WriteString("<p>")
		b.WriteString(EscapeHTML(description))
		b.WriteString("</p>")
	}
	b.WriteString("\n<p>Error code: <code>")
	b.WriteString(EscapeHTML(code))
	b.WriteString("</code></p>\n")
	b.WriteString(errorPageFoot)
	return b.String()
}

const (
	errorPageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorization error</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1.5rem;line-height:1.5;color:#172b4d;background:#fff}
main{max-width:32rem;margin:2rem auto}
h1{font-size:1.5rem;margin:0 0 1rem}
code{background:#f4f5f7;padding:.1rem .3rem;border-radius:3px;word-break:break-all}
</style>
</head>
<body>
<main>
<h1>The application's request could not be completed</h1>
`
	errorPageFoot = `<p>You can close this page and return to the application you came from.</p>
</main>
</body>
</html>
`
)
