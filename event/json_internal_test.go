package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
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

func TestSpecialBytesFindsTheFirstSpecialByte(t *testing.T) {
	t.Parallel()
	naive := func(w [8]byte) int {
		for i, c := range w {
			if c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return 8
	}
	first := func(w [8]byte) int {
		m := specialBytes(binary.LittleEndian.Uint64(w[:]))
		if m == 0 {
			return 8
		}
		return bits.TrailingZeros64(m) >> 3
	}
	rng := rand.New(rand.NewPCG(1, 2))
	interesting := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa2, 0xdc, 0xff}
	for n := 0; n < 200000; n++ {
		var w [8]byte
		for i := range w {
			if rng.IntN(2) == 0 {
				w[i] = interesting[rng.IntN(len(interesting))]
			} else {
				w[i] = byte(rng.IntN(256))
			}
		}
		require.Equal(t, naive(w), first(w), "word % x", w)
	}
}

func TestSkipStringFindsSpecialBytesAtEveryOffset(t *testing.T) {
	t.Parallel()
	for _, special := range []string{`\n`, `\u00e9`, `\"`, `\\`, `\q`, `\u12`, "\x01", "\x1f", `\`, "é", "\x7f"} {
		for pos := 0; pos < 20; pos++ {
			s := `"` + strings.Repeat("a", pos) + special + strings.Repeat("b", 19-pos) + `"`
			got, err := skipString([]byte(s), 0)
			require.Equal(t, json.Valid([]byte(s)), err == nil, s)
			if err == nil {
				require.Equal(t, len(s), got, s)
			}
			// A quote inside ends the string there.
			q := `"` + strings.Repeat("a", pos) + `"` + strings.Repeat("b", 19-pos) + `"`
			got, err = skipString([]byte(q), 0)
			require.NoError(t, err, q)
			require.Equal(t, pos+2, got, q)
		}
	}
}
