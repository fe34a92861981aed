//go:build unix

package signature_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the process has used.
// Unlike wall time it does not grow while the process waits for a core, so
// ratios taken from it survive a machine shared with other work.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
