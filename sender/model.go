package sender

import (
	"fmt"
	"strconv"
	"time"
)

// DeliveryID identifies one delivery: one event to one endpoint. Stores assign
// ids on Publish; they are positive and increase in publish order, which is the
// order in which an Ordered endpoint receives its deliveries.
type DeliveryID int64

// String returns the id in decimal.
func (id DeliveryID) String() string { return strconv.FormatInt(int64(id), 10) }

// DeliveryState is the life-cycle state of a Delivery.
//
//	Publish ─▶ Pending ─Claim─▶ InFlight ─Settle─▶ Delivered
//	              ▲                 │        └────▶ Dead (dead letter) ─Replay─▶ Pending
//	              └──── Retry / Reschedule / Release / lease expiry
type DeliveryState uint8

// Delivery states. The zero value matches any state in filters.
const (
	// StateAny is the zero DeliveryState; in a filter it matches every state.
	StateAny DeliveryState = iota
	// StatePending deliveries wait for their NextAttemptAt.
	StatePending
	// StateInFlight deliveries are leased to a dispatcher (LeaseOwner) until LeaseExpiresAt.
	// A delivery whose lease expired is claimable again.
	StateInFlight
	// StateDelivered deliveries were accepted by the endpoint (2xx).
	StateDelivered
	// StateDead deliveries are dead letters: retries were exhausted or the failure was
	// permanent. LastError holds the reason. Replay sends them again.
	StateDead
)

var stateNames = [...]string{"any", "pending", "in_flight", "delivered", "dead"}

// String returns the lower-case state name ("pending", "in_flight", "delivered",
// "dead"; "any" for the zero value).
func (s DeliveryState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "DeliveryState(" + strconv.Itoa(int(s)) + ")"
}

// Settled reports whether s is a final state (Delivered or Dead).
func (s DeliveryState) Settled() bool { return s == StateDelivered || s == StateDead }

// MarshalText encodes the state as its name.
func (s DeliveryState) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("sender: invalid delivery state %d", s)
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name produced by MarshalText.
func (s *DeliveryState) UnmarshalText(b []byte) error {
	v, err := ParseDeliveryState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseDeliveryState parses a state name ("pending", "in_flight", "delivered",
// "dead" or "any"), as stores that persist states as text need.
func ParseDeliveryState(name string) (DeliveryState, error) {
	for i, n := range stateNames {
		if n == name {
			return DeliveryState(i), nil
		}
	}
	return StateAny, fmt.Errorf("sender: unknown delivery state %q", name)
}

// StoredEvent is an event as a Store keeps it: the exact JSON bytes sent to
// every endpoint, stored once however many endpoints receive it.
type StoredEvent struct {
	// ID is the event id, sent as webhook-id. It is the same for every endpoint and attempt.
	ID string
	// Type is the event type ("invoice.paid").
	Type string
	// Payload is the exact request body (the JSON envelope). Stores copy it on Publish.
	Payload []byte
	// CreatedAt is when the event was published.
	CreatedAt time.Time
	// IdempotencyKey, when not empty, makes Publish idempotent: a second Publish with the
	// same key returns the first result and stores nothing (see Store.Publish).
	IdempotencyKey string
}

// Delivery is one event on its way to one endpoint: its state, attempt count,
// next attempt time and lease.
type Delivery struct {
	// ID is assigned by the store; it orders deliveries in publish order.
	ID DeliveryID
	// EventID is the event being delivered.
	EventID string
	// EventType is the event's type (denormalised for listings and filters).
	EventType string
	// EndpointID is the target endpoint.
	EndpointID string
	// State is the life-cycle state.
	State DeliveryState
	// Attempts counts the HTTP attempts made (settlements that carried an Attempt
	// record). Gate rejections (Reschedule) and Release do not count. Replay resets it.
	Attempts int
	// NextAttemptAt is when a Pending delivery becomes due.
	NextAttemptAt time.Time
	// LeaseOwner is the dispatcher holding an InFlight delivery.
	LeaseOwner string
	// LeaseExpiresAt is when the lease of an InFlight delivery ends; after it the
	// delivery can be claimed again.
	LeaseExpiresAt time.Time
	// LastError is the error of the last failed attempt, or the dead-letter reason.
	LastError string
	// LastStatusCode is the HTTP status of the last attempt (0 if none or no response).
	LastStatusCode int
	// CreatedAt is when the delivery was published.
	CreatedAt time.Time
	// UpdatedAt is when the delivery last changed state; for settled deliveries it is
	// the settlement (delivery or dead-letter) time.
	UpdatedAt time.Time
}

// Attempt is one entry of the attempt log: one HTTP request to an endpoint and
// its outcome. It never holds request headers, so custom header secrets never
// reach the log.
type Attempt struct {
	// DeliveryID identifies the delivery. Stores fill DeliveryID, EventID and
	// EndpointID in from the settled delivery; callers of Settle may leave them empty.
	DeliveryID DeliveryID
	// EventID is the delivered event's id.
	EventID string
	// EndpointID is the target endpoint's id.
	EndpointID string
	// N is the attempt number, starting at 1. Stores fill it in on Settle
	// (Delivery.Attempts after the increment).
	N int
	// StartedAt is when the request was sent.
	StartedAt time.Time
	// Duration is how long the request took, up to the response body cap.
	Duration time.Duration
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Error describes a failure (transport error, non-2xx status); empty on success.
	Error string
	// ResponseSnippet is the start of the response body, at most MaxResponseSnippet bytes.
	ResponseSnippet string
	// NextAttemptAt is when the next attempt is scheduled; zero when there is none
	// (delivered or dead-lettered).
	NextAttemptAt time.Time
	// Outcome is the classification of the attempt: "delivered", "retry", "throttle",
	// "gone" or "permanent" (retry.Kind names), or another short lower-case word.
	Outcome string
}

// MaxResponseSnippet bounds Attempt.ResponseSnippet. Stores truncate longer
// snippets.
const MaxResponseSnippet = 1024

// Claimed is a delivery leased by Claim, with everything needed to attempt it.
//
// Endpoint and Event are snapshots taken at claim time. Their slices and maps
// (Event.Payload, Endpoint.Keys, Endpoint.Headers, …) may be shared between
// claims and with the store and must be treated as read-only.
type Claimed struct {
	// Delivery is the leased delivery (InFlight, LeaseOwner and LeaseExpiresAt set).
	Delivery Delivery
	// Endpoint is the target endpoint as it was at claim time.
	Endpoint Endpoint
	// Event is the stored event with its payload.
	Event StoredEvent
}
