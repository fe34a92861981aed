package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// schema is a compiled subset of JSON Schema (draft 2020-12 vocabulary),
// enough to describe and check webhook payloads:
//
//	type (string or array of "object", "array", "string", "number",
//	"integer", "boolean", "null"), properties, required,
//	additionalProperties (boolean or schema), items (schema), enum, const,
//	minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
//	exclusiveMaximum, minItems, maxItems, allOf, anyOf, oneOf, not.
//
// Annotations (title, description, examples, format, $schema, $id, $comment,
// default, deprecated, readOnly, writeOnly) are accepted and ignored. Any
// other keyword — $ref in particular — is refused at registration, so a
// schema never silently checks less than its author believes.
type schema struct {
	bare                     bool // true or {}: accepts everything
	never                    bool // false: accepts nothing
	types                    []string
	properties               map[string]*schema
	propOrder                []string
	required                 []string
	additional               *schema // nil: allowed
	items                    *schema
	enum                     []any
	hasConst                 bool
	constV                   any
	minLength, maxLength     int
	pattern                  *regexp.Regexp
	minimum, maximum         *big.Float
	exclMinimum, exclMaximum *big.Float
	minItems, maxItems       int
	allOf, anyOf, oneOf      []*schema
	not                      *schema
}

var schemaAnnotations = map[string]bool{
	"title": true, "description": true, "examples": true, "format": true, "$schema": true,
	"$id": true, "$comment": true, "default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// compileSchema parses a schema document.
func compileSchema(doc json.RawMessage) (*schema, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("schema has data after the top-level value")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("schema must be a JSON object")
	}
	return compileNode(v, "#")
}

func compileNode(v any, path string) (*schema, error) {
	switch v := v.(type) {
	case bool:
		if v {
			return &schema{bare: true}, nil
		}
		return &schema{never: true}, nil
	case map[string]any:
		return compileObject(v, path)
	default:
		return nil, fmt.Errorf("%s: a schema must be an object or a boolean", path)
	}
}

func compileObject(m map[string]any, path string) (*schema, error) {
	s := &schema{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ignored := 0
	for _, k := range keys {
		v := m[k]
		at := path + "/" + k
		var err error
		switch k {
		case "type":
			s.types, err = compileTypes(v, at)
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: must be an object", at)
			}
			s.properties = make(map[string]*schema, len(props))
			for name, pv := range props {
				if s.properties[name], err = compileNode(pv, at+"/"+name); err != nil {
					return nil, err
				}
				s.propOrder = append(s.propOrder, name)
			}
			sort.Strings(s.propOrder)
		case "required":
			s.required, err = stringList(v, at)
		case "additionalProperties":
			s.additional, err = compileNode(v, at)
		case "items":
			s.items, err = compileNode(v, at)
		case "enum":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s: must be a non-empty array", at)
			}
			s.enum = list
		case "const":
			s.hasConst, s.constV = true, v
		case "minLength":
			s.minLength, err = nonNegInt(v, at)
		case "maxLength":
			s.maxLength, err = nonNegInt(v, at)
		case "minItems":
			s.minItems, err = nonNegInt(v, at)
		case "maxItems":
			s.maxItems, err = nonNegInt(v, at)
		case "pattern":
			p, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: must be a string", at)
			}
			if s.pattern, err = regexp.Compile(p); err != nil {
				return nil, fmt.Errorf("%s: %w", at, err)
			}
		case "minimum":
			s.minimum, err = number(v, at)
		case "maximum":
			s.maximum, err = number(v, at)
		case "exclusiveMinimum":
			s.exclMinimum, err = number(v, at)
		case "exclusiveMaximum":
			s.exclMaximum, err = number(v, at)
		case "allOf", "anyOf", "oneOf":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s: must be a non-empty array of schemas", at)
			}
			subs := make([]*schema, len(list))
			for i, sv := range list {
				if subs[i], err = compileNode(sv, at+"/"+strconv.Itoa(i)); err != nil {
					return nil, err
				}
			}
			switch k {
			case "allOf":
				s.allOf = subs
			case "anyOf":
				s.anyOf = subs
			default:
				s.oneOf = subs
			}
		case "not":
			s.not, err = compileNode(v, at)
		default:
			if !schemaAnnotations[k] {
				return nil, fmt.Errorf("%s: keyword %q is not supported (supported: type, properties, required, additionalProperties, items, enum, const, minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minItems, maxItems, allOf, anyOf, oneOf, not)", path, k)
			}
			ignored++
		}
		if err != nil {
			return nil, err
		}
	}
	s.bare = len(m) == ignored
	return s, nil
}

var schemaTypes = map[string]bool{"object": true, "array": true, "string": true, "number": true, "integer": true, "boolean": true, "null": true}

func compileTypes(v any, at string) ([]string, error) {
	var list []string
	switch v := v.(type) {
	case string:
		list = []string{v}
	case []any:
		var err error
		if list, err = stringList(v, at); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: must be a string or an array of strings", at)
	}
	for _, t := range list {
		if !schemaTypes[t] {
			return nil, fmt.Errorf("%s: unknown type %q", at, t)
		}
	}
	return list, nil
}

func stringList(v any, at string) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be an array of strings", at)
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s: must be an array of strings", at)
		}
		out[i] = s
	}
	return out, nil
}

func nonNegInt(v any, at string) (int, error) {
	n, ok := v.(json.Number)
	if ok {
		if i, err := strconv.Atoi(n.String()); err == nil && i >= 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s: must be a non-negative integer", at)
}

func number(v any, at string) (*big.Float, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%s: must be a number", at)
	}
	f, _, err := big.ParseFloat(n.String(), 10, 256, big.ToNearestEven)
	if err != nil {
		return nil, fmt.Errorf("%s: must be a number: %w", at, err)
	}
	return f, nil
}

// validateJSON decodes data (a JSON document) and checks it against s.
func (s *schema) validateJSON(data []byte) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	return s.check(v, "")
}

// check validates v (as decoded with UseNumber) and returns the first
// violation, naming its JSON pointer.
func (s *schema) check(v any, ptr string) error {
	if s.bare {
		return nil
	}
	at := ptr
	if at == "" {
		at = "/"
	}
	if s.never {
		return fmt.Errorf("%s: not allowed by the schema", at)
	}
	if len(s.types) > 0 && !typeMatches(s.types, v) {
		return fmt.Errorf("%s: must be %s, got %s", at, strings.Join(s.types, " or "), typeOf(v))
	}
	if s.enum != nil {
		found := false
		for _, e := range s.enum {
			if jsonEqual(e, v) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: must be one of %s", at, compactJSON(s.enum))
		}
	}
	if s.hasConst && !jsonEqual(s.constV, v) {
		return fmt.Errorf("%s: must be %s", at, compactJSON(s.constV))
	}
	switch v := v.(type) {
	case map[string]any:
		for _, name := range s.required {
			if _, ok := v[name]; !ok {
				return fmt.Errorf("%s: required property %q is missing", at, name)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := s.properties[k]
			if !ok {
				sub = s.additional
				if sub == nil {
					continue
				}
				if sub.never {
					return fmt.Errorf("%s: property %q is not allowed (allowed: %s)", at, k, strings.Join(s.propOrder, ", "))
				}
			}
			if err := sub.check(v[k], ptr+"/"+escapePointer(k)); err != nil {
				return err
			}
		}
	case []any:
		if s.minItems >= 0 && len(v) < s.minItems {
			return fmt.Errorf("%s: must have at least %d items, has %d", at, s.minItems, len(v))
		}
		if s.maxItems >= 0 && len(v) > s.maxItems {
			return fmt.Errorf("%s: must have at most %d items, has %d", at, s.maxItems, len(v))
		}
		if s.items != nil {
			for i, x := range v {
				if err := s.items.check(x, ptr+"/"+strconv.Itoa(i)); err != nil {
					return err
				}
			}
		}
	case string:
		n := utf8.RuneCountInString(v)
		if s.minLength >= 0 && n < s.minLength {
			return fmt.Errorf("%s: must be at least %d characters, is %d", at, s.minLength, n)
		}
		if s.maxLength >= 0 && n > s.maxLength {
			return fmt.Errorf("%s: must be at most %d characters, is %d", at, s.maxLength, n)
		}
		if s.pattern != nil && !s.pattern.MatchString(v) {
			return fmt.Errorf("%s: must match the pattern %q", at, s.pattern.String())
		}
	case json.Number:
		hasBound := s.minimum != nil || s.maximum != nil || s.exclMinimum != nil || s.exclMaximum != nil
		f, _, err := big.ParseFloat(v.String(), 10, 256, big.ToNearestEven)
		if err != nil && hasBound {
			return fmt.Errorf("%s: number out of range", at)
		}
		if err == nil {
			if s.minimum != nil && f.Cmp(s.minimum) < 0 {
				return fmt.Errorf("%s: must be >= %s", at, s.minimum.Text('g', -1))
			}
			if s.maximum != nil && f.Cmp(s.maximum) > 0 {
				return fmt.Errorf("%s: must be <= %s", at, s.maximum.Text('g', -1))
			}
			if s.exclMinimum != nil && f.Cmp(s.exclMinimum) <= 0 {
				return fmt.Errorf("%s: must be > %s", at, s.exclMinimum.Text('g', -1))
			}
			if s.exclMaximum != nil && f.Cmp(s.exclMaximum) >= 0 {
				return fmt.Errorf("%s: must be < %s", at, s.exclMaximum.Text('g', -1))
			}
		}
	}
	for _, sub := range s.allOf {
		if err := sub.check(v, ptr); err != nil {
			return err
		}
	}
	if s.anyOf != nil {
		ok := false
		for _, sub := range s.anyOf {
			if sub.check(v, ptr) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%s: matches none of the anyOf schemas", at)
		}
	}
	if s.oneOf != nil {
		n := 0
		for _, sub := range s.oneOf {
			if sub.check(v, ptr) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: must match exactly one of the oneOf schemas, matches %d", at, n)
		}
	}
	if s.not != nil && s.not.check(v, ptr) == nil {
		return fmt.Errorf("%s: matches a schema it must not match (not)", at)
	}
	return nil
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func typeOf(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case json.Number:
		if isInteger(v) {
			return "integer"
		}
		return "number"
	default:
		return reflect.TypeOf(v).String()
	}
}

func isInteger(n json.Number) bool {
	f, _, err := big.ParseFloat(n.String(), 10, 256, big.ToNearestEven)
	return err == nil && f.IsInt()
}

func typeMatches(types []string, v any) bool {
	got := typeOf(v)
	for _, t := range types {
		if t == got || (t == "number" && got == "integer") {
			return true
		}
	}
	return false
}

// jsonEqual compares two values decoded with UseNumber; numbers compare by
// value (1 equals 1.0).
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		fa, _, err1 := big.ParseFloat(a.String(), 10, 256, big.ToNearestEven)
		fb, _, err2 := big.ParseFloat(bn.String(), 10, 256, big.ToNearestEven)
		return err1 == nil && err2 == nil && fa.Cmp(fb) == 0
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bl[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
