package admin

import (
	"slices"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
)

// permTable is the permission table of the console, built from the scope
// catalog: a row per resource, a column per level, as Atlassian's
// "Create link" page shows the Bitbucket scopes (Account: Write;
// Repositories: Read, Write, Admin; Projects: Admin; Admin: Write; System:
// Admin). A scope NAME_LEVEL, LEVEL being one of the level words, goes to
// row NAME and column LEVEL; a scope that is a level word alone (Jira's and
// Confluence's READ, WRITE, ADMIN) to the row "All"; any other scope to its
// own row, column "Access". The baseline scope has no checkbox: every link
// and every user has it.
type permTable struct {
	Levels []string // column headings, in order
	Rows   []permRow
	// Baseline is the catalog's baseline scope with its description.
	Baseline, BaselineDescription string
}

type permRow struct {
	Label string
	Cells []*permCell // one per level; nil where the row has no such scope
}

type permCell struct {
	Scope       string
	Description string
	Label       string // "Repositories: Admin"
	row, level  string // "Repositories", "Admin"
	// Implies are the other cells this scope includes (its closure less
	// itself), a group per row in table order ("Repositories: Read,
	// Write"); ImpliedBy the scopes that include this one.
	Implies   []string
	ImpliedBy []string
}

// levelWords are the column names, in column order; their labels follow.
var levelWords = []string{"READ", "WRITE", "ADMIN", "DELETE"}

var levelLabels = map[string]string{"READ": "Read", "WRITE": "Write", "ADMIN": "Admin", "DELETE": "Delete", "": "Access"}

// resourceLabels are the row names of the Bitbucket catalog; another
// resource is shown as its name in title case.
var resourceLabels = map[string]string{
	"ACCOUNT": "Account", "REPO": "Repositories", "PROJECT": "Projects", "ADMIN": "Admin", "SYSTEM": "System",
	"": "All",
}

func titleCase(s string) string {
	words := strings.Split(strings.ToLower(s), "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

func splitScope(name string) (resource, level string) {
	for _, l := range levelWords {
		if name == l {
			return "", l
		}
		if r, ok := strings.CutSuffix(name, "_"+l); ok && r != "" {
			return r, l
		}
	}
	return name, ""
}

// newPermTable builds the table of cat.
func newPermTable(cat *shared.Catalog) permTable {
	t := permTable{Baseline: cat.Baseline(), BaselineDescription: cat.Description(cat.Baseline())}
	scopes := cat.Scopes()
	usedLevel := map[string]bool{}
	var rowOrder []string
	rowOf := map[string][]shared.Scope{}
	for _, s := range scopes {
		if s.Name == t.Baseline {
			continue
		}
		r, l := splitScope(s.Name)
		usedLevel[l] = true
		if _, ok := rowOf[r]; !ok {
			rowOrder = append(rowOrder, r)
		}
		rowOf[r] = append(rowOf[r], s)
	}
	for _, l := range append(append([]string{}, levelWords...), "") {
		if usedLevel[l] {
			t.Levels = append(t.Levels, l)
		}
	}
	cells := map[string]*permCell{}
	var order []string
	for _, r := range rowOrder {
		label, ok := resourceLabels[r]
		if !ok {
			label = titleCase(r)
		}
		row := permRow{Label: label, Cells: make([]*permCell, len(t.Levels))}
		for _, s := range rowOf[r] {
			_, l := splitScope(s.Name)
			for i, tl := range t.Levels {
				if tl == l && row.Cells[i] == nil {
					c := &permCell{Scope: s.Name, Description: s.Description, Label: label + ": " + levelLabels[l], row: label, level: levelLabels[l]}
					row.Cells[i] = c
					cells[s.Name] = c
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	// Table order (row by row) for the implied lists.
	for _, row := range t.Rows {
		for _, c := range row.Cells {
			if c != nil {
				order = append(order, c.Scope)
			}
		}
	}
	for _, name := range order {
		c := cells[name]
		// "Repositories: Read, Write; Account: Write"
		var groups []string
		row := ""
		for _, other := range order {
			if other == name || !cat.Covers([]string{name}, []string{other}) {
				continue
			}
			o := cells[other]
			o.ImpliedBy = append(o.ImpliedBy, name)
			if o.row != row {
				groups = append(groups, o.row+": "+o.level)
				row = o.row
			} else {
				groups[len(groups)-1] += ", " + o.level
			}
		}
		c.Implies = groups
	}
	return t
}

// levelLabel is a column's heading.
func levelLabel(l string) string { return levelLabels[l] }

// cellID is the id of a scope's checkbox in a form (field is "scope" or
// "permission").
func cellID(field, scope string) string { return field + "-" + scope }

// writePermTable writes the table as a fieldset of checkboxes named field,
// with checked the scopes that are ticked. The static text under each
// checkbox says what the level includes; a style rule per scope marks the
// included cells as soon as a box is ticked (CSS :has, no script).
func writePermTable(b *page.Buffer, t permTable, field, legend string, checked []string, errMsg string) {
	who, whom := "an application may use", "link"
	if field == "permission" {
		who, whom = "the user may grant an application", "user"
	}
	b.Fill(`<fieldset class="perm" id="%s-fieldset" tabindex="-1" aria-describedby="%s-help">
<legend>%s</legend>
<p class="small" id="%s-help">Tick the highest level `+who+` for each resource: a level includes the levels it lists. `, field, field, legend, field)
	if t.Baseline != "" {
		b.Fill(`Every `+whom+` has <strong>%s</strong> (<code>%s</code>).`, t.BaselineDescription, t.Baseline)
	}
	b.WriteString("</p>\n")
	if errMsg != "" {
		b.Fill(`<p class="error" id="%s-error">%s</p>`+"\n", field, errMsg)
	}
	// One rule per scope that includes others: ticking it marks them.
	b.WriteString("<style>")
	for _, row := range t.Rows {
		for _, c := range row.Cells {
			if c != nil && len(c.ImpliedBy) > 0 {
				for _, by := range c.ImpliedBy {
					b.WriteString(".perm:has(#" + cssIdent(cellID(field, by)) + ":checked) ." + cssIdent("inc-"+field+"-"+c.Scope) + "{background:#e3fcef}")
					b.WriteString(".perm:has(#" + cssIdent(cellID(field, by)) + ":checked) ." + cssIdent("inc-"+field+"-"+c.Scope) + " .incl{display:block}")
				}
			}
		}
	}
	b.WriteString("</style>\n<div class=\"tablewrap\"><table class=\"permtable\">\n<thead><tr><th scope=\"col\">Resource</th>")
	for _, l := range t.Levels {
		b.Fill(`<th scope="col">%s</th>`, levelLabel(l))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.Rows {
		b.Fill(`<tr><th scope="row">%s</th>`, row.Label)
		for i, c := range row.Cells {
			if c == nil {
				b.WriteString(`<td class="none"><span class="visually-hidden">none</span></td>`)
				continue
			}
			b.Fill(`<td class="%s" data-level="%s">`, "inc-"+field+"-"+c.Scope, levelLabel(t.Levels[i]))
			b.Fill(`<label class="check"><input type="checkbox" id="%s" name="%s" value="%s"`, cellID(field, c.Scope), field, c.Scope)
			if slices.Contains(checked, c.Scope) {
				b.WriteString(" checked")
			}
			b.Fill(`> <span><span class="visually-hidden">%s: </span>%s</span></label>`, row.Label, c.Description)
			b.WriteString(`<span class="incl small">Included by a higher level</span>`)
			if len(c.Implies) > 0 {
				b.Fill(`<span class="small implies">Includes %s</span>`, strings.Join(c.Implies, "; "))
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n</fieldset>\n")
}

// cssIdent escapes s for a CSS identifier inside a <style> element: every
// byte but letters, digits, - and _ becomes a hex escape ("\\3c "), so no
// scope name (any printable ASCII, RFC 6749 §3.3) can end the element or
// the rule.
func cssIdent(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('\\')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			b.WriteByte(' ')
		}
	}
	return b.String()
}
