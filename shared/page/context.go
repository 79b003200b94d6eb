package page

import (
	"errors"
	"strings"

	"github.com/applinks/applinks/shared"
)

// A state of the tokenizer: where the next byte of markup lands. It is
// the part of the HTML tokenizer (WHATWG HTML, "Tokenization") that tells
// text, tags, attributes, comments and raw text apart; it does not build
// a tree, decode character references or know which elements are open.
type state uint8

const (
	sText            state = iota // text between tags
	sTagOpen                      // after "<"
	sEndTagOpen                   // after "</"
	sTagName                      // in a start tag's name
	sEndTag                       // in an end tag, up to its ">"
	sBeforeAttrName               // in a start tag, between attributes
	sAttrName                     // in an attribute's name
	sAfterAttrName                // after an attribute's name, before "=" or the next
	sBeforeAttrValue              // after "="
	sAttrDouble                   // in a double-quoted attribute value
	sAttrSingle                   // in a single-quoted attribute value
	sAttrUnquoted                 // in an unquoted attribute value
	sAfterAttrValue               // right after a quoted value's closing quote
	sBang                         // after "<!"
	sBangDash                     // after "<!-"
	sComment                      // in a comment, up to "-->"
	sBogus                        // in a "<!doctype ...>", "<?...>" or "</ ...>", up to ">"
	sRawText                      // in <script> or <style>, up to its end tag
	sRCDATA                       // in <title> or <textarea>: text, up to its end tag
)

var stateNames = [...]string{
	sText: "text", sTagOpen: "a tag's start", sEndTagOpen: "an end tag", sTagName: "a tag name",
	sEndTag: "an end tag", sBeforeAttrName: "an attribute name", sAttrName: "an attribute name",
	sAfterAttrName: "an attribute name", sBeforeAttrValue: "an unquoted attribute value",
	sAttrDouble: "an attribute value", sAttrSingle: "a single-quoted attribute value",
	sAttrUnquoted: "an unquoted attribute value", sAfterAttrValue: "an attribute name",
	sBang: "a comment or declaration", sBangDash: "a comment", sComment: "a comment",
	sBogus: "a declaration", sRawText: "a script or style element", sRCDATA: "the end tag of a title or textarea",
}

// An attrKind is what an attribute's value is, for escaping.
type attrKind uint8

const (
	attrPlain  attrKind = iota // text: HTML-escaped
	attrURL                    // a URL: LocalURL, then HTML-escaped
	attrUnsafe                 // script, CSS, a URL list or a document: no value
)

// tokenizer is a Buffer's position in its markup.
type tokenizer struct {
	scanned  int      // bytes of the Buffer followed
	state    state    //
	mark     int      // where the current tag or attribute name starts
	attr     attrKind // the attribute being read
	valStart int      // where the current attribute value starts
	raw      string   // "</" and the element the current tag opens, or whose text this is, when that text is raw text or RCDATA
	rawMatch int      // bytes of raw matched in raw text or RCDATA
	urlValue bool     // a value was written into the current URL attribute value
	dashes   int      // "-" just before, in a comment
	fault    string   // a URL attribute that a value made point elsewhere
}

// sameSite reports whether u, a URL attribute's value as written, points
// to this site whatever follows: a fragment ("#..."), "/" alone, or "/"
// and a byte that is not "/", a backslash, "&" (a character reference
// could be either of those), white space or a control character, so that
// no scheme or host can follow.
func sameSite(u string) bool {
	if u == "/" || strings.HasPrefix(u, "#") {
		return true
	}
	return len(u) > 1 && u[0] == '/' && u[1] > ' ' && u[1] < 0x7f && u[1] != '/' && u[1] != '\\' && u[1] != '&'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// lower is s in ASCII lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// rawElement is the start of the end tag of element name if its text is
// raw text (script, style) or RCDATA (title, textarea), else "".
func rawElement(name string) string {
	switch lower(name) {
	case "script":
		return "</script"
	case "style":
		return "</style"
	case "title":
		return "</title"
	case "textarea":
		return "</textarea"
	}
	return ""
}

// attrKindOf is the kind of the attribute named name, by the rules of
// html/template (attr.go): the URL attributes of HTML, a data- or
// namespaced attribute by its local name, a name with "src", "uri" or
// "url" in it as a URL; event handlers, style, srcset (a list of URLs),
// srcdoc (a document) and a meta's content and http-equiv (a refresh
// navigates) take no value.
func attrKindOf(name string) attrKind {
	name = lower(name)
	if strings.HasPrefix(name, "data-") {
		name = name[5:]
	} else if prefix, local, ok := strings.Cut(name, ":"); ok {
		if prefix == "xmlns" {
			return attrURL
		}
		name = local
	}
	switch name {
	case "href", "action", "formaction", "src", "cite", "poster", "background", "longdesc", "usemap",
		"manifest", "codebase", "data", "ping", "icon", "xmlns", "profile", "classid", "archive":
		return attrURL
	case "style", "srcset", "srcdoc", "content", "http-equiv":
		return attrUnsafe
	}
	if strings.HasPrefix(name, "on") {
		return attrUnsafe
	}
	if strings.Contains(name, "src") || strings.Contains(name, "uri") || strings.Contains(name, "url") {
		return attrURL
	}
	return attrPlain
}

// follow moves the tokenizer over s[t.scanned:], the markup written since
// it last looked.
func (t *tokenizer) follow(s string) {
	if t.scanned > len(s) { // the Buffer was Reset
		*t = tokenizer{}
	}
	i := t.scanned
	for i < len(s) {
		c := s[i]
		switch t.state {
		case sText:
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				i = len(s)
				continue
			}
			i += j
			t.state = sTagOpen
		case sTagOpen:
			switch {
			case isLetter(c):
				t.state, t.mark = sTagName, i
			case c == '/':
				t.state = sEndTagOpen
			case c == '!':
				t.state = sBang
			case c == '?':
				t.state = sBogus
			default: // "<" as text
				t.state = sText
				continue
			}
		case sEndTagOpen:
			switch {
			case isLetter(c):
				t.state = sEndTag
			case c == '>':
				t.state = sText
			default:
				t.state = sBogus
			}
		case sTagName:
			for i < len(s) && !isSpace(s[i]) && s[i] != '/' && s[i] != '>' {
				i++
			}
			if i == len(s) {
				continue
			}
			c = s[i]
			switch {
			case isSpace(c) || c == '/':
				t.raw = rawElement(s[t.mark:i])
				t.state = sBeforeAttrName
			case c == '>':
				t.raw = rawElement(s[t.mark:i])
				t.endStartTag()
			}
		case sEndTag, sBogus:
			if c == '>' {
				t.state = sText
			}
		case sBeforeAttrName:
			switch {
			case isSpace(c) || c == '/':
			case c == '>':
				t.endStartTag()
			default:
				t.state, t.mark = sAttrName, i
			}
		case sAttrName:
			for i < len(s) && !isSpace(s[i]) && s[i] != '/' && s[i] != '=' && s[i] != '>' {
				i++
			}
			if i == len(s) {
				continue
			}
			c = s[i]
			switch {
			case isSpace(c) || c == '/':
				t.attr = attrKindOf(s[t.mark:i])
				t.state = sAfterAttrName
			case c == '=':
				t.attr = attrKindOf(s[t.mark:i])
				t.state = sBeforeAttrValue
			case c == '>':
				t.endStartTag()
			}
		case sAfterAttrName:
			switch {
			case isSpace(c) || c == '/':
			case c == '=':
				t.state = sBeforeAttrValue
			case c == '>':
				t.endStartTag()
			default:
				t.state, t.mark = sAttrName, i
			}
		case sBeforeAttrValue:
			switch {
			case isSpace(c):
			case c == '"':
				t.state, t.valStart = sAttrDouble, i+1
			case c == '\'':
				t.state = sAttrSingle
			case c == '>':
				t.endStartTag()
			default:
				t.state = sAttrUnquoted
			}
		case sAttrDouble, sAttrSingle:
			q := byte('"')
			if t.state == sAttrSingle {
				q = '\''
			}
			j := strings.IndexByte(s[i:], q)
			if j < 0 {
				i = len(s)
				continue
			}
			i += j
			if t.urlValue && t.fault == "" && !sameSite(s[t.valStart:i]) {
				t.fault = "the URL " + s[t.valStart:i] + ", which a value and the markup after it made"
			}
			t.state, t.urlValue = sAfterAttrValue, false
		case sAttrUnquoted:
			switch {
			case isSpace(c):
				t.state = sBeforeAttrName
			case c == '>':
				t.endStartTag()
			}
		case sAfterAttrValue:
			switch {
			case isSpace(c) || c == '/':
				t.state = sBeforeAttrName
			case c == '>':
				t.endStartTag()
			default:
				t.state = sBeforeAttrName
				continue
			}
		case sBang:
			if c == '-' {
				t.state = sBangDash
			} else {
				t.state = sBogus
				continue
			}
		case sBangDash:
			if c == '-' {
				t.state, t.dashes = sComment, 2 // "<!-->" ends at once
			} else {
				t.state = sBogus
				continue
			}
		case sComment:
			switch {
			case c == '-':
				t.dashes++
			case c == '>' && t.dashes >= 2:
				t.state = sText
			default:
				t.dashes = 0
			}
		case sRawText, sRCDATA:
			if t.rawMatch == 0 {
				j := strings.IndexByte(s[i:], '<')
				if j < 0 {
					i = len(s)
					continue
				}
				i += j
				t.rawMatch = 1
				break
			}
			end := t.raw
			switch {
			case t.rawMatch < len(end) && lowerByte(c) == end[t.rawMatch]:
				t.rawMatch++
			case t.rawMatch == len(end) && (isSpace(c) || c == '/' || c == '>'):
				t.rawMatch, t.raw = 0, ""
				t.state = sEndTag
				continue
			default:
				t.rawMatch = 0
				continue
			}
		}
		i++
	}
	t.scanned = len(s)
}

// endStartTag is the ">" of a start tag: its element's text follows.
func (t *tokenizer) endStartTag() {
	t.state = sText
	switch t.raw {
	case "</script", "</style":
		t.state = sRawText
	case "</title", "</textarea":
		t.state = sRCDATA
	}
	t.rawMatch = 0
}

// value writes v, escaped for where it lands, or records a fault.
func (b *Buffer) value(v string) {
	s := b.String()
	t := &b.ctx
	t.follow(s)
	switch {
	case t.state == sText || t.state == sRCDATA && t.rawMatch == 0:
		b.WriteString(shared.EscapeHTML(v))
	case t.state == sAttrDouble && t.attr == attrPlain:
		b.WriteString(shared.EscapeHTML(v))
	case t.state == sAttrDouble && t.attr == attrURL:
		switch prefix := s[t.valStart:]; {
		case prefix == "":
			b.WriteString(shared.EscapeHTML(LocalURL(v)))
		case prefix != "/" && sameSite(prefix):
			// A fragment, or a path of this site past its first "/x":
			// nothing after it can change the site.
			b.WriteString(shared.EscapeHTML(v))
		default:
			b.fault(s, "a URL after a prefix that is not a path of this site")
			return
		}
		t.urlValue = true
	case t.state == sAttrDouble:
		b.fault(s, "an event handler, style or other attribute that takes no value")
		return
	default:
		b.fault(s, stateNames[t.state])
		return
	}
	// An escaped value holds no "<" or quote: it leaves the state as it is.
	t.scanned = b.Len()
}

// Err is the first hole Fill found in a context it cannot make safe, or
// the first URL attribute that a value together with the markup after it
// made point to another site ("/" and then "/host"), with the markup before
// it; nil when there is none. Render sends no page with one.
func (b *Buffer) Err() error {
	if b.err == nil {
		b.ctx.follow(b.String())
		if b.ctx.fault != "" {
			b.err = errors.New("page: " + b.ctx.fault)
		}
	}
	return b.err
}

// fault records the first hole in a context the Buffer cannot make safe.
func (b *Buffer) fault(s, where string) {
	if b.err == nil {
		b.err = errors.New("page: a value in " + where + " is not written, after " + quoteTail(s))
	}
}

// quoteTail is the last bytes of s, to find a fault's markup by.
func quoteTail(s string) string {
	if len(s) > 60 {
		s = "..." + s[len(s)-60:]
	}
	return `"` + s + `"`
}
