package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, config{Addr: "127.0.0.1:0", Secret: "a-test-secret"}, &out))
	s := out.String()
	for _, want := range []string{
		"handler   ping from hook 12345678",
		"handler   push to refs/heads/main of octo-org/hello-world by octocat: 2 commit(s) (delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958)",
		"duplicate delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958 (push): answered 200",
		`handler   pull request #42 opened in octo-org/hello-world: "Add webhooks" by hubot`,
		"POST a push signed with the wrong secret\n",
		"answered 401 Unauthorized",
		"summary: accepted 3, processed 3, duplicates 1, rejected 1",
	} {
		require.Contains(t, s, want)
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, config{Addr: "127.0.0.1:0", Secret: "a-test-secret", Serve: true}, &out) }()
	require.Eventually(t, func() bool { return bytes.Contains(out.Bytes(), []byte("serving")) }, 20*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
