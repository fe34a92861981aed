package pgstore_test

import (
	"testing"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	testDSN(t)
	tests := []struct {
		name string
		opts setupOpts
	}{
		{name: "with the defaults", opts: setupOpts{maxConns: 4}},
		{name: "with synchronous settles, each its own statement", opts: setupOpts{maxConns: 4, syncSettle: true, noBatching: true, noListener: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) sender.Store {
				return setup(t, tt.opts).store
			})
		})
	}
}
