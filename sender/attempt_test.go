package sender

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender/sendertest"
	"github.com/hookkit/hookkit/signature"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newTestAttempter(t *testing.T) *attempter {
	t.Helper()
	var d net.Dialer
	tr := newTransport(nil, d.DialContext, 8)
	t.Cleanup(tr.CloseIdleConnections)
	return &attempter{
		client:  newHTTPClient(nil, tr),
		clock:   clock.Real(),
		maxBody: DefaultMaxResponseBytes,
		snippet: DefaultSnippetBytes,
	}
}

func testSigner(t *testing.T) *signature.Signer {
	t.Helper()
	s, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(testSecret)})
	require.NoError(t, err)
	return s
}

func TestAttemptSendsASignedPost(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}})
	a := newTestAttempter(t)
	body := []byte(`{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{}}`)
	res := a.do(t.Context(), attemptRequest{
		url: ep.URL + "/hook?x=1", eventID: "evt_1", body: body, signer: testSigner(t), timeout: time.Second,
		headers: map[string]string{"Authorization": "Bearer s3cret", "X-Tenant": "acme"},
	})
	require.Equal(t, retry.Delivered, res.outcome.Kind)
	require.NoError(t, res.outcome.Err)
	require.Equal(t, http.StatusOK, res.outcome.StatusCode)

	r := ep.WaitForRequests(t, 1)[0]
	require.NoError(t, r.SignatureErr)
	require.Equal(t, body, r.Body)
	require.Equal(t, "/hook", r.Path)
	require.Equal(t, "evt_1", r.Header.Get("webhook-id"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, "hookkit/"+Version, r.Header.Get("User-Agent"))
	require.Equal(t, "Bearer s3cret", r.Header.Get("Authorization"))
	require.Equal(t, "acme", r.Header.Get("X-Tenant"))
}

func TestAttemptOutcomes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		step       sendertest.Step
		timeout    time.Duration
		wantKind   retry.Kind
		wantStatus int
		wantErr    error
		wantSnip   string
	}{
		{
			name:       "a redirect is not followed and counts as a failure",
			step:       sendertest.Redirect("http://127.0.0.1:1/elsewhere"),
			wantKind:   retry.Retry,
			wantStatus: http.StatusMovedPermanently,
			wantErr:    errRedirect,
		},
		{
			name:     "an endpoint that hangs past the timeout is retried",
			step:     sendertest.Hang(),
			timeout:  50 * time.Millisecond,
			wantKind: retry.Retry,
			wantErr:  context.DeadlineExceeded,
		},
		{
			name:       "410 Gone is reported as gone",
			step:       sendertest.Gone(),
			wantKind:   retry.Gone,
			wantStatus: http.StatusGone,
		},
		{
			name:       "429 carries its Retry-After",
			step:       sendertest.RetryAfterSeconds(2 * time.Minute),
			wantKind:   retry.Throttle,
			wantStatus: http.StatusTooManyRequests,
		},
		{
			name:       "the response snippet is capped",
			step:       sendertest.Step{Status: 500, Body: strings.Repeat("x", 100<<10)},
			wantKind:   retry.Retry,
			wantStatus: 500,
			wantSnip:   strings.Repeat("x", DefaultSnippetBytes),
		},
		{
			name:       "a snippet cut inside a rune stays valid UTF-8",
			step:       sendertest.Step{Status: 500, Body: strings.Repeat("é", 200)},
			wantKind:   retry.Retry,
			wantStatus: 500,
			wantSnip:   strings.Repeat("é", 128),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := sendertest.NewEndpoint(t, sendertest.Config{}, tt.step)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			res := newTestAttempter(t).do(t.Context(), attemptRequest{
				url: ep.URL + "/?token=secret-token", eventID: "evt_1", body: []byte(`{}`), signer: testSigner(t), timeout: timeout,
			})
			require.Equal(t, tt.wantKind, res.outcome.Kind)
			require.Equal(t, tt.wantStatus, res.outcome.StatusCode)
			if tt.wantErr != nil {
				require.ErrorIs(t, res.outcome.Err, tt.wantErr)
				require.NotContains(t, res.outcome.Err.Error(), "secret-token", "errors must not carry the URL")
			}
			if tt.step.Status == http.StatusTooManyRequests {
				require.Equal(t, 2*time.Minute, res.outcome.RetryAfter)
			}
			if tt.wantSnip != "" {
				require.Equal(t, tt.wantSnip, res.snippet)
			}
			require.Equal(t, 1, ep.Count(), "exactly one request per attempt")
		})
	}
}

func TestAttemptCancelledByTheCallerIsNotTheEndpointsFault(t *testing.T) {
	t.Parallel()

	ep := sendertest.NewEndpoint(t, sendertest.Config{}, sendertest.Hang())
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		ep.WaitForRequests(t, 1)
		cancel()
	}()
	res := newTestAttempter(t).do(ctx, attemptRequest{url: ep.URL, eventID: "evt_1", body: []byte(`{}`), signer: testSigner(t), timeout: time.Minute})
	require.True(t, res.outcome.CallerCanceled())
}

func TestAttemptConnectionRefused(t *testing.T) {
	t.Parallel()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	res := newTestAttempter(t).do(t.Context(), attemptRequest{url: "http://" + addr, eventID: "evt_1", body: []byte(`{}`), signer: testSigner(t), timeout: time.Second})
	require.Equal(t, retry.Retry, res.outcome.Kind)
	require.Error(t, res.outcome.Err)
}

func TestAnUnusableURLIsAPermanentFailureWithoutTheURL(t *testing.T) {
	t.Parallel()

	res := newTestAttempter(t).do(t.Context(), attemptRequest{
		url: "http://exa mple.com/?token=secret-token", eventID: "evt_1", body: []byte(`{}`), signer: testSigner(t), timeout: time.Second,
	})
	require.Equal(t, retry.PermanentFailure, res.outcome.Kind)
	require.Error(t, res.outcome.Err)
	require.NotContains(t, res.outcome.Err.Error(), "secret-token")
}
