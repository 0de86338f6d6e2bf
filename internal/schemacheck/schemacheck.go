// Package schemacheck validates JSON documents against a small subset of
// JSON Schema (draft 2020-12), the one docs/status-schema.json uses, for
// the tests of hastctl's JSON output: type (one or several of object,
// array, string, integer, number, boolean, null), properties, required,
// items, enum and additionalProperties (a boolean). The annotations
// $schema, $id, $comment, title and description are allowed and ignored.
// A schema using any other keyword is refused when parsed, so that no
// constraint is silently skipped.
//
// It also checks a schema against a Go type (MatchType): the same fields,
// each of the matching JSON type, so that a field added to a Go output
// struct and not to the schema is caught even while no output holds it.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("does not match the schema")

// Schema is a parsed schema.
type Schema struct {
	root *node
}

// node is one schema object.
type node struct {
	types      []string // empty: any type
	properties map[string]*node
	required   []string
	items      *node
	enum       []any
	closed     bool // additionalProperties false
}

// annotations are the keywords that carry no constraint.
var annotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "title": true, "description": true}

// jsonTypes are the values of type.
var jsonTypes = []string{"object", "array", "string", "integer", "number", "boolean", "null"}

// Load reads and parses the schema at path.
func Load(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse parses a schema, refusing keywords outside the subset, and
// requires the draft 2020-12 $schema at the top.
func Parse(data []byte) (*Schema, error) {
	v, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("parse schema: not an object")
	}
	if m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("parse schema: $schema is %v, want draft 2020-12", m["$schema"])
	}
	root, err := parseNode(m, "#")
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	return &Schema{root: root}, nil
}

// decode parses JSON keeping numbers as json.Number and refusing
// trailing data.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// parseNode parses the schema object m found at path.
func parseNode(m map[string]any, path string) (*node, error) {
	n := &node{}
	for k, v := range m {
		at := path + "/" + k
		switch k {
		case "type":
			switch t := v.(type) {
			case string:
				n.types = []string{t}
			case []any:
				for _, e := range t {
					s, ok := e.(string)
					if !ok {
						return nil, fmt.Errorf("%s: not a string: %v", at, e)
					}
					n.types = append(n.types, s)
				}
			default:
				return nil, fmt.Errorf("%s: neither a string nor an array", at)
			}
			for _, t := range n.types {
				if !slices.Contains(jsonTypes, t) {
					return nil, fmt.Errorf("%s: unknown type %q", at, t)
				}
			}
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an object", at)
			}
			n.properties = map[string]*node{}
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s/%s: not a schema object", at, name)
				}
				child, err := parseNode(pm, at+"/"+name)
				if err != nil {
					return nil, err
				}
				n.properties[name] = child
			}
		case "required":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an array", at)
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: not a string: %v", at, e)
				}
				n.required = append(n.required, s)
			}
		case "items":
			im, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not a schema object", at)
			}
			child, err := parseNode(im, at)
			if err != nil {
				return nil, err
			}
			n.items = child
		case "enum":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s: not a non-empty array", at)
			}
			n.enum = list
		case "additionalProperties":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: only a boolean is supported", at)
			}
			n.closed = !b
		default:
			if !annotations[k] {
				return nil, fmt.Errorf("%s: keyword not supported by this validator", at)
			}
		}
	}
	for _, r := range n.required {
		if _, ok := n.properties[r]; !ok {
			return nil, fmt.Errorf("%s/required: %q is not among the properties", path, r)
		}
	}
	return n, nil
}

// Validate checks the JSON document data against the schema and returns
// every violation, each naming its place as a JSON pointer, joined in
// one error wrapping ErrInvalid.
func (s *Schema) Validate(data []byte) error {
	v, err := decode(data)
	if err != nil {
		return fmt.Errorf("parse document: %w", err)
	}
	var problems []string
	s.root.validate(v, "", &problems)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%s", ErrInvalid, strings.Join(problems, "\n"))
}

// validate appends to problems what is wrong with v at pointer.
func (n *node) validate(v any, pointer string, problems *[]string) {
	at := pointer
	if at == "" {
		at = "/"
	}
	fail := func(format string, args ...any) {
		*problems = append(*problems, at+": "+fmt.Sprintf(format, args...))
	}
	if len(n.types) > 0 && !slices.ContainsFunc(n.types, func(t string) bool { return isType(v, t) }) {
		fail("%s, want %s", describe(v), strings.Join(n.types, " or "))
		return
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(e any) bool { return equal(e, v) }) {
		fail("%s not among %v", describe(v), n.enum)
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range n.required {
			if _, ok := v[r]; !ok {
				fail("missing required property %q", r)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child, ok := n.properties[k]
			switch {
			case ok:
				child.validate(v[k], pointer+"/"+k, problems)
			case n.closed:
				fail("property %q is not in the schema", k)
			}
		}
	case []any:
		if n.items != nil {
			for i, e := range v {
				n.items.validate(e, pointer+"/"+strconv.Itoa(i), problems)
			}
		}
	}
}

// isType reports whether v, decoded with json.Number, is of JSON type t.
func isType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case map[string]any:
		return t == "object"
	case []any:
		return t == "array"
	case json.Number:
		if t == "number" {
			return true
		}
		if t != "integer" {
			return false
		}
		if _, err := v.Int64(); err == nil {
			return true
		}
		f, err := v.Float64()
		return err == nil && f == float64(int64(f))
	}
	return false
}

// equal compares two decoded JSON values, numbers by value.
func equal(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, err1 := an.Float64()
		bf, err2 := bn.Float64()
		return err1 == nil && err2 == nil && af == bf
	}
	return reflect.DeepEqual(a, b)
}

// describe names a value for a message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(v)
}

// MatchType checks that the schema describes the JSON encoding of Go type
// t exactly: every struct has the properties of its exported json fields
// (by their json names, none omitempty), all required, and no others,
// with additionalProperties false; pointers are nullable; slices are
// arrays of their element's schema; strings, integers, floats and
// booleans have their JSON types. It returns every mismatch.
func (s *Schema) MatchType(t reflect.Type) error {
	var problems []string
	s.root.match(t, "#", &problems)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: Go type %s:\n%s", ErrInvalid, t, strings.Join(problems, "\n"))
}

// match appends to problems where n does not describe Go type t.
func (n *node) match(t reflect.Type, path string, problems *[]string) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	want := []string(nil)
	elem := t
	if t.Kind() == reflect.Pointer {
		elem = t.Elem()
		want = append(want, "null")
	}
	switch elem.Kind() {
	case reflect.Struct:
		want = append(want, "object")
	case reflect.Slice, reflect.Array:
		want = append(want, "array")
	case reflect.String:
		want = append(want, "string")
	case reflect.Bool:
		want = append(want, "boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = append(want, "integer")
	case reflect.Float32, reflect.Float64:
		want = append(want, "number")
	default:
		fail("Go kind %s has no JSON type here", elem.Kind())
		return
	}
	if got := slices.Sorted(slices.Values(n.types)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		fail("type %v, want %v for Go type %s", n.types, want, t)
	}
	switch elem.Kind() {
	case reflect.Struct:
		if !n.closed {
			fail("additionalProperties is not false")
		}
		fields := map[string]bool{}
		for _, f := range jsonFields(elem) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
				fail("Go field %s.%s is %s: every field must always be present", elem.Name(), f.Name, opts)
			}
			fields[name] = true
			child, ok := n.properties[name]
			if !ok {
				fail("property %q (Go field %s.%s) is not in the schema", name, elem.Name(), f.Name)
				continue
			}
			if !slices.Contains(n.required, name) {
				fail("property %q is not required", name)
			}
			child.match(f.Type, path+"/properties/"+name, problems)
		}
		for name := range n.properties {
			if !fields[name] {
				fail("property %q is in the schema but not in Go type %s", name, elem.Name())
			}
		}
	case reflect.Slice, reflect.Array:
		if n.items == nil {
			fail("array without items")
			return
		}
		n.items.match(elem.Elem(), path+"/items", problems)
	}
}

// jsonFields returns the fields encoding/json encodes for struct type t:
// the exported ones not tagged "-", with the fields of embedded structs
// without a json name in their place.
func jsonFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, jsonFields(f.Type)...)
		case f.IsExported():
			out = append(out, f)
		}
	}
	return out
}
