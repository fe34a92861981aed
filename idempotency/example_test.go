package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// A consumer claims an event id before processing it, completes it when done
// and releases it when it gives up, so that a redelivery can try again.
func Example() {
	ctx := context.Background()
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	defer store.Close()

	process := func(eventID string, fail bool) {
		c, err := store.Claim(ctx, eventID, 30*time.Second)
		if err != nil {
			fmt.Println(eventID, "store error, answer 503:", err)
			return
		}
		switch c.State {
		case idempotency.Done:
			fmt.Println(eventID, "duplicate, already processed")
			return
		case idempotency.InProgress:
			fmt.Println(eventID, "being processed elsewhere")
			return
		}
		if fail {
			// Give the key back so that the sender's retry is processed.
			if err := store.Release(ctx, eventID, c.Token); err != nil {
				fmt.Println(eventID, "release:", err)
			}
			fmt.Println(eventID, "failed, released")
			return
		}
		// Remember the key for the default retention (72 h).
		if err := store.Complete(ctx, eventID, c.Token, 0); err != nil {
			if errors.Is(err, idempotency.ErrNotOwner) || errors.Is(err, idempotency.ErrNotFound) {
				fmt.Println(eventID, "lease lost while processing")
			}
			return
		}
		fmt.Println(eventID, "processed")
	}

	process("evt_1", false)
	process("evt_1", false) // the sender retried
	process("evt_2", true)
	process("evt_2", false) // the redelivery after the release

	// Output:
	// evt_1 processed
	// evt_1 duplicate, already processed
	// evt_2 failed, released
	// evt_2 processed
}

// Two workers race for the same event: only one gets to process it.
func ExampleMemoryStore_Claim() {
	ctx := context.Background()
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	defer store.Close()

	first, _ := store.Claim(ctx, "evt_42", time.Minute)
	second, _ := store.Claim(ctx, "evt_42", time.Minute)
	fmt.Println(first.State, second.State)

	err := store.Complete(ctx, "evt_42", "someone-else", 0)
	fmt.Println(errors.Is(err, idempotency.ErrNotOwner))

	// Output:
	// claimed in_progress
	// true
}
