package hostile_test

import (
	"io"
	"log/slog"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/signature"
)

// TestMain checks that no test leaves a goroutine behind: every receiver and
// sender is shut down, every server closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// heapInuse returns HeapInuse after two garbage collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

const mib = 1 << 20

// signatureSecret returns a new whsec_ secret.
func signatureSecret() (string, error) { return signature.GenerateSecret() }
