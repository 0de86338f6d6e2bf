package schemacheck

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "t",
  "type": "object",
  "properties": {
    "v": {"type": "integer", "enum": [1]},
    "mode": {"type": "string", "enum": ["a", "b"]},
    "list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": false}},
    "opt": {"type": ["object", "null"], "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}
  },
  "required": ["v", "mode", "list", "opt"],
  "additionalProperties": false
}`

func TestValidate(t *testing.T) {
	s, err := Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	for _, good := range []string{
		`{"v": 1, "mode": "a", "list": [], "opt": null}`,
		`{"v": 1.0, "mode": "b", "list": [{"n": 3}], "opt": {"ok": true}}`,
	} {
		if err := s.Validate([]byte(good)); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, c := range []struct{ doc, problem string }{
		{`{"v": 2, "mode": "a", "list": [], "opt": null}`, "/v: 2 not among [1]"},
		{`{"v": 1, "mode": "c", "list": [], "opt": null}`, `/mode: "c" not among`},
		{`{"v": 1, "mode": "a", "list": [{"n": 1.5}], "opt": null}`, "/list/0/n: 1.5, want integer"},
		{`{"v": 1, "mode": "a", "list": [{}], "opt": null}`, `/list/0: missing required property "n"`},
		{`{"v": 1, "mode": "a", "list": [], "opt": {"ok": true, "extra": 1}}`, `/opt: property "extra" is not in the schema`},
		{`{"v": 1, "mode": "a", "list": []}`, `/: missing required property "opt"`},
		{`{"v": 1, "mode": "a", "list": {}, "opt": null}`, "/list: an object, want array"},
		{`{"v": 1, "mode": "a", "list": [], "opt": null, "new": 0}`, `/: property "new" is not in the schema`},
	} {
		err := s.Validate([]byte(c.doc))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.problem) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.problem)
		}
	}
}

func TestParseRefusesUnsupportedKeywords(t *testing.T) {
	for _, bad := range []string{
		`{"type": "object"}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "minProperties": 1}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string", "pattern": "x"}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": {}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["x"]}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "thing"}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse accepted %s", bad)
		}
	}
}

func TestMatchType(t *testing.T) {
	s, err := Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		N int `json:"n"`
	}
	type opt struct {
		OK bool `json:"ok"`
	}
	type doc struct {
		V    int    `json:"v"`
		Mode string `json:"mode"`
		List []item `json:"list"`
		Opt  *opt   `json:"opt"`
	}
	if err := s.MatchType(reflect.TypeOf(doc{})); err != nil {
		t.Fatal(err)
	}
	type extra struct {
		doc
		New string `json:"new"`
	}
	if err := s.MatchType(reflect.TypeOf(extra{})); err == nil || strings.Contains(err.Error(), `"mode"`) {
		t.Errorf("embedded fields not seen: %v", err)
	}
	type missing struct {
		V    int    `json:"v"`
		Mode string `json:"mode,omitempty"`
		List []item `json:"list"`
		Opt  opt    `json:"opt"`
	}
	for _, c := range []struct {
		typ     reflect.Type
		problem string
	}{
		{reflect.TypeOf(extra{}), `property "new"`},
		{reflect.TypeOf(missing{}), "omitempty"},
		{reflect.TypeOf(missing{}), "type [object null], want [object]"},
	} {
		if err := s.MatchType(c.typ); err == nil || !strings.Contains(err.Error(), c.problem) {
			t.Errorf("MatchType(%s): %v, want %q", c.typ, err, c.problem)
		}
	}
}
