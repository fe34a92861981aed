package receiver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

// The asynchronous handler: verify, deduplicate, answer 202, process on a
// worker.
func Example_handler() {
	keys, err := signature.NewKeyringFromStrings(receivertest.Secret) // your endpoint's secret(s)
	if err != nil {
		panic(err)
	}
	done := make(chan string, 1)
	h, err := receiver.New(receiver.Config{
		Keys: keys,
		Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
			md, _ := receiver.MetadataFrom(ctx)
			done <- fmt.Sprintf("%s (attempt %d)", ev.Type, md.Attempt)
			return nil
		}),
	})
	if err != nil {
		panic(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	// http.Handle("/webhooks", h)

	ev := receivertest.NewEvent("invoice.paid", map[string]any{"invoice": "inv_1"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, receivertest.NewRequest(receivertest.Secret, ev))
	fmt.Println(rec.Code)
	fmt.Println(<-done)
	// Output:
	// 202
	// invoice.paid (attempt 1)
}

// Typed routing: the data of each event is decoded into the handler's type.
func Example_typedRouting() {
	type InvoicePaid struct {
		Invoice string `json:"invoice"`
		Amount  int    `json:"amount"`
	}
	done := make(chan string, 1)
	router := &receiver.Router{Unknown: receiver.DeadLetterUnknown}
	receiver.Handle(router, "invoice.paid", func(_ context.Context, ev event.Event, data InvoicePaid) error {
		done <- fmt.Sprintf("%s: %s for %d", ev.Type, data.Invoice, data.Amount)
		return nil
	})
	router.HandleFunc("customer.*", func(context.Context, event.Event) error { return nil })

	h, err := receiver.New(receiver.Config{Keys: receivertest.Keyring(""), Handler: router})
	if err != nil {
		panic(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	ev := receivertest.NewEvent("invoice.paid", InvoicePaid{Invoice: "inv_7", Amount: 4200})
	h.ServeHTTP(httptest.NewRecorder(), receivertest.NewRequest("", ev))
	fmt.Println(<-done)
	// Output:
	// invoice.paid: inv_7 for 4200
}

// The synchronous middleware: the event is processed inside the request,
// and the sender sees your handler's status.
func Example_middleware() {
	mw, err := receiver.Middleware(receiver.Config{Keys: receivertest.Keyring("")})
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, _ := receiver.EventFrom(r.Context())
		body, _ := io.ReadAll(r.Body) // the raw body is still there
		fmt.Println(ev.Type, len(body) > 0)
		w.WriteHeader(http.StatusNoContent) // 2xx: the event is recorded as processed
	}))

	ev := receivertest.NewEvent("invoice.paid", map[string]any{"invoice": "inv_1"})
	for range 2 { // the second delivery is a duplicate
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", ev))
		fmt.Printf("%d duplicate=%q\n", rec.Code, rec.Header().Get(receiver.HeaderDuplicate))
	}
	// Output:
	// invoice.paid true
	// 204 duplicate=""
	// 200 duplicate="true"
}

// A GitHub receiver: GitHub's signature, X-GitHub-Delivery for dedupe,
// X-GitHub-Event for routing, and the raw payload in ev.Data.
func Example_gitHub() {
	gh, err := signature.NewGitHub("my-github-webhook-secret")
	if err != nil {
		panic(err)
	}
	type PushEvent struct {
		Ref string `json:"ref"`
	}
	done := make(chan string, 1)
	router := &receiver.Router{}
	receiver.Handle(router, "push", func(_ context.Context, ev event.Event, push PushEvent) error {
		done <- fmt.Sprintf("delivery %s: push to %s", ev.ID, push.Ref)
		return nil
	})
	h, err := receiver.New(receiver.Config{Provider: receiver.GitHub(gh), Handler: router})
	if err != nil {
		panic(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	req := receivertest.GitHubRequest("my-github-webhook-secret", "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"ref":"refs/heads/main"}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	select {
	case s := <-done:
		fmt.Println(s)
	case <-time.After(5 * time.Second):
	}
	// Output:
	// 202
	// delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958: push to refs/heads/main
}
