package receivertest_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

func body(t *testing.T, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return b
}

func TestNewRequestIsSignedForTheEvent(t *testing.T) {
	t.Parallel()
	ev := receivertest.NewEvent("invoice.paid", map[string]any{"amount": 1})
	r := receivertest.NewRequest("", ev)
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, receivertest.Target, r.URL.Path)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, ev.ID, r.Header.Get(signature.HeaderID))

	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: receivertest.Keyring("")})
	require.NoError(t, err)
	b := body(t, r)
	require.NoError(t, v.Verify(r.Header, b))
	got, err := event.Parse(b)
	require.NoError(t, err)
	require.Equal(t, ev.ID, got.ID)
}

func TestSignDefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	const other = "whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQ="
	ts := time.Now().Add(-time.Minute)
	r := receivertest.Sign(receivertest.Request{Secret: other, ID: "msg_1", Timestamp: ts, Target: "/hooks/x", Header: http.Header{"x-extra": {"1"}}})
	require.Equal(t, "/hooks/x", r.URL.Path)
	require.Equal(t, "1", r.Header.Get("X-Extra"))
	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: receivertest.Keyring(other)})
	require.NoError(t, err)
	b := body(t, r)
	require.NoError(t, v.Verify(r.Header, b))
	ev, err := event.Parse(b)
	require.NoError(t, err)
	require.Equal(t, "msg_1", ev.ID, "the default body is an envelope with the request's id")

	require.Panics(t, func() { receivertest.Sign(receivertest.Request{ID: "bad.id"}) })
	require.Panics(t, func() { receivertest.Sign(receivertest.Request{Secret: "whsec_"}) })
	require.Panics(t, func() { receivertest.NewEvent("Not A Type", map[string]any{}) })
}

func TestProviderHelpersMatchTheSignaturePackage(t *testing.T) {
	t.Parallel()
	secret := receivertest.ProviderSecret
	payload := []byte(`{"id":"evt_1","type":"invoice.paid","event_id":"Ev1"}`)
	gh, err := signature.NewGitHub(secret)
	require.NoError(t, err)
	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{secret}})
	require.NoError(t, err)
	sh, err := signature.NewShopify(secret)
	require.NoError(t, err)
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{secret}})
	require.NoError(t, err)
	tests := []struct {
		name string
		v    signature.Verifier
		r    *http.Request
	}{
		{name: "github", v: gh, r: receivertest.GitHubRequest("", "push", "d-1", payload)},
		{name: "stripe", v: st, r: receivertest.StripeRequest("", payload, time.Time{})},
		{name: "shopify", v: sh, r: receivertest.ShopifyRequest("", "orders/create", "e-1", payload)},
		{name: "slack", v: sl, r: receivertest.SlackRequest("", payload, time.Time{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := body(t, tt.r)
			require.Equal(t, payload, b)
			require.NoError(t, tt.v.Verify(tt.r.Header, b))
			require.Error(t, tt.v.Verify(tt.r.Header, append(b, ' ')))
		})
	}
}
