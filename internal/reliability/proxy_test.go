package reliability_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/reliability"
)

// echoServer echoes every line back, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write(append(sc.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes line on c and reads the echo, within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxy(t *testing.T) {
	t.Parallel()
	dial := func(t *testing.T, p *reliability.Proxy) (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", p.Addr())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}

	t.Run("passes bytes both ways", func(t *testing.T) {
		t.Parallel()
		p := newProxy(t, echoServer(t))
		c, r := dial(t, p)
		got, err := roundTrip(c, r, "hello", 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, "hello\n", got)
		require.Equal(t, reliability.Pass, p.Mode())
	})

	t.Run("cut resets open connections and accepts new ones", func(t *testing.T) {
		t.Parallel()
		p := newProxy(t, echoServer(t))
		c, r := dial(t, p)
		_, err := roundTrip(c, r, "one", 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, 1, p.Cut())
		_, err = roundTrip(c, r, "two", 5*time.Second)
		require.Error(t, err, "the cut connection is dead")
		c2, r2 := dial(t, p)
		got, err := roundTrip(c2, r2, "three", 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, "three\n", got)
		require.Equal(t, int64(1), p.Stats().Cut)
	})

	t.Run("refuse resets new connections until it passes again", func(t *testing.T) {
		t.Parallel()
		p := newProxy(t, echoServer(t))
		p.SetMode(reliability.Refuse)
		c, err := net.Dial("tcp", p.Addr())
		if err == nil { // the reset may come before or after the handshake completes
			_, err = roundTrip(c, bufio.NewReader(c), "refused", 5*time.Second)
			_ = c.Close()
		}
		require.Error(t, err)
		require.Equal(t, int64(1), p.Stats().Refused)
		p.SetMode(reliability.Pass)
		c2, r2 := dial(t, p)
		got, err := roundTrip(c2, r2, "again", 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, "again\n", got)
	})

	t.Run("blackhole holds bytes and delivers them once it passes", func(t *testing.T) {
		t.Parallel()
		p := newProxy(t, echoServer(t))
		c, r := dial(t, p)
		_, err := roundTrip(c, r, "before", 5*time.Second)
		require.NoError(t, err)
		healed := p.For(reliability.Blackhole, 300*time.Millisecond)
		_, err = roundTrip(c, r, "held", 100*time.Millisecond)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout(), "nothing comes back while blackholed")
		<-healed
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		got, err := r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "held\n", got, "the held bytes arrive after the partition heals")
		require.Positive(t, p.Stats().Held)
	})
}
