// Command github receives GitHub webhooks with hookkit: it verifies
// X-Hub-Signature-256, deduplicates on X-GitHub-Delivery (GitHub signs no
// timestamp, so a captured request could otherwise be replayed), routes on
// X-GitHub-Event to typed handlers, and answers 202 at once.
//
//	go run ./examples/github                   # self-test: sends signed GitHub-format payloads to itself, then exits
//	go run ./examples/github -serve -addr :8080 -secret "$GITHUB_WEBHOOK_SECRET"
//
// With -serve it keeps listening at http://ADDR/github/webhooks until
// interrupted: set that URL (through a tunnel for local testing), content type
// application/json and the secret in your repository's Settings → Webhooks.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

// demoSecret is used when neither -secret nor $GITHUB_WEBHOOK_SECRET is set.
const demoSecret = "hookkit-github-example-secret"

type config struct {
	Addr   string // listen address
	Secret string // the webhook secret configured on GitHub
	Serve  bool   // keep serving after the self-test, until ctx ends
}

func main() {
	cfg := config{Addr: "127.0.0.1:0", Secret: os.Getenv("GITHUB_WEBHOOK_SECRET")}
	if cfg.Secret == "" {
		cfg.Secret = demoSecret
	}
	flag.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	flag.StringVar(&cfg.Secret, "secret", cfg.Secret, "GitHub webhook secret (default $GITHUB_WEBHOOK_SECRET, else a demo secret)")
	flag.BoolVar(&cfg.Serve, "serve", false, "keep serving after the self-test until interrupted")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "github:", err)
		os.Exit(1)
	}
}

// The parts of GitHub's payloads this app reads (GitHub sends many more fields).
type (
	Repository struct {
		FullName string `json:"full_name"`
	}
	PushEvent struct {
		Ref        string     `json:"ref"`
		Repository Repository `json:"repository"`
		Pusher     struct {
			Name string `json:"name"`
		} `json:"pusher"`
		Commits []struct {
			ID      string `json:"id"`
			Message string `json:"message"`
		} `json:"commits"`
	}
	PullRequestEvent struct {
		Action      string     `json:"action"`
		Number      int        `json:"number"`
		Repository  Repository `json:"repository"`
		PullRequest struct {
			Title string `json:"title"`
			User  struct {
				Login string `json:"login"`
			} `json:"user"`
		} `json:"pull_request"`
	}
	PingEvent struct {
		Zen    string `json:"zen"`
		HookID int64  `json:"hook_id"`
	}
)

// printer serialises output from the request path and the workers.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) say(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%-9s %s\n", who, fmt.Sprintf(format, args...))
}

// newHandler is the part you would put in your own service.
func newHandler(secret string, p *printer, counts *counts) (*receiver.Handler, error) {
	gh, err := signature.NewGitHub(secret) // X-Hub-Signature-256; a request without it is refused
	if err != nil {
		return nil, err
	}
	router := &receiver.Router{} // routes on X-GitHub-Event; other events are acknowledged and ignored
	receiver.Handle(router, "push", func(_ context.Context, ev event.Event, push PushEvent) error {
		p.say("handler", "push to %s of %s by %s: %d commit(s) (delivery %s)", push.Ref, push.Repository.FullName, push.Pusher.Name, len(push.Commits), ev.ID)
		return nil
	})
	receiver.Handle(router, "pull_request", func(_ context.Context, ev event.Event, pr PullRequestEvent) error {
		p.say("handler", "pull request #%d %s in %s: %q by %s (delivery %s)", pr.Number, pr.Action, pr.Repository.FullName, pr.PullRequest.Title, pr.PullRequest.User.Login, ev.ID)
		return nil
	})
	receiver.Handle(router, "ping", func(_ context.Context, _ event.Event, ping PingEvent) error {
		p.say("handler", "ping from hook %d: %q", ping.HookID, ping.Zen)
		return nil
	})
	return receiver.New(receiver.Config{
		Provider: receiver.GitHub(gh), // dedupe on X-GitHub-Delivery, route on X-GitHub-Event, Data = the raw payload
		Handler:  router,
		Observer: counts.observer(p),
		Logger:   slog.New(slog.DiscardHandler), // the example prints what happens instead
	})
}

type counts struct {
	mu                                        sync.Mutex
	accepted, processed, duplicates, rejected int
}

func (c *counts) add(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

func (c *counts) observer(p *printer) receiver.Observer {
	return receiver.Observer{
		Accepted:  func(context.Context, receiver.Info) { c.add(func() { c.accepted++ }) },
		Processed: func(context.Context, receiver.Info) { c.add(func() { c.processed++ }) },
		Duplicate: func(_ context.Context, info receiver.Info, _ bool) {
			c.add(func() { c.duplicates++ })
			p.say("receiver", "duplicate delivery %s (%s): answered 200, not processed again", info.ID, info.Type)
		},
		Rejected: func(_ context.Context, r receiver.Rejection) {
			c.add(func() { c.rejected++ })
			p.say("receiver", "rejected: %d %q", r.Status, r.Reason)
		},
	}
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	p := &printer{w: stdout}
	var c counts
	h, err := newHandler(cfg.Secret, p, &c)
	if err != nil {
		return err
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /github/webhooks", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()
	url := "http://" + ln.Addr().String() + "/github/webhooks"
	p.say("listening", "%s", url)

	if err := selfTest(ctx, url, cfg.Secret, p, &c); err != nil {
		return err
	}

	if cfg.Serve {
		p.say("serving", "until interrupted (Ctrl-C); point a GitHub webhook at %s", url)
		select {
		case <-ctx.Done():
		case err := <-served:
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil { // drains the workers
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(stdout, "\nsummary: accepted %d, processed %d, duplicates %d, rejected %d\n", c.accepted, c.processed, c.duplicates, c.rejected)
	return nil
}

// selfTest sends GitHub-format deliveries to url, signed as GitHub signs them.
func selfTest(ctx context.Context, url, secret string, p *printer, c *counts) error {
	gh, err := signature.NewGitHub(secret)
	if err != nil {
		return err
	}
	forger, err := signature.NewGitHub("not-the-secret")
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	push := []byte(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","repository":{"id":1296269,"full_name":"octo-org/hello-world"},"pusher":{"name":"octocat","email":"octocat@github.com"},"commits":[{"id":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","message":"Fix the README"},{"id":"2c0e9b6a0b1f6b0c2d3e4f5a6b7c8d9e0f1a2b3c","message":"Add a test"}]}`)
	steps := []struct {
		what, event, delivery string
		body                  []byte
		signer                *signature.GitHub
		want                  int
	}{
		{"ping (sent when the webhook is created)", "ping", "7f9a7a10-cc78-11e3-81ab-4c9367dc0958",
			[]byte(`{"zen":"Keep it logically awesome.","hook_id":12345678,"repository":{"full_name":"octo-org/hello-world"}}`), gh, http.StatusAccepted},
		{"push", "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", push, gh, http.StatusAccepted},
		{"the same push again (\"Redeliver\" in GitHub's settings)", "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", push, gh, http.StatusOK},
		{"pull_request opened", "pull_request", "9d3a5a2e-cc78-11e3-81ab-4c9367dc0958",
			[]byte(`{"action":"opened","number":42,"pull_request":{"title":"Add webhooks","user":{"login":"hubot"}},"repository":{"full_name":"octo-org/hello-world"}}`), gh, http.StatusAccepted},
		{"a push signed with the wrong secret", "push", "0bad0bad-cc78-11e3-81ab-4c9367dc0958", push, forger, http.StatusUnauthorized},
	}
	accepted := 0
	for _, st := range steps {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(st.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
		req.Header.Set("X-GitHub-Event", st.event)
		req.Header.Set("X-GitHub-Delivery", st.delivery)
		req.Header.Set("X-GitHub-Hook-ID", "12345678")
		st.signer.SignHeader(req.Header, st.body) // X-Hub-Signature-256: sha256=<hex>
		p.say("github", "POST %s", st.what)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		p.say("github", "  answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if resp.StatusCode != st.want {
			return errors.New("unexpected status for " + st.what + ": " + resp.Status)
		}
		if st.want == http.StatusAccepted {
			// Let the worker finish, so that the redelivery below finds the
			// delivery done (200) rather than still in progress (409).
			accepted++
			if err := c.waitProcessed(ctx, accepted); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitProcessed waits until n events were processed.
func (c *counts) waitProcessed(ctx context.Context, n int) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		done := c.processed >= n
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
