package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `1E+2`, `true`, `false`, `null`, ` {"a" : [1, 2.0, "x", {"b": null}]} `,
	`"\u00e9\n\t\"\\\/\b\f\r"`, `{"a":}`, `{"a" 1}`, `{,}`, `[1,]`, `[,1]`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`,
	`+1`, `tru`, `nul`, `"abc`, `"\u12"`, `"\q"`, "\"\x01\"", `{"a":1}}`, `{} {}`, `[`, `{`, `{"a"`, `{"a":`,
	`[1 2]`, `{"a":1 "b":2}`, "\t\r\n[ ]\t", `"\ud800"`, `1.0e10`, `-12.34E-56`, `[[[[]]]]`, `{"":{"":{}}}`, `NaN`,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range jsonSeeds {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, json.Valid([]byte(s)), validJSON([]byte(s)) == nil)
		})
	}
}

func TestValidJSONLimitsNesting(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	require.NoError(t, validJSON([]byte(ok)))
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	require.ErrorIs(t, validJSON([]byte(deep)), errTooDeep)
}

// FuzzValidJSON checks the hand-written scanner against encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := validJSON(b)
		if errors.Is(err, errTooDeep) {
			return
		}
		if got, want := err == nil, json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, err, want)
		}
	})
}

func TestStringLenMatchesAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", `"\`, "<>&", "\x00\x1f\n\r\t\b\f", "https://x/?a=1&b=2"} {
		require.Len(t, appendString(nil, s), stringLen(s), s)
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, s)), "same escaping as encoding/json")
	}
}
