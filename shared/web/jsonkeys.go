package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// checkKeys walks the JSON document data alongside the Go type t it is
// decoded into and refuses what encoding/json accepts silently: a key
// repeated in one object (the last one would win) and, where an object is
// decoded into a struct, a key that differs from a field's name only by
// letter case (encoding/json matches names case-insensitively, so
// {"name":"x","NAME":"y"} would set name to "y"). The error names the key
// and is safe to show to clients. data must be valid JSON (DecodeJSON has
// decoded it already).
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkValue(dec, t)
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walkValue reads one JSON value from dec; t is the type it decodes into,
// nil when unknown (an interface, a map value of any, a type with its own
// UnmarshalJSON), where only repeated keys are checked.
func walkValue(dec *json.Decoder, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		t = nil
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON")
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ]
		return err
	}
	return nil
}

// walkObject reads the members of an object whose '{' has been read.
func walkObject(dec *json.Decoder, t reflect.Type) error {
	var fields map[string]reflect.Type // exact JSON name -> type, for a struct
	var elem reflect.Type              // value type, for a map
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = structFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("key %q is repeated", key)
		}
		seen[key] = true
		vt := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return fmt.Errorf("key %q differs from the field %q only by letter case", key, name)
					}
				}
			}
			vt = ft // nil for an unknown key (DisallowUnknownFields refused it already)
		}
		if err := walkValue(dec, vt); err != nil {
			return err
		}
	}
	_, err := dec.Token() // }
	return err
}

// structFields maps the JSON names of t's fields (as encoding/json names
// them, embedded structs' fields promoted) to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				continue // its fields are promoted (VisibleFields lists them)
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := out[name]; !dup || len(f.Index) == 1 {
			out[name] = f.Type
		}
	}
	return out
}
