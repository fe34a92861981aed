package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNarrator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tty  bool
		want []string // substrings, in order
		not  []string
	}{
		{
			name: "on a terminal the bar is redrawn below each narrated line and removed at the end",
			tty:  true,
			want: []string{"\r\033[Kbulk [###############...............]  50% 5/10 deliveries", "\r\033[K[", "sender       hello\n", "bulk [###", "\r\033[K"},
		},
		{
			name: "elsewhere progress is a plain line and no escape codes are written",
			tty:  false,
			want: []string{"progress     5/10 bulk deliveries delivered (50%)\n", "sender       hello\n"},
			not:  []string{"\033["},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			n := newNarrator(&out, tt.tty)
			n.progress(5, 10)
			n.say("sender", "hello")
			n.endProgress()
			s := out.String()
			for _, w := range tt.want {
				i := strings.Index(s, w)
				require.GreaterOrEqual(t, i, 0, "%q not in %q", w, s)
				s = s[i+len(w):]
			}
			for _, w := range tt.not {
				require.NotContains(t, out.String(), w)
			}
		})
	}
}
