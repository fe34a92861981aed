package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/retry"
)

// EventHandler processes one verified, deduplicated event on a worker. A
// nil error completes the event's claim; an error is retried according to
// Config.Retry unless it was made with retry.Permanent (stop at once) or
// retry.After (wait at least that long). The context is cancelled at the
// shutdown deadline and carries Metadata (see MetadataFrom).
//
// *Router and HandlerFunc implement it.
type EventHandler interface {
	HandleEvent(ctx context.Context, ev event.Event) error
}

// HandlerFunc adapts a function to EventHandler.
type HandlerFunc func(ctx context.Context, ev event.Event) error

// HandleEvent calls f(ctx, ev).
func (f HandlerFunc) HandleEvent(ctx context.Context, ev event.Event) error { return f(ctx, ev) }

// UnknownPolicy says what a Router does with an event type that matches no
// route and no Fallback.
type UnknownPolicy int

const (
	// IgnoreUnknown completes the event without calling any handler, so the
	// sender stops retrying it. The default.
	IgnoreUnknown UnknownPolicy = iota
	// DeadLetterUnknown gives up on the event at once with ErrUnknownType:
	// the DeadLetter hook runs and the claim is released, so a redelivery
	// (after you add a route) is processed.
	DeadLetterUnknown
)

// Router dispatches events to handlers by event type. Patterns are exact
// types ("invoice.paid") or prefix wildcards ending in ".*" ("invoice.*"
// matches "invoice.paid" and "invoice.item.created", not "invoice"); an
// exact route wins over wildcards, and a longer wildcard over a shorter one.
// Types matching nothing go to Fallback if set, otherwise the Unknown
// policy applies.
//
// The zero value is ready to use. Set Unknown and Fallback before the
// Router is used; routes may be added at any time, also concurrently with
// dispatch; registering an invalid or duplicate pattern
// panics, as net/http.ServeMux does, since it is a programming error.
type Router struct {
	// Unknown is the policy for types with no route when Fallback is nil.
	// Defaults to IgnoreUnknown.
	Unknown UnknownPolicy
	// Fallback, when set, handles every type with no route.
	Fallback EventHandler

	mu    sync.Mutex                 // serialises writers
	table atomic.Pointer[routeTable] // immutable snapshot read by dispatch
}

type routeTable struct {
	exact    map[string]EventHandler
	prefixes []prefixRoute // longest first
}

type prefixRoute struct {
	prefix string // "invoice." for "invoice.*"
	h      EventHandler
}

// Handle registers h for pattern. It panics if pattern is empty, malformed
// (a "*" anywhere but a final ".*") or already registered, or h is nil.
func (r *Router) Handle(pattern string, h EventHandler) {
	if h == nil {
		panic("receiver: Router.Handle(" + pattern + "): nil handler")
	}
	if pattern == "" || strings.ContainsAny(pattern, " \t\r\n") ||
		strings.Contains(strings.TrimSuffix(pattern, ".*"), "*") || pattern == ".*" {
		panic(fmt.Sprintf("receiver: Router.Handle(%q): a pattern is an event type or a prefix ending in \".*\"", pattern))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.table.Load()
	t := &routeTable{exact: map[string]EventHandler{}}
	if old != nil {
		for k, v := range old.exact {
			t.exact[k] = v
		}
		t.prefixes = append(t.prefixes, old.prefixes...)
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		for _, p := range t.prefixes {
			if p.prefix == prefix {
				panic(fmt.Sprintf("receiver: Router.Handle(%q): pattern registered twice", pattern))
			}
		}
		t.prefixes = append(t.prefixes, prefixRoute{prefix: prefix, h: h})
		// Keep longest first so the most specific prefix wins.
		for i := len(t.prefixes) - 1; i > 0 && len(t.prefixes[i].prefix) > len(t.prefixes[i-1].prefix); i-- {
			t.prefixes[i], t.prefixes[i-1] = t.prefixes[i-1], t.prefixes[i]
		}
	} else {
		if _, dup := t.exact[pattern]; dup {
			panic(fmt.Sprintf("receiver: Router.Handle(%q): pattern registered twice", pattern))
		}
		t.exact[pattern] = h
	}
	r.table.Store(t)
}

// HandleFunc registers fn for pattern; see Handle.
func (r *Router) HandleFunc(pattern string, fn func(ctx context.Context, ev event.Event) error) {
	if fn == nil {
		panic("receiver: Router.HandleFunc(" + pattern + "): nil handler")
	}
	r.Handle(pattern, HandlerFunc(fn))
}

// Handle registers a typed handler for pattern on r: the event's data is
// decoded into a fresh T with encoding/json before fn is called. A decode
// error is permanent (wrapping ErrDecode): the event is dead-lettered
// without calling fn. See Router.Handle for patterns.
func Handle[T any](r *Router, pattern string, fn func(ctx context.Context, ev event.Event, data T) error) {
	if fn == nil {
		panic("receiver: Handle(" + pattern + "): nil handler")
	}
	r.Handle(pattern, HandlerFunc(func(ctx context.Context, ev event.Event) error {
		var data T
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return retry.Permanent(fmt.Errorf("%w into %T for %s: %w", ErrDecode, data, ev.Type, err))
		}
		return fn(ctx, ev, data)
	}))
}

// Lookup returns the handler for an event type, or nil.
func (r *Router) Lookup(eventType string) EventHandler {
	if t := r.table.Load(); t != nil {
		if h, ok := t.exact[eventType]; ok {
			return h
		}
		for _, p := range t.prefixes {
			if strings.HasPrefix(eventType, p.prefix) {
				return p.h
			}
		}
	}
	return r.Fallback
}

// HandleEvent dispatches ev to its route, Fallback or Unknown policy.
func (r *Router) HandleEvent(ctx context.Context, ev event.Event) error {
	if h := r.Lookup(ev.Type); h != nil {
		return h.HandleEvent(ctx, ev)
	}
	if r.Unknown == DeadLetterUnknown {
		return retry.Permanent(fmt.Errorf("%w %q", ErrUnknownType, ev.Type))
	}
	return nil
}
