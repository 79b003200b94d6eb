// Command reflectmethod executes an html/template template: the positive
// control of TestNoReflectMethod (its evaluator calls methods by name).
package main

import (
	"html/template"
	"os"
)

func main() {
	t := template.Must(template.New("page").Parse(`<p>{{.}}</p>`))
	_ = t.Execute(os.Stdout, "hello")
}
