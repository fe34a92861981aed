package sender

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (dispatchers, workers, HTTP
// connections): every Run must end with Shutdown.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
