package ssrf

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Control hook is the second line of defence: it judges the socket address the kernel is
// about to connect to, whatever the resolution step decided.
func TestControlHookJudgesTheSocketAddress(t *testing.T) {
	t.Parallel()
	g, err := New(Config{})
	require.NoError(t, err)
	userCalled := 0
	user := func(string, string, syscall.RawConn) error { userCalled++; return nil }
	tests := []struct {
		name    string
		address string
		hostOK  bool
		wantErr bool
	}{
		{"a public address passes to the user's hook", "8.8.8.8:443", false, false},
		{"a private address is refused", "10.0.0.1:443", false, true},
		{"an IPv4-mapped loopback is refused", "[::ffff:127.0.0.1]:443", false, true},
		{"the metadata service is refused", "169.254.169.254:80", false, true},
		{"an unparsable address is refused", "not-an-address", false, true},
		{"a host on AllowHosts is not re-judged", "10.0.0.1:443", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			userCalled = 0
			ctl := g.control("h.example", tt.hostOK, user, nil)
			err := ctl(context.Background(), "tcp", tt.address, nil)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBlocked)
				var be *BlockedError
				require.True(t, errors.As(err, &be))
				require.Equal(t, "h.example", be.Host)
				require.Zero(t, userCalled, "the user's hook ran after a refusal")
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, userCalled)
		})
	}
}

func TestControlHookPrefersTheUsersControlContext(t *testing.T) {
	t.Parallel()
	g, err := New(Config{})
	require.NoError(t, err)
	errUser := errors.New("user hook")
	ctl := g.control("h.example", false,
		func(string, string, syscall.RawConn) error { return nil },
		func(context.Context, string, string, syscall.RawConn) error { return errUser })
	require.ErrorIs(t, ctl(context.Background(), "tcp", "8.8.8.8:443", nil), errUser)
}

func TestEndsInNumber(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"2130706433": true, "127.1": true, "0x7f.1": true, "0x7f000001": true, "0x": true,
		"1.2.3.4.": true, "a.b.0x1f": true, "example.com": false, "1e100.net": false,
		"0xg": false, "host.": false, ".": false, "a.b.c1": false, "x.0a": false,
	} {
		require.Equal(t, want, endsInNumber(name), name)
	}
}

func TestPartialDeadline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		left      time.Duration
		remaining int
		want      time.Duration
	}{
		{"one address gets all the time", 30 * time.Second, 1, 30 * time.Second},
		{"three addresses share it", 30 * time.Second, 3, 10 * time.Second},
		{"a share never drops below 2 s", 5 * time.Second, 10, 2 * time.Second},
		{"but never beyond the deadline", time.Second, 10, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, now.Add(tt.want), partialDeadline(now, now.Add(tt.left), tt.remaining))
		})
	}
}

func TestDialDeadlineIsTheEarliest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, dialDeadline(context.Background(), now, net.Dialer{}).IsZero())
	require.Equal(t, now.Add(time.Second), dialDeadline(context.Background(), now, net.Dialer{Timeout: time.Second, Deadline: now.Add(time.Hour)}))
	require.Equal(t, now.Add(time.Minute), dialDeadline(context.Background(), now, net.Dialer{Timeout: time.Hour, Deadline: now.Add(time.Minute)}))
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Millisecond))
	defer cancel()
	require.Equal(t, now.Add(time.Millisecond), dialDeadline(ctx, now, net.Dialer{Timeout: time.Hour}))
}
