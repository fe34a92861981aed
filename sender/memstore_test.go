package sender_test

import (
	"testing"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) sender.Store {
		return sender.NewMemoryStore(sender.MemoryStoreConfig{})
	})
}
