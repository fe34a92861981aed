package hostile_test

import (
	"encoding/base64"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/signature"
)

// How signature comparison is constant time (see also signature/standard.go, "Timing"):
//
//   - Every MAC comparison in package signature is hmac.Equal (crypto/subtle's
//     ConstantTimeCompare underneath), which examines every byte of equal-length inputs
//     whatever the position of the first difference.
//   - A v1 entry is compared only once it is exactly 44 base64 characters decoding to 32
//     bytes, held in a fixed-size stack buffer, against the 32-byte computed MAC: the two
//     inputs always have the same length. Entries of another length are skipped before any
//     comparison (their length is visible on the wire anyway).
//   - The MAC is computed once per key, before the first comparison, whatever the entries
//     hold; each of the first MaxEntries entries (10 by default; malformed and unknown
//     versions count) is examined, so a 1,000-entry header costs what a 10-entry one does.
//
// TestConstantTimeComparisonIsStructural checks the first two points in the source,
// TestVerificationWorkIsIndependentOfPrefixMatch the last through the public API, and
// BenchmarkVerifyPrefixMatch measures it (figures in RELIABILITY.md).

// vector is the Standard Webhooks shared test vector.
var vector = struct{ secret, id, ts, body, sig string }{
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
	`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}

func vectorVerifier(tb testing.TB) *signature.StandardVerifier {
	tb.Helper()
	ts, err := strconv.ParseInt(vector.ts, 10, 64)
	require.NoError(tb, err)
	v, err := signature.NewVerifier(signature.VerifierConfig{
		Keys: signature.MustKeyring(vector.secret),
		Now:  func() time.Time { return time.Unix(ts, 0) },
	})
	require.NoError(tb, err)
	return v
}

// forged returns a v1 entry whose first n bytes equal the vector's MAC and whose others
// differ in every bit (n = 32 is the genuine signature).
func forged(tb testing.TB, n int) string {
	tb.Helper()
	mac, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vector.sig, "v1,"))
	require.NoError(tb, err)
	require.Len(tb, mac, 32)
	for i := n; i < len(mac); i++ {
		mac[i] ^= 0xff
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac)
}

// TestConstantTimeComparisonIsStructural reads package signature's source: every MAC
// comparison is hmac.Equal, nothing compares bytes with an early-exit function, and the
// Standard Webhooks comparison takes a fixed-length slice of a fixed-size buffer.
//
//	go test -race -run TestConstantTimeComparisonIsStructural -v ./internal/hostile/
func TestConstantTimeComparisonIsStructural(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "signature", "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	var equals []string
	forbidden := map[string]bool{"bytes.Equal": true, "bytes.Compare": true, "strings.Compare": true, "reflect.DeepEqual": true, "slices.Equal": true}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		// Fixed-size arrays declared in the file (var x [N]byte).
		arrays := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				if at, ok := vs.Type.(*ast.ArrayType); ok && at.Len != nil {
					for _, id := range vs.Names {
						arrays[id.Name] = true
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			fn := pkg.Name + "." + sel.Sel.Name
			pos := fset.Position(call.Pos())
			require.False(t, forbidden[fn], "%s: %s is not constant time; use hmac.Equal", pos, fn)
			if fn != "hmac.Equal" {
				return true
			}
			equals = append(equals, fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line))
			if filepath.Base(pos.Filename) == "standard.go" {
				se, ok := call.Args[0].(*ast.SliceExpr)
				require.True(t, ok, "%s: the decoded entry is a slice of a fixed buffer", pos)
				id, ok := se.X.(*ast.Ident)
				require.True(t, ok && arrays[id.Name], "%s: %s is a fixed-size array", pos, id)
				require.Nil(t, se.Low, pos)
				require.NotNil(t, se.High, "%s: a fixed length is compared", pos)
			}
			return true
		})
	}
	require.GreaterOrEqual(t, len(equals), 3, "Standard Webhooks, Stripe and the generic/provider verifiers compare with hmac.Equal")
	t.Logf("MAC comparisons in package signature: hmac.Equal at %v; no early-exit comparison", equals)
}

// TestVerificationWorkIsIndependentOfPrefixMatch: for forged entries matching 0 to 31 bytes
// of the MAC, the verifier answers the same error, allocates the same (nothing), and examines
// the same entries: a genuine entry after nine forgeries of any kind verifies (every
// forgery was examined and the verification went on), after ten it is ignored (the cap), and
// a 1,000-entry header is refused as cheaply as a 10-entry one.
//
//	go test -race -run TestVerificationWorkIsIndependentOfPrefixMatch -v ./internal/hostile/
//
// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestVerificationWorkIsIndependentOfPrefixMatch(t *testing.T) {
	v := vectorVerifier(t)
	body := []byte(vector.body)
	var firstErr string
	for n := 0; n < 32; n++ {
		sig := forged(t, n)
		err := v.VerifyParts(vector.id, vector.ts, sig, body)
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature, "%d matching bytes", n)
		if n == 0 {
			firstErr = err.Error()
		}
		require.Equal(t, firstErr, err.Error(), "the error does not depend on how much matched")

		nine := strings.TrimSpace(strings.Repeat(sig+" ", signature.DefaultMaxEntries-1))
		require.NoError(t, v.VerifyParts(vector.id, vector.ts, nine+" "+vector.sig, body),
			"the genuine entry at position %d after forgeries matching %d bytes", signature.DefaultMaxEntries, n)
		ten := nine + " " + sig
		require.ErrorIs(t, v.VerifyParts(vector.id, vector.ts, ten+" "+vector.sig, body), signature.ErrNoMatchingSignature,
			"the genuine entry at position %d is past the cap", signature.DefaultMaxEntries+1)
	}
	// 1,000 entries, the genuine one last: refused, and no allocation whatever the forgeries.
	allocs := map[int]float64{}
	for _, n := range []int{0, 16, 31} {
		huge := strings.Repeat(forged(t, n)+" ", 999) + vector.sig
		require.ErrorIs(t, v.VerifyParts(vector.id, vector.ts, huge, body), signature.ErrNoMatchingSignature)
		sig := forged(t, n)
		allocs[n] = testing.AllocsPerRun(100, func() { _ = v.VerifyParts(vector.id, vector.ts, sig, body) })
	}
	if !raceEnabled {
		require.Equal(t, map[int]float64{0: 0, 16: 0, 31: 0}, allocs, "allocations per verify")
	}
	t.Logf("prefix match 0..31 bytes: same error %q, allocations %v, genuine entry accepted at position %d and ignored at %d",
		firstErr, allocs, signature.DefaultMaxEntries, signature.DefaultMaxEntries+1)
}

// BenchmarkVerifyPrefixMatch verifies the Standard Webhooks test vector against a signature
// header whose single v1 entry matches the first 0, 16, 31 or 32 (genuine) bytes of the MAC.
// ns/op is the same within noise: the comparison does not stop at the first difference.
// match=31,entries=1000 shows a 1,000-entry header of forgeries costs about ten entries' work.
//
//	go test -run '^$' -bench BenchmarkVerifyPrefixMatch -benchtime 200000x -count 5 ./internal/hostile/
func BenchmarkVerifyPrefixMatch(b *testing.B) {
	v := vectorVerifier(b)
	body := []byte(vector.body)
	for _, n := range []int{0, 16, 31, 32} {
		sig := forged(b, n)
		b.Run(fmt.Sprintf("match=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				err := v.VerifyParts(vector.id, vector.ts, sig, body)
				if (err == nil) != (n == 32) {
					b.Fatalf("%d matching bytes: %v", n, err)
				}
			}
		})
	}
	// A 1,000-entry header of forgeries: only the first MaxEntries are examined.
	huge := strings.TrimSpace(strings.Repeat(forged(b, 31)+" ", 1000))
	b.Run("match=31,entries=1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v.VerifyParts(vector.id, vector.ts, huge, body) == nil {
				b.Fatal("a forgery verified")
			}
		}
	})
}
