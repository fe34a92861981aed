package event

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSchemaCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		schema  string
		data    string
		wantErr string // "" for a pass
	}{
		{"an empty schema accepts anything", `{}`, `{"a":[1]}`, ""},
		{"annotations alone accept anything", `{"title":"t","description":"d","examples":[{}]}`, `{"a":1}`, ""},
		{"enum matches numbers by value", `{"properties":{"n":{"enum":[1,2.5]}}}`, `{"n":1.0}`, ""},
		{"enum refuses a number not listed", `{"properties":{"n":{"enum":[1,2.5]}}}`, `{"n":3}`, "/n: must be one of [1,2.5]"},
		{"enum matches objects and arrays structurally", `{"properties":{"o":{"enum":[{"a":[1,{"b":null}]}]}}}`, `{"o":{"a":[1,{"b":null}]}}`, ""},
		{"enum refuses an object with another value", `{"properties":{"o":{"enum":[{"a":[1]}]}}}`, `{"o":{"a":[2]}}`, "must be one of"},
		{"enum refuses an object with an extra key", `{"properties":{"o":{"enum":[{"a":1}]}}}`, `{"o":{"a":1,"b":2}}`, "must be one of"},
		{"enum refuses an array of another length", `{"properties":{"o":{"enum":[[1]]}}}`, `{"o":[1,1]}`, "must be one of"},
		{"enum does not confuse a string with a number", `{"properties":{"o":{"enum":["1"]}}}`, `{"o":1}`, "must be one of"},
		{"const matches", `{"properties":{"v":{"const":true}}}`, `{"v":true}`, ""},
		{"const refuses another value", `{"properties":{"v":{"const":true}}}`, `{"v":false}`, "/v: must be true"},
		{"a nested required property is checked", `{"properties":{"a":{"type":"object","required":["b"]}}}`, `{"a":{}}`, `/a: required property "b" is missing`},
		{"additionalProperties as a schema checks the extra values", `{"additionalProperties":{"type":"string"}}`, `{"x":"1","y":2}`, "/y: must be string, got integer"},
		{"JSON pointer segments are escaped", `{"properties":{"a/b~c":{"type":"string"}}}`, `{"a/b~c":1}`, "/a~1b~0c: must be string"},
		{"minLength counts characters, not bytes", `{"properties":{"s":{"minLength":2}}}`, `{"s":"é"}`, "at least 2 characters, is 1"},
		{"maxItems passes at the bound", `{"properties":{"l":{"maxItems":2}}}`, `{"l":[1,2]}`, ""},
		{"minItems refuses below the bound", `{"properties":{"l":{"minItems":2}}}`, `{"l":[1]}`, "at least 2 items"},
		{"maximum passes at the bound", `{"properties":{"n":{"maximum":10}}}`, `{"n":10}`, ""},
		{"maximum refuses above the bound", `{"properties":{"n":{"maximum":10}}}`, `{"n":10.0001}`, "/n: must be <= 10"},
		{"big integers compare exactly", `{"properties":{"n":{"maximum":9007199254740993}}}`, `{"n":9007199254740994}`, "must be <="},
		{"a huge exponent is compared quickly", `{"properties":{"n":{"maximum":1}}}`, `{"n":1e999999999}`, "/n: must be <= 1"},
		{"a tiny exponent is compared quickly", `{"properties":{"n":{"maximum":1}}}`, `{"n":1e-999999999}`, ""},
		{"an out-of-range number fails a bound instead of skipping it", `{"properties":{"n":{"maximum":1}}}`, `{"n":1e99999999999999999999}`, "/n: number out of range"},
		{"the top-level type is checked", `{"type":"array"}`, `{}`, "/: must be array, got object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := compileSchema(json.RawMessage(tt.schema))
			require.NoError(t, err)
			err = s.validateJSON([]byte(tt.data))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCompileSchemaRefusesWhatItCannotCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		schema  string
		wantErr string
	}{
		{"$ref is refused", `{"properties":{"a":{"$ref":"#/$defs/a"}}}`, `#/properties/a: keyword "$ref" is not supported`},
		{"patternProperties is refused", `{"patternProperties":{}}`, `keyword "patternProperties" is not supported`},
		{"a schema that is a number is refused", `{"properties":{"a":1}}`, "must be an object or a boolean"},
		{"a negative minLength is refused", `{"minLength":-1}`, "non-negative integer"},
		{"a string minimum is refused", `{"minimum":"1"}`, "must be a number"},
		{"an empty enum is refused", `{"enum":[]}`, "non-empty array"},
		{"an empty anyOf is refused", `{"anyOf":[]}`, "non-empty array of schemas"},
		{"required with a number is refused", `{"required":[1]}`, "array of strings"},
		{"a type that is a number is refused", `{"type":1}`, "string or an array of strings"},
		{"properties that are not an object are refused", `{"properties":[]}`, "must be an object"},
		{"a non-string pattern is refused", `{"pattern":1}`, "must be a string"},
		{"trailing data is refused", `{} {}`, "after the top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileSchema(json.RawMessage(tt.schema))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
