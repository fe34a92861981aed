package receiver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

func TestProvidersVerifyDedupeAndRoute(t *testing.T) {
	t.Parallel()
	secret := receivertest.ProviderSecret
	gh, err := signature.NewGitHub(secret)
	require.NoError(t, err)
	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{secret}})
	require.NoError(t, err)
	sh, err := signature.NewShopify(secret)
	require.NoError(t, err)
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{secret}})
	require.NoError(t, err)

	githubBody := []byte(`{"ref":"refs/heads/main","commits":[]}`)
	stripeBody := []byte(`{"id":"evt_1Stripe","object":"event","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1"}}}`)
	shopifyBody := []byte(`{"id":820982911946154508,"email":"jon@example.com"}`)
	slackBody := []byte(`{"type":"event_callback","event_id":"Ev08MFMKH6","event_time":1700000000,"event":{"type":"app_mention","text":"hi"}}`)

	shopifyFallback := receivertest.ShopifyRequest(secret, "orders/create", "", shopifyBody)
	shopifyFallback.Header.Del("X-Shopify-Event-Id")
	shopifyFallback.Header.Set("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")

	tests := []struct {
		name     string
		provider receiver.Provider
		req      func() *http.Request
		wantID   string
		wantType string
		wantBody []byte
	}{
		{
			name: "github dedupes by X-GitHub-Delivery and routes by X-GitHub-Event", provider: receiver.GitHub(gh),
			req: func() *http.Request {
				return receivertest.GitHubRequest(secret, "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", githubBody)
			},
			wantID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", wantType: "push", wantBody: githubBody,
		},
		{
			name: "stripe dedupes by the event id and routes by its type", provider: receiver.Stripe(st),
			req:    func() *http.Request { return receivertest.StripeRequest(secret, stripeBody, timeNow()) },
			wantID: "evt_1Stripe", wantType: "invoice.paid", wantBody: stripeBody,
		},
		{
			name: "shopify dedupes by X-Shopify-Event-Id and routes by topic", provider: receiver.Shopify(sh),
			req: func() *http.Request {
				return receivertest.ShopifyRequest(secret, "orders/create", "98880550-7158-44d4-b7cd-2c97c8a091b5", shopifyBody)
			},
			wantID: "98880550-7158-44d4-b7cd-2c97c8a091b5", wantType: "orders/create", wantBody: shopifyBody,
		},
		{
			name: "shopify falls back to X-Shopify-Webhook-Id", provider: receiver.Shopify(sh),
			req:    func() *http.Request { return shopifyFallback.Clone(context.Background()) },
			wantID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", wantType: "orders/create", wantBody: shopifyBody,
		},
		{
			name: "slack dedupes by event_id and routes by the inner type", provider: receiver.Slack(sl),
			req:    func() *http.Request { return receivertest.SlackRequest(secret, slackBody, timeNow()) },
			wantID: "Ev08MFMKH6", wantType: "app_mention", wantBody: slackBody,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(c *receiver.Config) { c.Keys, c.Provider = nil, tt.provider })
			require.Equal(t, http.StatusAccepted, serve(b.h, tt.req()).Code)
			c := recv(t, b.calls)
			require.Equal(t, tt.wantID, c.ev.ID)
			require.Equal(t, tt.wantType, c.ev.Type)
			require.Equal(t, string(tt.wantBody), string(c.ev.Data), "the raw provider payload")
			require.Equal(t, tt.provider.Name, c.md.Provider)

			// The same delivery again is a duplicate.
			require.Eventually(t, func() bool {
				return serve(b.h, cloneWithBody(t, tt.req(), tt.wantBody)).Code == http.StatusOK
			}, 5*time.Second, time.Millisecond)

			// A forged one is refused.
			forged := cloneWithBody(t, tt.req(), append([]byte(`{"x":1,`), tt.wantBody[1:]...))
			require.Equal(t, http.StatusUnauthorized, serve(b.h, forged).Code)
			requireNone(t, b.calls)
		})
	}
}

func TestSlackURLVerificationIsAnsweredWithTheChallenge(t *testing.T) {
	t.Parallel()
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{receivertest.ProviderSecret}})
	require.NoError(t, err)
	b := setup(t, nil, func(c *receiver.Config) { c.Keys, c.Provider = nil, receiver.Slack(sl) })
	body := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	rec := serve(b.h, receivertest.SlackRequest("", body, timeNow()))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", rec.Body.String())
	requireNone(t, b.calls)
}

func TestProviderPayloadsWithoutAnIDAreRefused(t *testing.T) {
	t.Parallel()
	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{receivertest.ProviderSecret}})
	require.NoError(t, err)
	gh, err := signature.NewGitHub(receivertest.ProviderSecret)
	require.NoError(t, err)
	tests := []struct {
		name     string
		provider receiver.Provider
		req      *http.Request
	}{
		{name: "stripe without id", provider: receiver.Stripe(st), req: receivertest.StripeRequest("", []byte(`{"type":"invoice.paid"}`), timeNow())},
		{name: "stripe with a non-object body", provider: receiver.Stripe(st), req: receivertest.StripeRequest("", []byte(`[1,2]`), timeNow())},
		{name: "github without delivery", provider: receiver.GitHub(gh), req: receivertest.GitHubRequest("", "push", "", []byte(`{}`))},
		{name: "github with a dotted delivery id", provider: receiver.GitHub(gh), req: receivertest.GitHubRequest("", "push", "a.b", []byte(`{}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(c *receiver.Config) { c.Keys, c.Provider = nil, tt.provider })
			require.Equal(t, http.StatusBadRequest, serve(b.h, tt.req).Code)
			requireNone(t, b.calls)
		})
	}
}

func TestStandardWebhooksProviderDedupesByWebhookID(t *testing.T) {
	t.Parallel()
	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: receivertest.Keyring("")})
	require.NoError(t, err)
	b := setup(t, nil, func(c *receiver.Config) { c.Keys, c.Provider = nil, receiver.StandardWebhooks(v) })
	body := []byte(`{"type":"user.created","timestamp":"2026-01-02T03:04:05Z","data":{"id":"u_1"}}`)
	req := receivertest.Sign(receivertest.Request{ID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", Body: body})
	require.Equal(t, http.StatusAccepted, serve(b.h, req).Code)
	c := recv(t, b.calls)
	require.Equal(t, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", c.ev.ID)
	require.Equal(t, "user.created", c.ev.Type)
	require.Equal(t, 2026, c.ev.Timestamp.Year())
}
