package sender

import (
	"context"
	"strconv"
	"time"
)

// Store persists endpoints, events, deliveries, the attempt log and dead letters:
// the sender's outbox. MemoryStore (the default) keeps everything in process
// memory; adapters such as sender/pgstore keep it in a database so that
// deliveries survive restarts and many producers share one queue. Every
// implementation must pass the conformance suite in sender/storetest.
//
// Contract shared by all methods:
//   - Stores never read a clock: every time is passed in by the caller (Now
//     fields, CreatedAt/UpdatedAt fields), so tests drive them with a fake clock.
//   - Everything crosses the interface by value. Values returned by a Store are
//     the caller's, except the read-only snapshots inside Claimed (see Claimed).
//     Stores copy what they keep (payloads, maps, slices) from requests.
//   - Errors are the package's sentinels (errors.Is): ErrEndpointNotFound,
//     ErrDuplicateEndpoint, ErrEventNotFound, ErrDeliveryNotFound,
//     ErrEventConflict, ErrLeaseLost (*LeaseLostError), ErrNotReplayable,
//     ErrInvalidRequest; or a wrapped driver error.
//   - A failed call changes nothing, except Settle and ExtendLeases, which apply
//     every item they can and report the others in a *LeaseLostError.
//   - All methods are safe for concurrent use, also from several processes
//     sharing one database.
//
// Stores do not validate endpoints beyond requiring an ID (the Sender calls
// Endpoint.Validate), and do not apply defaults.
type Store interface {
	// CreateEndpoint stores a new endpoint as given (including CreatedAt/UpdatedAt).
	// It returns ErrDuplicateEndpoint if the id is taken, ErrInvalidRequest if the id
	// is empty.
	CreateEndpoint(ctx context.Context, ep Endpoint) error

	// GetEndpoint returns the endpoint with id, or ErrEndpointNotFound.
	GetEndpoint(ctx context.Context, id string) (Endpoint, error)

	// ListEndpoints returns the endpoints matching f, ordered by id.
	ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error)

	// UpdateEndpoint replaces every field of the stored endpoint with ep's, except
	// ID and CreatedAt; it returns ErrEndpointNotFound if there is none. It is a
	// whole-value write: read with GetEndpoint, modify, write back (a concurrent
	// health update from Settle may be overwritten; that is harmless). Enabling a
	// disabled endpoint makes its paused deliveries claimable again.
	UpdateEndpoint(ctx context.Context, ep Endpoint) error

	// DeleteEndpoint removes the endpoint together with its deliveries and their
	// attempt log entries (events stay until pruned). It returns ErrEndpointNotFound
	// if there is none. In-flight attempts of the endpoint then fail to settle
	// with ErrLeaseLost.
	DeleteEndpoint(ctx context.Context, id string) error

	// Publish atomically stores req.Event (once, however many endpoints) and one
	// Pending delivery per id in req.EndpointIDs, due at req.NextAttemptAt (or
	// req.Now). Duplicate ids in req.EndpointIDs count once.
	//
	// An event id that is already stored with the same type and payload adds
	// deliveries only for endpoints that have none for this event yet (one delivery
	// per event and endpoint); with a different type or payload Publish fails with
	// ErrEventConflict. An unknown endpoint id fails with ErrEndpointNotFound. In
	// both cases nothing is stored.
	//
	// With a non-empty req.Event.IdempotencyKey that was already used (and not yet
	// pruned, see PruneRequest.IdempotencyBefore), Publish stores nothing and returns
	// the first publish's result with Duplicate set.
	Publish(ctx context.Context, req PublishRequest) (PublishResult, error)

	// GetEvent returns the stored event with id, or ErrEventNotFound.
	GetEvent(ctx context.Context, id string) (StoredEvent, error)

	// Claim leases up to req.Limit due deliveries to req.Owner until
	// req.Now+req.Lease and returns them InFlight, earliest due first. A delivery is
	// due when it is Pending with NextAttemptAt <= Now, or InFlight with
	// LeaseExpiresAt <= Now (an expired lease: its owner is presumed dead).
	//
	// Claim never hands one delivery to two claimers at once. Deliveries of disabled
	// endpoints are not claimed (they stay Pending, paused, until the endpoint is
	// enabled). For an Ordered endpoint a delivery is claimable only when it is the
	// endpoint's oldest unsettled delivery (lowest ID among Pending and InFlight) and
	// no other delivery of the endpoint holds an unexpired lease: at most one is in
	// flight, retries keep the order, and an older delivery replayed while a newer
	// one is in flight goes next. (Deliveries already in flight when Ordered is
	// turned on finish unordered.)
	//
	// Claim does not count an attempt; Settle does.
	Claim(ctx context.Context, req ClaimRequest) ([]Claimed, error)

	// ExtendLeases moves the lease expiry of req.IDs, held by req.Owner with an
	// unexpired lease at req.Now, to req.Until. Ids not held that way are reported
	// in a *LeaseLostError; the others are extended.
	ExtendLeases(ctx context.Context, req ExtendRequest) error

	// Settle applies the outcomes of claimed deliveries in one batch (see
	// SettleKind). Each settlement requires that req.Owner still holds the delivery
	// with an unexpired lease at req.Now; the others are refused and listed in a
	// *LeaseLostError while the rest are applied. A malformed settlement (unknown
	// kind, an Attempt on Reschedule or Release) fails the whole batch with
	// ErrInvalidRequest before anything is applied.
	//
	// A settlement carrying an Attempt appends it to the attempt log (with
	// DeliveryID, EventID, EndpointID and N filled in) and increments
	// Delivery.Attempts. Health and DisableEndpoint update the delivery's endpoint
	// in the same write.
	Settle(ctx context.Context, req SettleRequest) error

	// NextDue returns the earliest time at which Claim may return something: the
	// smallest NextAttemptAt of a Pending delivery or LeaseExpiresAt of an InFlight
	// one. ok is false when there is nothing pending or in flight. Dispatchers sleep
	// until then (or until a Notifier signal). It may be early (for example for a
	// delivery of a disabled endpoint), never late.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)

	// GetDelivery returns the delivery with id, or ErrDeliveryNotFound.
	GetDelivery(ctx context.Context, id DeliveryID) (Delivery, error)

	// ListDeliveries returns the deliveries matching f, newest (highest ID) first.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)

	// ListAttempts returns attempt log entries matching f, newest first.
	ListAttempts(ctx context.Context, f AttemptFilter) ([]Attempt, error)

	// ListDeadLetters returns Dead deliveries matching f, most recently
	// dead-lettered first (by UpdatedAt, then ID).
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]Delivery, error)

	// Replay sends settled deliveries again (see ReplayRequest): each goes back to
	// Pending, due at req.Now, with Attempts reset to 0, LastError and
	// LastStatusCode cleared; it keeps its id, event id and attempt log. It returns
	// how many deliveries were replayed.
	Replay(ctx context.Context, req ReplayRequest) (int, error)

	// Prune deletes old data (see PruneRequest) and reports how much.
	Prune(ctx context.Context, req PruneRequest) (PruneResult, error)
}

// Notifier is implemented by stores that can wake an idle dispatcher at once
// when work may have become claimable (a publish, a replay, a retry or
// reschedule, a released lease, an endpoint enabled), instead of it sleeping
// until NextDue or polling. MemoryStore implements it; a PostgreSQL store can
// implement it with LISTEN/NOTIFY.
//
// Use it without losing wake-ups by taking the channel before looking for work:
//
//	for {
//		wake := n.Notify()
//		claimed, _ := store.Claim(ctx, req)
//		if len(claimed) == 0 {
//			select { case <-wake: case <-timer: case <-ctx.Done(): }
//		}
//		…
//	}
type Notifier interface {
	// Notify returns a channel that is closed at the next change after the call.
	// Every caller gets the signal (broadcast); each signal is used once.
	Notify() <-chan struct{}
}

// EndpointStatus selects endpoints by their Disabled flag in an EndpointFilter.
type EndpointStatus uint8

// EndpointStatus values.
const (
	// EndpointsAll matches enabled and disabled endpoints (the zero value).
	EndpointsAll EndpointStatus = iota
	// EndpointsEnabled matches endpoints that are not disabled.
	EndpointsEnabled
	// EndpointsDisabled matches disabled endpoints.
	EndpointsDisabled
)

// EndpointFilter selects endpoints in ListEndpoints. Zero fields match everything.
type EndpointFilter struct {
	// EventType, when set, keeps endpoints subscribed to it (Endpoint.Subscribed).
	EventType string
	// Status keeps enabled or disabled endpoints only.
	Status EndpointStatus
	// AfterID is a pagination cursor: only endpoints with an id greater than it.
	AfterID string
	// Limit caps the result; 0 means no limit.
	Limit int
}

// PublishRequest is the input of Store.Publish.
type PublishRequest struct {
	// Event is stored once; its ID, Type and Payload are required.
	Event StoredEvent
	// EndpointIDs are the endpoints that get a delivery. It may be empty (the event
	// is stored, e.g. for idempotency, with no delivery).
	EndpointIDs []string
	// Now is the publish time: CreatedAt and UpdatedAt of the deliveries.
	Now time.Time
	// NextAttemptAt delays the first attempt; zero means Now.
	NextAttemptAt time.Time
}

// PublishResult is the output of Store.Publish.
type PublishResult struct {
	// EventID is the stored event's id.
	EventID string
	// Deliveries are the deliveries created (by the first publish, if Duplicate).
	Deliveries []DeliveryRef
	// Duplicate reports that the idempotency key was seen before and nothing was stored.
	Duplicate bool
}

// DeliveryRef names a delivery and its endpoint.
type DeliveryRef struct {
	// ID is the delivery's id.
	ID DeliveryID
	// EndpointID is the endpoint it goes to.
	EndpointID string
}

// ClaimRequest is the input of Store.Claim. Owner, Limit > 0 and Lease > 0 are
// required.
type ClaimRequest struct {
	// Owner identifies the claiming dispatcher (unique per process/instance).
	Owner string
	// Now is the current time; deliveries due at or before it are claimable.
	Now time.Time
	// Limit is the maximum number of deliveries returned.
	Limit int
	// Lease is how long the claim lasts; the lease expires at Now+Lease.
	Lease time.Duration
}

// ExtendRequest is the input of Store.ExtendLeases.
type ExtendRequest struct {
	// Owner must hold the leases (the ClaimRequest.Owner that claimed them).
	Owner string
	// IDs are the deliveries whose leases to extend.
	IDs []DeliveryID
	// Now is the current time: leases already expired at Now are lost.
	Now time.Time
	// Until is the new lease expiry.
	Until time.Time
}

// SettleKind is what Settle does with a claimed delivery.
type SettleKind uint8

// SettleKind values.
const (
	// SettleDelivered marks the delivery Delivered.
	SettleDelivered SettleKind = iota + 1
	// SettleRetry makes the delivery Pending again, due at NextAttemptAt, after a failed
	// attempt (carry the Attempt so it is counted and logged). Error becomes LastError.
	SettleRetry
	// SettleReschedule makes the delivery Pending again, due at NextAttemptAt, WITHOUT
	// consuming an attempt: for gate rejections (rate limit, concurrency cap, open
	// circuit breaker). It must not carry an Attempt.
	SettleReschedule
	// SettleDead dead-letters the delivery with Error as the reason (exhausted retries,
	// permanent failure, endpoint gone). It may carry the last Attempt.
	SettleDead
	// SettleRelease returns the lease untouched (for example at shutdown): the
	// delivery becomes Pending with its previous NextAttemptAt, so it is due again at
	// once. It must not carry an Attempt.
	SettleRelease
)

var settleKindNames = [...]string{"invalid", "delivered", "retry", "reschedule", "dead", "release"}

// String returns the lower-case kind name.
func (k SettleKind) String() string {
	if int(k) < len(settleKindNames) {
		return settleKindNames[k]
	}
	return "SettleKind(" + strconv.Itoa(int(k)) + ")"
}

// Health is a change to the endpoint's health fields made by a settlement.
type Health uint8

// Health values.
const (
	// HealthUnchanged leaves the endpoint's health fields alone (the zero value).
	HealthUnchanged Health = iota
	// HealthSucceeded records a success at SettleRequest.Now: LastSuccessAt = Now and
	// FailingSince cleared.
	HealthSucceeded
	// HealthFailed records a failure at SettleRequest.Now: LastFailureAt = Now and
	// FailingSince = Now unless already set.
	HealthFailed
)

// Settlement is the outcome of one claimed delivery.
type Settlement struct {
	// DeliveryID is the claimed delivery.
	DeliveryID DeliveryID
	// Kind is what to do with it.
	Kind SettleKind
	// NextAttemptAt is the due time for SettleRetry and SettleReschedule (required).
	NextAttemptAt time.Time
	// Error is the failure (Retry) or dead-letter reason (Dead), stored as
	// Delivery.LastError. Ignored for Delivered, Reschedule and Release.
	Error string
	// Attempt, when not nil, is appended to the attempt log and counted in
	// Delivery.Attempts (its StatusCode becomes LastStatusCode). Not allowed with
	// Reschedule or Release.
	Attempt *Attempt
	// Health updates the endpoint's health fields (for auto-disable).
	Health Health
	// DisableEndpoint, when not empty, disables the delivery's endpoint with this
	// reason (Disabled, DisabledReason, DisabledAt = Now) unless it is already
	// disabled: for 410 Gone or a failing period past the limit.
	DisableEndpoint string
}

// SettleRequest is the input of Store.Settle.
type SettleRequest struct {
	// Owner must hold every delivery settled.
	Owner string
	// Now is the settlement time: UpdatedAt of the deliveries; leases expired at Now
	// are lost.
	Now time.Time
	// Settlements are applied in order.
	Settlements []Settlement
}

// DeliveryFilter selects deliveries in ListDeliveries. Zero fields match everything.
type DeliveryFilter struct {
	// EventID keeps the deliveries of one event.
	EventID string
	// EndpointID keeps the deliveries to one endpoint.
	EndpointID string
	// State keeps deliveries in one state (StateAny: all).
	State DeliveryState
	// Since and Until bound CreatedAt: Since <= CreatedAt < Until.
	Since, Until time.Time
	// BeforeID is a pagination cursor: only deliveries with a smaller id.
	BeforeID DeliveryID
	// Limit caps the result; 0 means DefaultListLimit.
	Limit int
}

// AttemptFilter selects attempt log entries in ListAttempts. Zero fields match
// everything.
type AttemptFilter struct {
	// EventID keeps the attempts of one event (to every endpoint).
	EventID string
	// EndpointID keeps the attempts to one endpoint.
	EndpointID string
	// DeliveryID keeps the attempts of one delivery.
	DeliveryID DeliveryID
	// Outcome keeps attempts with this Attempt.Outcome.
	Outcome string
	// Failed keeps only attempts with an Error.
	Failed bool
	// Since and Until bound StartedAt: Since <= StartedAt < Until.
	Since, Until time.Time
	// Limit caps the result; 0 means DefaultListLimit.
	Limit int
}

// DeadLetterFilter selects dead letters in ListDeadLetters. Zero fields match
// everything.
type DeadLetterFilter struct {
	// EndpointID keeps the dead letters of one endpoint.
	EndpointID string
	// EventType keeps the dead letters of one event type (exact match).
	EventType string
	// Since and Until bound the dead-letter time (UpdatedAt): Since <= t < Until.
	Since, Until time.Time
	// Limit caps the result; 0 means DefaultListLimit.
	Limit int
}

// DefaultListLimit is the result cap of list calls whose Limit is 0.
const DefaultListLimit = 100

// ReplayRequest selects settled deliveries to send again. Set exactly one of
// DeliveryID and EndpointID, or neither with a non-zero Since:
//   - DeliveryID: that delivery, if Dead or Delivered (ErrNotReplayable if it is
//     still Pending or InFlight, ErrDeliveryNotFound if unknown).
//   - EndpointID: every dead letter of the endpoint (ErrEndpointNotFound if unknown),
//     dead-lettered at or after Since when Since is set.
//   - Since alone: every dead letter dead-lettered at or after Since.
type ReplayRequest struct {
	// DeliveryID replays one delivery.
	DeliveryID DeliveryID
	// EndpointID replays an endpoint's dead letters.
	EndpointID string
	// Since keeps dead letters dead-lettered at or after it (with EndpointID or alone).
	Since time.Time
	// Now is the replay time: the new NextAttemptAt and UpdatedAt.
	Now time.Time
}

// PruneRequest selects old data to delete. Each zero cutoff prunes nothing of
// its kind.
type PruneRequest struct {
	// DeliveredBefore deletes Delivered deliveries settled (UpdatedAt) before it, with
	// their attempt log entries.
	DeliveredBefore time.Time
	// DeadBefore deletes dead letters dead-lettered before it, with their attempt log
	// entries. Dead letters usually deserve a longer retention.
	DeadBefore time.Time
	// AttemptsBefore deletes attempt log entries that started before it, whatever the
	// state of their delivery.
	AttemptsBefore time.Time
	// IdempotencyBefore forgets idempotency keys of events created before it, so a
	// publish with the same key creates new deliveries again.
	IdempotencyBefore time.Time
}

// PruneResult counts what Prune deleted. Events are deleted once they have no
// delivery left and were created before the largest of DeliveredBefore and
// DeadBefore; an event's idempotency key goes with it.
type PruneResult struct {
	// Deliveries is the number of settled deliveries deleted.
	Deliveries int
	// Attempts is the number of attempt log entries deleted.
	Attempts int
	// Events is the number of events deleted.
	Events int
	// IdempotencyKeys is the number of idempotency keys forgotten.
	IdempotencyKeys int
}
