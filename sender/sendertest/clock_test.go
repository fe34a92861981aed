package sendertest_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/sendertest"
)

func TestClockDrivesASendersRetriesWithoutSleeping(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := sendertest.NewClock(start)
	s, err := sender.New(sender.Config{
		Clock:                clk,
		AllowPrivateNetworks: true,
		Policy:               retry.Schedule{Delays: []time.Duration{0, time.Hour}},
		Logger:               slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{secret}, Now: clk.Now}, sendertest.Status(http.StatusInternalServerError, 1))
	_, err = s.CreateEndpoint(t.Context(), sender.Endpoint{ID: "ep_1", URL: ep.URL, Keys: []sender.EndpointKey{{Secret: secret}}})
	require.NoError(t, err)

	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, s.Shutdown(context.Background()))
		require.NoError(t, <-runErr)
	})

	e, err := event.New("invoice.paid", map[string]int{"n": 1})
	require.NoError(t, err)
	res, err := s.Publish(t.Context(), e)
	require.NoError(t, err)
	id := res.Deliveries[0].ID
	waitFor := func(cond func(sender.Delivery) bool) sender.Delivery {
		var d sender.Delivery
		require.Eventually(t, func() bool {
			d, err = s.GetDelivery(context.Background(), id)
			require.NoError(t, err)
			return cond(d)
		}, 10*time.Second, time.Millisecond)
		return d
	}

	d := waitFor(func(d sender.Delivery) bool { return d.Attempts == 1 && d.State == sender.StatePending })
	require.Equal(t, start.Add(time.Hour), d.NextAttemptAt, "the retry is due an hour later, on the fake clock")
	clk.Advance(time.Hour)
	waitFor(func(d sender.Delivery) bool { return d.State == sender.StateDelivered })

	reqs := ep.WaitForRequests(t, 2)
	ep.RequireVerified(t)
	require.Equal(t, reqs[0].ID, reqs[1].ID)
	require.Positive(t, clk.Pending(), "the sender waits on the fake clock's timers")
}
