package sender_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
)

func validEndpoint() sender.Endpoint {
	return sender.Endpoint{
		ID:   "ep_1",
		URL:  "https://hooks.example.com/in?tenant=7",
		Keys: []sender.EndpointKey{{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
	}.WithDefaults()
}

func TestEndpointValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(e *sender.Endpoint)
		httpsOnly bool
		want      error
		field     string
	}{
		{name: "a complete endpoint is valid", edit: func(e *sender.Endpoint) {
			e.EventTypes = []string{"invoice.*", "user.created", "*"}
			e.Headers = map[string]string{"Authorization": "Bearer x", "X-Tenant": "7"}
			e.Metadata = map[string]string{"team": "billing"}
			e.RateLimit, e.Ordered = 10, true
		}},
		{name: "an http URL is valid by default", edit: func(e *sender.Endpoint) { e.URL = "http://127.0.0.1:8080/hook" }},
		{name: "an IPv6 literal host is valid", edit: func(e *sender.Endpoint) { e.URL = "https://[2001:db8::1]:8443/hook" }},
		{name: "an http URL is refused in https-only mode", edit: func(e *sender.Endpoint) { e.URL = "http://hooks.example.com/" }, httpsOnly: true, want: sender.ErrHTTPSRequired, field: "URL"},
		{name: "an empty id is refused", edit: func(e *sender.Endpoint) { e.ID = "" }, want: sender.ErrInvalidID, field: "ID"},
		{name: "an id with a space is refused", edit: func(e *sender.Endpoint) { e.ID = "ep 1" }, want: sender.ErrInvalidID, field: "ID"},
		{name: "an overlong id is refused", edit: func(e *sender.Endpoint) { e.ID = strings.Repeat("a", 256) }, want: sender.ErrInvalidID, field: "ID"},
		{name: "an empty URL is refused", edit: func(e *sender.Endpoint) { e.URL = "" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a relative URL is refused", edit: func(e *sender.Endpoint) { e.URL = "/hooks" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a URL without host is refused", edit: func(e *sender.Endpoint) { e.URL = "https:///hooks" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a URL with only a port is refused", edit: func(e *sender.Endpoint) { e.URL = "https://:443/hooks" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "an ftp URL is refused", edit: func(e *sender.Endpoint) { e.URL = "ftp://hooks.example.com/" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a javascript URL is refused", edit: func(e *sender.Endpoint) { e.URL = "javascript:alert(1)" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a URL with credentials is refused", edit: func(e *sender.Endpoint) { e.URL = "https://user:s3cr3tpw@hooks.example.com/" }, want: sender.ErrURLCredentials, field: "URL"},
		{name: "a URL with a user name only is refused", edit: func(e *sender.Endpoint) { e.URL = "https://s3cr3tpw@hooks.example.com/" }, want: sender.ErrURLCredentials, field: "URL"},
		{name: "a URL with a fragment is refused", edit: func(e *sender.Endpoint) { e.URL = "https://hooks.example.com/#frag" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a URL with a space is refused", edit: func(e *sender.Endpoint) { e.URL = "https://hooks.example.com/a b" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "a URL with a bad port is refused", edit: func(e *sender.Endpoint) { e.URL = "https://hooks.example.com:99999/" }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "an overlong URL is refused", edit: func(e *sender.Endpoint) { e.URL = "https://h.example/" + strings.Repeat("a", 2048) }, want: sender.ErrInvalidURL, field: "URL"},
		{name: "an endpoint without keys is refused", edit: func(e *sender.Endpoint) { e.Keys = nil }, want: sender.ErrInvalidKey, field: "Keys"},
		{name: "an empty secret is refused", edit: func(e *sender.Endpoint) { e.Keys = []sender.EndpointKey{{}} }, want: sender.ErrInvalidKey, field: "Keys[0]"},
		{name: "a public key is refused", edit: func(e *sender.Endpoint) { e.Keys = []sender.EndpointKey{{Secret: "whpk_abc"}} }, want: sender.ErrInvalidKey, field: "Keys[0]"},
		{name: "a secret with spaces is refused", edit: func(e *sender.Endpoint) { e.Keys[0].Secret = "whsec_ab cd" }, want: sender.ErrInvalidKey, field: "Keys[0]"},
		{name: "an empty event filter is refused", edit: func(e *sender.Endpoint) { e.EventTypes = []string{""} }, want: sender.ErrInvalidEventFilter, field: "EventTypes"},
		{name: "a mid-type wildcard is refused", edit: func(e *sender.Endpoint) { e.EventTypes = []string{"invoice.*.paid"} }, want: sender.ErrInvalidEventFilter, field: "EventTypes"},
		{name: "a bare prefix wildcard is refused", edit: func(e *sender.Endpoint) { e.EventTypes = []string{"invoice*"} }, want: sender.ErrInvalidEventFilter, field: "EventTypes"},
		{name: "an empty segment is refused", edit: func(e *sender.Endpoint) { e.EventTypes = []string{"invoice..paid"} }, want: sender.ErrInvalidEventFilter, field: "EventTypes"},
		{name: "a hop-by-hop header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"Connection": "close"} }, want: sender.ErrForbiddenHeader, field: "Headers[Connection]"},
		{name: "a proxy header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"Proxy-Authorization": "x"} }, want: sender.ErrForbiddenHeader, field: "Headers[Proxy-Authorization]"},
		{name: "a Host header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"host": "evil"} }, want: sender.ErrForbiddenHeader, field: "Headers[host]"},
		{name: "a Content-Length header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"Content-Length": "1"} }, want: sender.ErrForbiddenHeader, field: "Headers[Content-Length]"},
		{name: "a Transfer-Encoding header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"Transfer-Encoding": "chunked"} }, want: sender.ErrForbiddenHeader, field: "Headers[Transfer-Encoding]"},
		{name: "a signature header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"Webhook-Signature": "v1,x"} }, want: sender.ErrForbiddenHeader, field: "Headers[Webhook-Signature]"},
		{name: "a svix header is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"svix-id": "x"} }, want: sender.ErrForbiddenHeader, field: "Headers[svix-id]"},
		{name: "a header name with a space is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"X Bad": "x"} }, want: sender.ErrInvalidHeader, field: "Headers[X Bad]"},
		{name: "a header value with a newline is refused", edit: func(e *sender.Endpoint) { e.Headers = map[string]string{"X-Token": "a\r\nX-Evil: 1"} }, want: sender.ErrInvalidHeader, field: "Headers[X-Token]"},
		{name: "a negative rate limit is refused", edit: func(e *sender.Endpoint) { e.RateLimit = -1 }, want: sender.ErrInvalidLimit, field: "RateLimit"},
		{name: "a negative concurrency is refused", edit: func(e *sender.Endpoint) { e.MaxConcurrency = -1 }, want: sender.ErrInvalidLimit, field: "MaxConcurrency"},
		{name: "an hour-long timeout is refused", edit: func(e *sender.Endpoint) { e.Timeout = time.Hour }, want: sender.ErrInvalidLimit, field: "Timeout"},
		{name: "an overlong description is refused", edit: func(e *sender.Endpoint) { e.Description = strings.Repeat("d", 2000) }, want: sender.ErrInvalidLimit, field: "Description"},
		{name: "an empty metadata key is refused", edit: func(e *sender.Endpoint) { e.Metadata = map[string]string{"": "v"} }, want: sender.ErrInvalidLimit, field: "Metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validEndpoint()
			tt.edit(&e)
			err := e.Validate(sender.ValidateOptions{HTTPSOnly: tt.httpsOnly})
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, sender.ErrInvalidEndpoint)
			var ve *sender.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			require.NotContains(t, err.Error(), "s3cr3tpw", "errors never echo credentials")
		})
	}
}

func TestEndpointSubscribed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		filters []string
		typ     string
		want    bool
	}{
		{"no filter matches everything", nil, "invoice.paid", true},
		{"an exact filter matches its type", []string{"invoice.paid"}, "invoice.paid", true},
		{"an exact filter does not match another type", []string{"invoice.paid"}, "invoice.created", false},
		{"an exact filter does not match a longer type", []string{"invoice.paid"}, "invoice.paid.late", false},
		{"a wildcard matches its children", []string{"invoice.*"}, "invoice.paid", true},
		{"a wildcard matches deeper descendants", []string{"invoice.*"}, "invoice.line.added", true},
		{"a wildcard does not match its bare prefix", []string{"invoice.*"}, "invoice", false},
		{"a wildcard does not match a longer resource name", []string{"invoice.*"}, "invoices.paid", false},
		{"a wildcard does not match an empty child", []string{"invoice.*"}, "invoice.", false},
		{"a star matches everything", []string{"user.created", "*"}, "anything.at.all", true},
		{"any matching filter is enough", []string{"user.created", "invoice.*"}, "invoice.paid", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := sender.Endpoint{EventTypes: tt.filters}
			require.Equal(t, tt.want, e.Subscribed(tt.typ))
		})
	}
}

func TestEndpointSubscribedDoesNotAllocate(t *testing.T) {
	e := sender.Endpoint{EventTypes: []string{"user.created", "billing.*", "invoice.*"}}
	allocs := testing.AllocsPerRun(100, func() {
		if !e.Subscribed("invoice.paid") {
			panic("not subscribed")
		}
	})
	require.Zero(t, allocs)
}

func TestEndpointRedactsSecrets(t *testing.T) {
	t.Parallel()
	e := validEndpoint()
	e.URL = "https://hooks.example.com/in?token=urlsecret"
	e.Headers = map[string]string{"Authorization": "Bearer headersecret"}
	e.Keys = append(e.Keys, sender.EndpointKey{Secret: "whsk_keysecret", NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})

	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("endpoint", "endpoint", e, "key", e.Keys[0])
	outputs := map[string]string{
		"String":   e.String(),
		"%v":       fmt.Sprintf("%v", e),
		"%+v":      fmt.Sprintf("%+v", e),
		"%#v":      fmt.Sprintf("%#v", e),
		"key %v":   fmt.Sprintf("%v %#v", e.Keys, e.Keys[1]),
		"slog":     logBuf.String(),
		"LogValue": e.LogValue().String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{"urlsecret", "headersecret", "MfKQ9r8", "keysecret"} {
			require.NotContains(t, out, secret, "%s leaks a secret: %s", name, out)
		}
	}
	require.Contains(t, e.String(), "Authorization", "header names are shown")
	require.Contains(t, e.String(), "hooks.example.com/in")
}

func TestEndpointKeyActive(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, sender.EndpointKey{Secret: "whsec_x"}.Active(now), "no expiry")
	require.True(t, sender.EndpointKey{Secret: "whsec_x", NotAfter: now.Add(time.Second)}.Active(now))
	require.False(t, sender.EndpointKey{Secret: "whsec_x", NotAfter: now}.Active(now), "expired at NotAfter")
}

func TestEndpointCloneIsDeep(t *testing.T) {
	t.Parallel()
	e := validEndpoint()
	e.Headers = map[string]string{"X-A": "1"}
	e.Metadata = map[string]string{"k": "v"}
	e.EventTypes = []string{"a.b"}
	c := e.Clone()
	c.Headers["X-A"] = "2"
	c.Metadata["k"] = "w"
	c.EventTypes[0] = "c.d"
	c.Keys[0].Secret = "whsec_other"
	require.Equal(t, "1", e.Headers["X-A"])
	require.Equal(t, "v", e.Metadata["k"])
	require.Equal(t, "a.b", e.EventTypes[0])
	require.NotEqual(t, "whsec_other", e.Keys[0].Secret)
}

func TestEndpointWithDefaults(t *testing.T) {
	t.Parallel()
	e := sender.Endpoint{}.WithDefaults()
	require.Equal(t, sender.DefaultMaxConcurrency, e.MaxConcurrency)
	require.Equal(t, sender.DefaultEndpointTimeout, e.Timeout)
	e = sender.Endpoint{MaxConcurrency: 3, Timeout: time.Second}.WithDefaults()
	require.Equal(t, 3, e.MaxConcurrency)
	require.Equal(t, time.Second, e.Timeout)
}

func TestDeliveryStateText(t *testing.T) {
	t.Parallel()
	for _, s := range []sender.DeliveryState{sender.StateAny, sender.StatePending, sender.StateInFlight, sender.StateDelivered, sender.StateDead} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var got sender.DeliveryState
		require.NoError(t, got.UnmarshalText(b))
		require.Equal(t, s, got)
		require.Equal(t, string(b), s.String())
	}
	_, err := sender.ParseDeliveryState("bogus")
	require.Error(t, err)
	_, err = sender.DeliveryState(42).MarshalText()
	require.Error(t, err)
	require.True(t, sender.StateDead.Settled())
	require.False(t, sender.StateInFlight.Settled())
}

func TestLeaseLostError(t *testing.T) {
	t.Parallel()
	ids := make([]sender.DeliveryID, 12)
	for i := range ids {
		ids[i] = sender.DeliveryID(i + 1)
	}
	var err error = &sender.LeaseLostError{IDs: ids}
	require.ErrorIs(t, err, sender.ErrLeaseLost)
	require.False(t, errors.Is(err, sender.ErrEndpointNotFound))
	require.Contains(t, err.Error(), "12 deliveries")
	require.Contains(t, err.Error(), "…", "long lists are shortened")
}

// FuzzEndpointValidate checks that Validate never panics on untrusted input and
// that what it accepts is safe to dial: http(s), a host, no user info.
func FuzzEndpointValidate(f *testing.F) {
	f.Add("https://hooks.example.com/in?x=1", "X-Token", "abc", "invoice.*")
	f.Add("http://user:pass@host/", "Connection", "close", "*")
	f.Add("https://[::1]:443/#f", "webhook-id", "x\r\n", "a..b")
	f.Add("HTTPS://EXAMPLE.COM", "x", "", "invoice.paid")
	f.Add("https://%zz", "", "v", ".*")
	f.Fuzz(func(t *testing.T, rawURL, header, value, filter string) {
		e := validEndpoint()
		e.URL = rawURL
		e.Headers = map[string]string{header: value}
		e.EventTypes = []string{filter}
		err := e.Validate(sender.ValidateOptions{})
		if err != nil {
			require.ErrorIs(t, err, sender.ErrInvalidEndpoint)
			return
		}
		u, perr := url.Parse(rawURL)
		require.NoError(t, perr)
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		require.Nil(t, u.User)
		require.NotEmpty(t, u.Hostname())
		require.False(t, sender.IsReservedHeader(header))
		require.NotContains(t, value, "\n")
		require.NotContains(t, value, "\r")
		// An accepted filter matches consistently.
		_ = e.Subscribed(filter)
	})
}
