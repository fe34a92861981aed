package sendertest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/sender/sendertest"
	"github.com/hookkit/hookkit/signature"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func post(t *testing.T, c *http.Client, url string, sign bool) *http.Response {
	t.Helper()
	body := []byte(`{"event_id":"evt_1"}`)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if sign {
		s, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(secret)})
		require.NoError(t, err)
		require.NoError(t, s.SignHeader(req.Header, "evt_1", time.Now(), body))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return resp
}

func TestEndpointFollowsItsScript(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{secret}},
		sendertest.Status(http.StatusInternalServerError, 2),
		sendertest.RetryAfterSeconds(30*time.Second),
		sendertest.Redirect("http://127.0.0.1:1/elsewhere"),
		sendertest.Gone(),
	)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var got []int
	for range 6 {
		resp := post(t, c, ep.URL, true)
		got = append(got, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			require.Equal(t, "30", resp.Header.Get("Retry-After"))
		}
	}
	require.Equal(t, []int{500, 500, 429, 301, 410, 200}, got)

	reqs := ep.WaitForRequests(t, 6)
	require.Len(t, reqs, 6)
	for _, r := range reqs {
		require.Equal(t, "evt_1", r.ID)
		require.Equal(t, http.MethodPost, r.Method)
		require.JSONEq(t, `{"event_id":"evt_1"}`, string(r.Body))
		require.False(t, r.At.IsZero())
	}
	ep.RequireVerified(t)
}

func TestEndpointReportsBadSignatures(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{secret}})
	post(t, http.DefaultClient, ep.URL, false)
	reqs := ep.WaitForRequests(t, 1)
	require.Error(t, reqs[0].SignatureErr)
	require.Equal(t, 1, ep.Count())
}

func TestEndpointHangsUntilTheClientGivesUp(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{}, sendertest.Hang(), sendertest.Slow(time.Hour))
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, nil)
		require.NoError(t, err)
		_, err = http.DefaultClient.Do(req)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.Equal(t, 0, ep.WaitForRequests(t, 2)[0].Status, "a hang answers nothing")
	require.Equal(t, http.StatusOK, post(t, http.DefaultClient, ep.URL, false).StatusCode, "after the script the endpoint answers 200")
}

func TestEndpointCloseEndsHangingRequests(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{}, sendertest.Step{Hang: true, Times: -1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		post(t, http.DefaultClient, ep.URL, false)
	}()
	ep.WaitForRequests(t, 1)
	ep.Close()
	<-done
}
