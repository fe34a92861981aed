package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/signature"
)

// storyEvents is the number of narrated events.
const storyEvents = 6

// The event catalog: every type the sender may publish, with its Go type.
type (
	InvoicePaid struct {
		InvoiceID   string `json:"invoice_id"`
		AmountCents int64  `json:"amount_cents"`
		Currency    string `json:"currency"`
	}
	InvoiceRefunded struct {
		InvoiceID   string `json:"invoice_id"`
		AmountCents int64  `json:"amount_cents"`
		Reason      string `json:"reason"`
	}
	CustomerCreated struct {
		CustomerID string `json:"customer_id"`
		Name       string `json:"name"`
	}
)

func newCatalog() *event.Catalog {
	c := event.NewCatalog(event.CatalogConfig{Strict: true}) // only documented events go out
	c.MustRegister(
		event.Define("invoice.paid", "Sent when an invoice is paid in full.", "1",
			InvoicePaid{InvoiceID: "in_1001", AmountCents: 4200, Currency: "eur"}),
		event.Define("invoice.refunded", "Sent when a paid invoice is refunded.", "1",
			InvoiceRefunded{InvoiceID: "in_1001", AmountCents: 4200, Reason: "duplicate"}),
		event.Define("customer.created", "Sent when a customer signs up.", "1",
			CustomerCreated{CustomerID: "cus_ada", Name: "Ada Lovelace"}),
	)
	return c
}

type endpointStats struct {
	delivered, retried, dead int
	disabled                 string // reason, when disabled
}

type receiverStats struct {
	accepted, processed, duplicates, rejected int
}

// demo holds the state of one run. Observers write to it under mu; the main
// goroutine waits on changed for the conditions of the next step.
type demo struct {
	cfg      config
	n        *narrator
	schedule retry.Schedule

	mu            sync.Mutex
	changed       chan struct{}                   // closed and replaced at every change
	story         map[string]string               // narrated event id → short label
	flakyAttempts map[string]int                  // requests per event id seen by the flaky proxy
	flakyBulkFail map[string]bool                 // bulk events whose first flaky attempt fails
	crmFixed      bool                            // the flaky endpoint's persistent failure is fixed
	eventA        string                          // fails 500, 500, 429 on flaky, then succeeds
	eventB        string                          // fails on flaky until crmFixed: dead-lettered, then replayed
	endpoints     map[string]*endpointStats       // by endpoint id
	receivers     map[string]*receiverStats       // by receiver name
	delivered     map[sender.DeliveryID]bool      // deliveries delivered at least once
	deadLetters   map[string]sender.AttemptReport // by event id + "/" + endpoint id
	bulkDelivered int
	storySettled  int // attempt outcomes of story deliveries, narrated
	storyHandled  int // story events processed by a receiver's handler, narrated
}

func newDemo(cfg config, stdout io.Writer) (*demo, error) {
	t := cfg.Tick
	d := &demo{
		cfg: cfg,
		n:   newNarrator(stdout, cfg.Progress),
		// A compressed schedule so the whole story fits in about ten seconds:
		// attempt 1 at once, then after 1, 2, 3 and 4 ticks, then dead letter.
		// Production code keeps the default, retry.Default(): 5 s, 5 min,
		// 30 min, 2 h, 5 h, 10 h, 10 h with ±20 % jitter.
		schedule:      retry.Schedule{Delays: []time.Duration{0, t, 2 * t, 3 * t, 4 * t}},
		changed:       make(chan struct{}),
		story:         map[string]string{},
		flakyAttempts: map[string]int{},
		flakyBulkFail: map[string]bool{},
		endpoints:     map[string]*endpointStats{"healthy": {}, "flaky": {}, "gone": {}},
		receivers:     map[string]*receiverStats{"billing-app": {}, "crm-app": {}},
		delivered:     map[sender.DeliveryID]bool{},
		deadLetters:   map[string]sender.AttemptReport{},
	}
	return d, d.schedule.Validate()
}

// notify wakes waitFor; call with mu held.
func (d *demo) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated with mu held) is true.
func (d *demo) waitFor(ctx context.Context, what string, cond func() bool) error {
	for {
		d.mu.Lock()
		ok, ch := cond(), d.changed
		d.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// label returns the narration label of a story event, or "" for bulk events.
func (d *demo) label(eventID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.story[eventID]
}

// handled counts a story event processed by a handler once its line is out.
func (d *demo) handled() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.storyHandled++
	d.notify()
}

func short(id string) string {
	if len(id) > 10 {
		return "evt_…" + id[len(id)-6:]
	}
	return id
}

func seconds(dur time.Duration) string {
	return strconv.FormatFloat(dur.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
}

// ---- the sender's Observer: narration and counts ----------------------------

type senderObserver struct{ d *demo }

var _ sender.Observer = senderObserver{}

func (senderObserver) AttemptFinished(context.Context, sender.AttemptReport) {}

// narrated counts an attempt outcome of a story event once its line is out.
func (d *demo) narrated(eventID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.story[eventID]; ok {
		d.storySettled++
		d.notify()
	}
}

func (o senderObserver) Delivered(_ context.Context, r sender.AttemptReport) {
	d := o.d
	d.mu.Lock()
	d.endpoints[r.EndpointID].delivered++
	d.delivered[r.DeliveryID] = true
	lbl, story := d.story[r.EventID]
	if !story {
		d.bulkDelivered++
	}
	d.notify()
	d.mu.Unlock()
	if story {
		d.n.say("sender", "%-7s delivered %s %s: %d on attempt %d (%s)", r.EndpointID, r.EventType, lbl, r.StatusCode, r.Attempt, took(r.Duration))
		d.narrated(r.EventID)
	}
}

func (o senderObserver) RetryScheduled(_ context.Context, r sender.AttemptReport) {
	d := o.d
	d.mu.Lock()
	d.endpoints[r.EndpointID].retried++
	lbl, story := d.story[r.EventID]
	d.notify()
	d.mu.Unlock()
	if !story {
		return
	}
	wait := time.Until(r.NextAttemptAt)
	why := "the schedule"
	if r.StatusCode == http.StatusTooManyRequests && r.Attempt < len(d.schedule.Delays) {
		why = "the endpoint's Retry-After (the schedule said " + seconds(d.schedule.Delays[r.Attempt]) + ")"
	}
	d.n.say("sender", "%-7s failed    %s %s: %s on attempt %d, retry in %s per %s", r.EndpointID, r.EventType, lbl, status(r), r.Attempt, seconds(wait), why)
	d.narrated(r.EventID)
}

func (o senderObserver) DeadLettered(_ context.Context, r sender.AttemptReport) {
	d := o.d
	d.mu.Lock()
	d.endpoints[r.EndpointID].dead++
	d.deadLetters[r.EventID+"/"+r.EndpointID] = r
	lbl := d.story[r.EventID]
	d.notify()
	d.mu.Unlock()
	d.n.say("sender", "%-7s DEAD      %s %s: dead-lettered after attempt %d: %s", r.EndpointID, r.EventType, lbl, r.Attempt, r.Reason)
	d.narrated(r.EventID)
}

func (o senderObserver) EndpointDisabled(_ context.Context, r sender.EndpointReport) {
	d := o.d
	d.mu.Lock()
	d.endpoints[r.EndpointID].disabled = r.Reason
	d.notify()
	d.mu.Unlock()
	d.n.say("sender", "%-7s DISABLED  endpoint (%s): no new deliveries, pending ones paused until it is enabled", r.EndpointID, r.Reason)
}

func (o senderObserver) EndpointRecovered(_ context.Context, r sender.EndpointReport) {}

func took(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}

func status(r sender.AttemptReport) string {
	if r.StatusCode == 0 {
		return "no response"
	}
	return fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode))
}

// ---- the receivers: hookkit handlers with Observer hooks ---------------------

func (d *demo) receiverObserver(name string) receiver.Observer {
	count := func(f func(*receiverStats)) {
		d.mu.Lock()
		f(d.receivers[name])
		d.notify()
		d.mu.Unlock()
	}
	return receiver.Observer{
		Accepted: func(context.Context, receiver.Info) { count(func(s *receiverStats) { s.accepted++ }) },
		Processed: func(context.Context, receiver.Info) {
			count(func(s *receiverStats) { s.processed++ })
		},
		Duplicate: func(_ context.Context, info receiver.Info, inProgress bool) {
			count(func(s *receiverStats) { s.duplicates++ })
			state := "already processed: answered 200 with Hookkit-Duplicate: true, handler not called"
			if inProgress {
				state = "being processed: answered 202 with Hookkit-Duplicate: true"
			}
			d.n.say(name, "duplicate %s %s %s", info.Type, short(info.ID), state)
		},
		Rejected: func(_ context.Context, r receiver.Rejection) {
			count(func(s *receiverStats) { s.rejected++ })
			d.n.say(name, "REJECTED  %d %s: %q (no handler called)", r.Status, http.StatusText(r.Status), r.Reason)
		},
		DeadLettered: func(_ context.Context, info receiver.Info, err error) {
			d.n.say(name, "handler gave up on %s %s: %v", info.Type, short(info.ID), err)
		},
	}
}

// billingApp is the consumer behind the healthy endpoint: typed handlers.
func (d *demo) billingApp(keys *signature.Keyring) (*receiver.Handler, error) {
	router := &receiver.Router{Unknown: receiver.DeadLetterUnknown}
	receiver.Handle(router, "invoice.paid", func(_ context.Context, ev event.Event, inv InvoicePaid) error {
		if lbl := d.label(ev.ID); lbl != "" {
			d.n.say("billing-app", "processed invoice.paid %s: invoice %s paid, %d.%02d %s", lbl, inv.InvoiceID, inv.AmountCents/100, inv.AmountCents%100, strings.ToUpper(inv.Currency))
			d.handled()
		}
		return nil
	})
	receiver.Handle(router, "invoice.refunded", func(_ context.Context, ev event.Event, r InvoiceRefunded) error {
		if lbl := d.label(ev.ID); lbl != "" {
			d.n.say("billing-app", "processed invoice.refunded %s: invoice %s refunded (%s)", lbl, r.InvoiceID, r.Reason)
			d.handled()
		}
		return nil
	})
	receiver.Handle(router, "customer.created", func(_ context.Context, ev event.Event, c CustomerCreated) error {
		if lbl := d.label(ev.ID); lbl != "" {
			d.n.say("billing-app", "processed customer.created %s: welcome, %s", lbl, c.Name)
			d.handled()
		}
		return nil
	})
	return receiver.New(receiver.Config{
		Keys:     keys,   // the healthy endpoint's signing secret
		Handler:  router, // async: answered 202 at once, handled on workers
		Observer: d.receiverObserver("billing-app"),
		Logger:   slog.New(slog.DiscardHandler), // the narration replaces the logs here
		// Store defaults to an in-memory idempotency store (one process).
	})
}

// crmApp is the consumer behind the flaky endpoint.
func (d *demo) crmApp(keys *signature.Keyring) (*receiver.Handler, error) {
	router := &receiver.Router{}
	router.HandleFunc("invoice.*", func(_ context.Context, ev event.Event) error {
		if lbl := d.label(ev.ID); lbl != "" {
			d.n.say("crm-app", "processed %s %s: synced to the CRM", ev.Type, lbl)
			d.handled()
		}
		return nil
	})
	return receiver.New(receiver.Config{
		Keys:     keys,
		Handler:  router,
		Observer: d.receiverObserver("crm-app"),
		Logger:   slog.New(slog.DiscardHandler),
	})
}

// flaky puts the failures of the flaky endpoint in front of the CRM app.
func (d *demo) flaky(next http.Handler, retryAfter int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(signature.HeaderID)
		d.mu.Lock()
		d.flakyAttempts[id]++
		n, isA, isB, fixed, bulkFail := d.flakyAttempts[id], id == d.eventA, id == d.eventB, d.crmFixed, d.flakyBulkFail[id]
		d.mu.Unlock()
		switch {
		case isA && n <= 2:
			http.Error(w, "crm: internal error", http.StatusInternalServerError)
		case isA && n == 3:
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			http.Error(w, "crm: slow down", http.StatusTooManyRequests)
		case isB && !fixed:
			http.Error(w, "crm: database migration in progress", http.StatusInternalServerError)
		case bulkFail && n == 1:
			http.Error(w, "crm: overloaded", http.StatusServiceUnavailable)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ---- the story ---------------------------------------------------------------

type storyEvent struct {
	typ  string
	data any
}

func (d *demo) play(ctx context.Context) (summary, error) {
	started := time.Now()
	catalog := newCatalog()

	// One loopback server hosts the three endpoints on three paths.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return summary{}, err
	}
	base := "http://" + ln.Addr().String()

	// The consumers get their endpoint's signing secret out of band.
	billingSecret, err := signature.GenerateSecret()
	if err != nil {
		return summary{}, err
	}
	crmSecret, err := signature.GenerateSecret()
	if err != nil {
		return summary{}, err
	}
	billing, err := d.billingApp(signature.MustKeyring(billingSecret))
	if err != nil {
		return summary{}, err
	}
	defer func() { _ = billing.Shutdown(context.Background()) }()
	crm, err := d.crmApp(signature.MustKeyring(crmSecret))
	if err != nil {
		return summary{}, err
	}
	defer func() { _ = crm.Shutdown(context.Background()) }()

	retryAfter := max(1, int((5*d.cfg.Tick+time.Second-1)/time.Second)) // 5 ticks, whole seconds
	mux := http.NewServeMux()
	mux.Handle("POST /billing/webhooks", billing)
	mux.Handle("POST /crm/webhooks", d.flaky(crm, retryAfter))
	mux.HandleFunc("POST /retired/webhooks", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "this webhook endpoint was removed", http.StatusGone)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-serveErr
	}()

	s, err := sender.New(sender.Config{
		Catalog: catalog,
		Policy:  d.schedule,
		// The SSRF guard refuses private, loopback and link-local addresses by
		// default, so that a customer cannot point a webhook at your internal
		// network. The endpoints of this demo are on 127.0.0.1, so it allows
		// private networks explicitly. Never set this for customer endpoints.
		AllowPrivateNetworks: true,
		// Two endpoints here fail on purpose in a short burst; keep the
		// circuit breaker (which would pause them for 30 s) out of the story.
		Breaker:  sender.BreakerConfig{MinRequests: 1000},
		Observer: senderObserver{d},
		Logger:   slog.New(slog.DiscardHandler), // the narration replaces the logs here
	})
	if err != nil {
		return summary{}, err
	}
	endpoints := []sender.Endpoint{
		{ID: "healthy", URL: base + "/billing/webhooks", EventTypes: []string{"*"},
			Keys: []sender.EndpointKey{{Secret: billingSecret}}, Description: "billing app"},
		{ID: "flaky", URL: base + "/crm/webhooks", EventTypes: []string{"invoice.*"},
			Keys: []sender.EndpointKey{{Secret: crmSecret}}, Description: "CRM app, failing now and then"},
		{ID: "gone", URL: base + "/retired/webhooks", EventTypes: []string{"customer.*"},
			Description: "retired app, answers 410 Gone", MaxConcurrency: 1},
	}
	for _, ep := range endpoints {
		if _, err := s.CreateEndpoint(ctx, ep); err != nil {
			return summary{}, err
		}
	}
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.Shutdown(sctx)
		if rerr := <-runErr; rerr != nil && !errors.Is(rerr, context.Canceled) {
			err = errors.Join(err, rerr)
		}
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = shutdown()
		}
	}()

	d.n.say("setup", "receivers billing-app and crm-app, and a retired app, listening on %s", base)
	d.n.say("setup", "catalog: invoice.paid, invoice.refunded, customer.created (strict: nothing else goes out)")
	d.n.say("setup", "endpoint healthy → billing-app, subscribed to *")
	d.n.say("setup", "endpoint flaky   → crm-app, subscribed to invoice.* (fails on purpose)")
	d.n.say("setup", "endpoint gone    → retired app, subscribed to customer.* (answers 410 Gone)")
	var delays []string
	for _, dl := range d.schedule.Delays[1:] {
		delays = append(delays, seconds(dl))
	}
	d.n.say("setup", "retries after %s, then dead letter (compressed; the default is 5s, 5m, 30m, 2h, 5h, 10h, 10h)", strings.Join(delays, ", "))

	// Act 1: a burst of events. The strict catalog refuses what it does not document.
	d.n.heading("1. publish a burst of events")
	if bad, err := event.New("order.shipped", map[string]any{"order_id": "ord_1"}); err == nil {
		_, err := s.Publish(ctx, bad)
		if !errors.Is(err, event.ErrUnknownType) {
			return summary{}, fmt.Errorf("publishing an unregistered type: want event.ErrUnknownType, got %v", err)
		}
		d.n.say("sender", "refused   order.shipped: not in the strict catalog, nothing stored")
	}

	// The story's events: the first one meets 500, 500, 429 on flaky; the
	// fourth fails on flaky until the operator fixes it.
	story := []storyEvent{
		{"invoice.paid", InvoicePaid{"in_1001", 4200, "eur"}},
		{"customer.created", CustomerCreated{"cus_ada", "Ada Lovelace"}},
		{"invoice.paid", InvoicePaid{"in_1002", 1999, "eur"}},
		{"invoice.refunded", InvoiceRefunded{"in_1001", 4200, "paid twice"}},
		{"customer.created", CustomerCreated{"cus_grace", "Grace Hopper"}},
		{"invoice.paid", InvoicePaid{"in_1003", 12000, "usd"}},
	}
	evs := make([]event.Event, len(story))
	d.mu.Lock()
	for i, se := range story {
		if evs[i], err = event.New(se.typ, se.data); err != nil {
			d.mu.Unlock()
			return summary{}, err
		}
		d.story[evs[i].ID] = short(evs[i].ID)
	}
	d.eventA, d.eventB = evs[0].ID, evs[3].ID
	d.mu.Unlock()

	var dupDelivery sender.DeliveryID // the healthy delivery of the first event, re-sent later
	for i, ev := range evs {
		res, err := s.Publish(ctx, ev, sender.WithIdempotencyKey("story-"+strconv.Itoa(i)))
		if err != nil {
			return summary{}, err
		}
		var to []string
		for _, ref := range res.Deliveries {
			to = append(to, ref.EndpointID)
			if i == 0 && ref.EndpointID == "healthy" {
				dupDelivery = ref.ID
			}
		}
		d.n.say("app", "publish   %s %s → %s", ev.Type, short(ev.ID), strings.Join(to, ", "))
	}

	// Let the first attempts play out before the next act.
	if err := d.waitFor(ctx, "the first attempts", func() bool {
		return d.storySettled >= 11 && // 6 to healthy, 4 to flaky, 1 to gone (its second delivery is paused)
			d.storyHandled >= 8 // 6 in billing-app, 2 in crm-app (the others are failing)
	}); err != nil {
		return summary{}, err
	}

	// Act 2: an operator re-sends a delivered event: the receiver dedupes it.
	d.n.heading("2. an operator re-sends a delivered event")
	d.n.say("operator", "re-send   delivery %s (%s to healthy, already delivered): same webhook-id", dupDelivery, short(evs[0].ID))
	if err := s.Replay(ctx, dupDelivery); err != nil {
		return summary{}, err
	}
	if err := d.waitFor(ctx, "the re-sent delivery", func() bool { return d.storySettled >= 12 }); err != nil {
		return summary{}, err
	}

	// Act 3: an attacker: a forged signature, and a genuine request replayed late.
	d.n.heading("3. an attacker tries a forged and a replayed request")
	if err := d.attack(ctx, base+"/billing/webhooks", billingSecret); err != nil {
		return summary{}, err
	}

	// Bulk events, when asked for (-events N), published at -rate while the story goes on.
	bulk := d.cfg.Events - storyEvents
	var progressDone chan struct{}
	bulkErr := make(chan error, 1)
	if bulk > 0 {
		d.n.heading("   bulk traffic")
		rate := "as fast as possible"
		if d.cfg.Rate > 0 {
			rate = fmt.Sprintf("%d/s", d.cfg.Rate)
		}
		d.n.say("app", "publish   %d more invoice.paid events at %s (not narrated; 1 in 10 fails once on flaky)", bulk, rate)
		go func() { bulkErr <- d.publishBulk(ctx, s, bulk) }()
		progressDone = make(chan struct{})
		go d.showProgress(ctx, 2*bulk, progressDone)
	} else {
		bulkErr <- nil
	}

	d.n.heading("4. retries on the schedule and Retry-After, a dead letter and its replay")
	// Act 4: retries; the flaky endpoint's persistent failure ends in a dead
	// letter; once it is fixed, the operator replays it.
	var dead sender.AttemptReport
	if err := d.waitFor(ctx, "the dead letter on flaky", func() bool {
		var ok bool
		dead, ok = d.deadLetters[d.eventB+"/flaky"]
		return ok
	}); err != nil {
		return summary{}, err
	}
	d.mu.Lock()
	d.crmFixed = true
	d.mu.Unlock()
	d.n.say("operator", "crm-app fixed; replay dead letter %s (%s to flaky)", dead.DeliveryID, short(dead.EventID))
	if err := s.Replay(ctx, dead.DeliveryID); err != nil {
		return summary{}, err
	}

	// Wait until every delivery that can settle has settled.
	invoices := 4 + bulk
	err = d.waitFor(ctx, "every delivery", func() bool {
		return d.endpoints["healthy"].delivered >= d.cfg.Events+1 && // + the duplicate
			d.endpoints["flaky"].delivered >= invoices &&
			d.endpoints["gone"].disabled != ""
	})
	if progressDone != nil {
		<-progressDone
	}
	if err := errors.Join(<-bulkErr, err); err != nil {
		return summary{}, err
	}
	stopped = true
	if err := shutdown(); err != nil {
		return summary{}, fmt.Errorf("sender shutdown: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := errors.Join(billing.Shutdown(sctx), crm.Shutdown(sctx)); err != nil {
		return summary{}, fmt.Errorf("receiver shutdown: %w", err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	sum := summary{elapsed: time.Since(started)}
	for _, ep := range endpoints {
		st := d.endpoints[ep.ID]
		row := endpointRow{Name: ep.ID, Subscribed: strings.Join(ep.EventTypes, ","), Delivered: st.delivered, Retried: st.retried, Dead: st.dead, Status: "enabled"}
		if st.disabled != "" {
			row.Status = "disabled (" + st.disabled + ")"
			paused, err := s.ListDeliveries(ctx, sender.DeliveryFilter{EndpointID: ep.ID, State: sender.StatePending})
			if err != nil {
				return summary{}, err
			}
			if len(paused) > 0 {
				row.Status += fmt.Sprintf(", %d delivery paused", len(paused))
			}
		}
		sum.endpoints = append(sum.endpoints, row)
	}
	for _, name := range []string{"billing-app", "crm-app"} {
		st := d.receivers[name]
		sum.receivers = append(sum.receivers, receiverRow{Name: name, Accepted: st.accepted, Processed: st.processed, Duplicates: st.duplicates, Rejected: st.rejected})
	}
	return sum, nil
}

// publishBulk publishes n invoice.paid events at cfg.Rate per second (all at
// once when Rate is 0), as an application would while it runs.
func (d *demo) publishBulk(ctx context.Context, s *sender.Sender, n int) error {
	const tick = 10 * time.Millisecond
	perTick := n
	if d.cfg.Rate > 0 {
		perTick = max(1, d.cfg.Rate/int(time.Second/tick))
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for i := 0; i < n; {
		for end := min(n, i+perTick); i < end; i++ {
			ev, err := event.New("invoice.paid", InvoicePaid{InvoiceID: fmt.Sprintf("in_%d", 2000+i), AmountCents: int64(100 + i), Currency: "eur"})
			if err != nil {
				return err
			}
			if i%10 == 9 {
				d.mu.Lock()
				d.flakyBulkFail[ev.ID] = true
				d.mu.Unlock()
			}
			if _, err := s.Publish(ctx, ev); err != nil {
				return err
			}
		}
		if i < n {
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// showProgress reports bulk deliveries until all total are delivered.
func (d *demo) showProgress(ctx context.Context, total int, done chan<- struct{}) {
	defer close(done)
	defer d.n.endProgress()
	last := -1
	for {
		d.mu.Lock()
		n, ch := d.bulkDelivered, d.changed
		d.mu.Unlock()
		switch {
		case d.cfg.Progress && n != last:
			d.n.progress(n, total)
		case !d.cfg.Progress && n*10/total != last*10/total:
			d.n.progress(n, total)
		}
		last = n
		if n >= total {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		select { // redraw at most 10 times a second
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// attack posts a forged request and a replayed one to the billing app.
func (d *demo) attack(ctx context.Context, url, realSecret string) error {
	ev, err := event.New("invoice.paid", InvoicePaid{InvoiceID: "in_6666", AmountCents: 100_000_00, Currency: "eur"})
	if err != nil {
		return err
	}
	body, err := ev.MarshalJSON()
	if err != nil {
		return err
	}
	guessed, err := signature.GenerateSecret()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, a := range []struct {
		what   string
		secret string
		at     time.Time
	}{
		{"forged    invoice.paid signed with a guessed secret", guessed, time.Now()},
		{"replayed  a genuinely signed invoice.paid captured 10 minutes ago", realSecret, time.Now().Add(-10 * time.Minute)},
	} {
		signer, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(a.secret)})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := signer.SignHeader(req.Header, ev.ID, a.at, body); err != nil {
			return err
		}
		d.n.say("attacker", "%s", a.what)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("%s: want 401, got %d", a.what, resp.StatusCode)
		}
	}
	return nil
}
