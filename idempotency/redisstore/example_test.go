package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
)

// Every receiver replica pointing at the same Redis (and prefix) shares the
// dedupe state.
func Example() {
	ctx := context.Background()
	opts, err := redis.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		panic(err)
	}
	client := redis.NewClient(opts) // or redis.NewClusterClient: keys are hash-tagged
	defer client.Close()

	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "myapp:webhooks:"})
	if err != nil {
		panic(err)
	}

	c, err := store.Claim(ctx, "evt_123", time.Minute)
	switch {
	case err != nil:
		// Redis is unreachable: nothing was claimed. Answer 503 so the
		// sender retries; never acknowledge an event you did not record.
		fmt.Println("503:", err)
	case c.State == idempotency.Claimed:
		// ... process the event ...
		if err := store.Complete(ctx, "evt_123", c.Token, 0); err != nil { // kept 72 h
			fmt.Println("lost the claim:", err)
		}
	default:
		fmt.Println("duplicate:", c.State)
	}
}
