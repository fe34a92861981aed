package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// normalize drops indentation and blank lines, so that the README may indent
// differently from gofmt.
func normalize(s string) string {
	var out []string
	for line := range strings.Lines(s) {
		if l := strings.TrimSpace(line); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestREADMEGoBlocksAreTheCodeOfThisPackage(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	var code strings.Builder
	for _, f := range []string{"send.go", "receive.go", "exactlyonce.go"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		code.Write(b)
	}
	all := normalize(code.String())
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 2, "README.md has a sending and a receiving example")
	for _, b := range blocks {
		require.Contains(t, all, normalize(b[1]), "this README block differs from examples/readme: change both")
	}
}
