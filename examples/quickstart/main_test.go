package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// row returns the numeric cells of the summary row that starts with name.
func row(t *testing.T, out, name string) []int {
	t.Helper()
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == name {
			var nums []int
			for _, c := range f[1:] {
				if n, err := strconv.Atoi(c); err == nil {
					nums = append(nums, n)
				}
			}
			return nums
		}
	}
	t.Fatalf("no summary row %q in:\n%s", name, out)
	return nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events int
	}{
		{name: "the story alone ends with the expected summary", events: 0},
		{name: "bulk events are all delivered and reported as plain progress lines", events: 206},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			cfg := config{Events: tt.events, Tick: 100 * time.Millisecond, Timeout: time.Minute}
			require.NoError(t, run(context.Background(), cfg, &out))
			s := out.String()
			bulk := max(0, tt.events-storyEvents)

			// endpoint rows: delivered, retried, dead-lettered
			healthy := row(t, s, "healthy")
			require.Equal(t, []int{storyEvents + bulk + 1, 0, 0}, healthy, "every event once, plus the re-sent duplicate")
			flaky := row(t, s, "flaky")
			require.Equal(t, 4+bulk, flaky[0], "every invoice event, the replayed dead letter included")
			require.Equal(t, 7+bulk/10, flaky[1], "3 retries of the 500/500/429 event, 4 of the dead-lettered one, 1 per failing bulk event")
			require.Equal(t, 1, flaky[2])
			gone := row(t, s, "gone")
			require.Equal(t, []int{0, 0}, gone[:2], "nothing delivered, nothing retried")
			require.GreaterOrEqual(t, gone[2], 1, "the delivery answered 410 is dead-lettered")
			require.Regexp(t, `gone\s+customer\.\*\s+0\s+0\s+\d\s+disabled \(endpoint answered 410 Gone\)`, s)

			// receiver rows: accepted, processed, duplicates, rejected
			require.Equal(t, []int{storyEvents + bulk, storyEvents + bulk, 1, 2}, row(t, s, "billing-app"))
			require.Equal(t, []int{4 + bulk, 4 + bulk, 0, 0}, row(t, s, "crm-app"))

			require.Contains(t, s, "429 Too Many Requests on attempt 3, retry in 1s per the endpoint's Retry-After")
			require.Contains(t, s, "refused   order.shipped")
			if bulk > 0 {
				require.Contains(t, s, "bulk deliveries delivered (100%)")
				require.NotContains(t, s, "\033[", "no terminal escapes when not on a terminal")
			}
		})
	}
}

func TestRunStopsWhenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, config{Tick: time.Second}, &out)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
