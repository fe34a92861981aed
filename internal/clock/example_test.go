package clock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/internal/clock"
)

// A test drives code that waits, without sleeping: wait until it has armed its timer, then
// move the fake time forward.
func ExampleFake() {
	f := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	done := make(chan error)
	go func() { done <- clock.Sleep(context.Background(), f, time.Hour) }()

	f.BlockUntil(1) // the goroutine is now waiting on its timer
	f.Advance(time.Hour)
	fmt.Println(<-done, f.Now().Format(time.Kitchen))
	// Output: <nil> 1:00AM
}
