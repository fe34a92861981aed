package pginbox_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/receiver/pginbox"
)

func TestHeaderEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		omit map[string]bool
		want http.Header
	}{
		{"a nil header stays nil", nil, nil, nil},
		{"an empty header stays empty", http.Header{}, nil, http.Header{}},
		{"names, repeated values and empty values survive", http.Header{
			"Webhook-Id": {"msg_1"}, "X-Multi": {"a", "b", ""}, "X-Empty": {},
		}, nil, http.Header{"Webhook-Id": {"msg_1"}, "X-Multi": {"a", "b", ""}, "X-Empty": {}}},
		{"bytes that are not UTF-8 survive", http.Header{"X-Latin1": {"caf\xe9"}}, nil, http.Header{"X-Latin1": {"caf\xe9"}}},
		{"omitted names are dropped whatever their case", http.Header{
			"Authorization": {"Bearer x"}, "cookie": {"a=b"}, "Webhook-Id": {"msg_1"},
		}, map[string]bool{"Authorization": true, "Cookie": true}, http.Header{"Webhook-Id": {"msg_1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pginbox.DecodeHeader(pginbox.EncodeHeader(tt.in, tt.omit))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("truncated or padded bytes are refused", func(t *testing.T) {
		t.Parallel()
		b := pginbox.EncodeHeader(http.Header{"Webhook-Id": {"msg_1"}, "X-A": {"b", "c"}}, nil)
		for i := 0; i < len(b); i++ {
			_, err := pginbox.DecodeHeader(b[:i])
			require.Error(t, err, "truncated to %d bytes", i)
		}
		_, err := pginbox.DecodeHeader(append(b, 0))
		require.Error(t, err)
		_, err = pginbox.DecodeHeader([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
		require.Error(t, err, "an absurd count")
	})
}

// FuzzDecodeHeader feeds arbitrary bytes (a corrupt row) to the decoder: it
// must never panic, and whatever it accepts must encode back to the same
// bytes.
func FuzzDecodeHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add(pginbox.EncodeHeader(http.Header{"Webhook-Id": {"msg_1"}, "X-A": {"b", ""}}, nil))
	f.Add([]byte{1, 1, 'a', 200, 200, 200, 200, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := pginbox.DecodeHeader(b)
		if err != nil {
			return
		}
		again, err := pginbox.DecodeHeader(pginbox.EncodeHeader(h, nil))
		require.NoError(t, err)
		require.Equal(t, h, again)
	})
}

func BenchmarkEncodeHeader(b *testing.B) {
	h := http.Header{
		"Webhook-Id": {"evt_0196a1b2c3d4e5f6"}, "Webhook-Timestamp": {"1700000000"},
		"Webhook-Signature": {"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
		"Content-Type":      {"application/json"}, "User-Agent": {"hookkit/1"}, "Content-Length": {"1024"},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = pginbox.EncodeHeader(h, nil)
	}
}
