//go:build !unix

package signature_test

import "time"

// processCPU is not available here; the cpu-ns/op metric is then omitted.
func processCPU() time.Duration { return 0 }
