package pgstore_test

import (
	"testing"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.Run(t, func(t *testing.T) sender.Store {
		return setup(t, setupOpts{maxConns: 4}).store
	})
}
