package idempotency

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultRetention is how long a completed key is remembered when Complete is
// called with a zero or negative retention: 72 hours, longer than the retry
// schedule of common webhook senders (Standard Webhooks / Svix retry for
// about 28 hours), so a late redelivery is still recognised as a duplicate.
const DefaultRetention = 72 * time.Hour

// DefaultLease is the lease used when Claim is called with a zero or negative
// lease.
const DefaultLease = 5 * time.Minute

// MaxKeyLen is the longest key, in bytes, that a Store accepts.
const MaxKeyLen = 512

// State is the outcome of a Claim.
type State int

// The states a Claim can report. The zero value is not a valid State, so a
// zero Claim never looks like a granted one.
const (
	// Claimed: the caller now owns the key until its lease expires and must
	// end the claim with Complete (processed) or Release (give up, so that a
	// later redelivery can try again). Claim.Token identifies the owner.
	Claimed State = iota + 1
	// InProgress: someone else holds an unexpired lease on the key. Do not
	// process it; the other owner will complete or release it, or its lease
	// will expire.
	InProgress
	// Done: the key was completed and is still within its retention. It is a
	// duplicate; do not process it again.
	Done
)

// String returns "claimed", "in_progress", "done" or "State(n)".
func (s State) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case InProgress:
		return "in_progress"
	case Done:
		return "done"
	default:
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
}

// Claim is the result of Store.Claim.
type Claim struct {
	// State says whether the caller owns the key (Claimed), someone else does
	// (InProgress) or the key was already processed (Done).
	State State
	// Token identifies the owner of a Claimed key; pass it to Complete or
	// Release. It is empty for InProgress and Done: another owner's token is
	// never revealed.
	Token string
}

// Store records which keys (typically event ids) are being processed or have
// been processed, so that each is processed at most once at a time and not
// again within its retention.
//
// Implementations must be safe for concurrent use, also from several
// processes when they are backed by a shared server (see the redisstore and
// pgstore packages), and must pass the storetest conformance suite.
type Store interface {
	// Claim tries to take ownership of key for lease. It returns Claimed with
	// a fresh token when the key is unknown, its previous lease expired, or its
	// retention after completion ran out; InProgress when another owner holds
	// an unexpired lease; Done when the key was completed within its
	// retention. Of any number of concurrent Claims of one key, at most one
	// returns Claimed. A zero or negative lease means DefaultLease.
	//
	// An error (ErrInvalidKey, ErrFull, or a backend failure wrapping
	// ErrUnavailable) means nothing was claimed: the caller must not process
	// the key, and should make the sender retry later (for example, HTTP 503).
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)

	// Complete marks key as processed and remembers it for retention (zero or
	// negative means DefaultRetention); later Claims report Done. Only the
	// owner may complete: ErrNotOwner when token does not hold the key
	// (another owner re-claimed it after the lease expired), ErrNotFound when
	// nobody holds it (the lease expired, or it was released). Completing a
	// key that this token already completed returns nil and leaves its
	// retention unchanged.
	Complete(ctx context.Context, key, token string, retention time.Duration) error

	// Release gives up an in-progress claim without completing it, deleting
	// it so that the next Claim (a redelivery) gets Claimed at once. Only the
	// owner may release: ErrNotOwner when token does not hold the key or the
	// key was already completed, ErrNotFound when nobody holds it.
	Release(ctx context.Context, key, token string) error
}

// Errors returned by stores. Test with errors.Is: backend errors wrap both
// ErrUnavailable and the driver's error.
var (
	// ErrNotOwner: Complete or Release was called with a token that does not
	// own the key: the lease expired and another caller claimed it, the key
	// was already completed (Release), or the token is wrong. The caller lost
	// ownership; its result must not be recorded.
	ErrNotOwner = errors.New("idempotency: token does not own the key (lease expired and re-claimed, already completed, or wrong token)")

	// ErrNotFound: Complete or Release was called for a key that nobody holds:
	// it was never claimed, its lease expired, or it was released. The caller
	// lost ownership; use a lease longer than the processing takes.
	ErrNotFound = errors.New("idempotency: key is not claimed (never claimed, lease expired, or released)")

	// ErrInvalidKey: the key is empty, longer than MaxKeyLen bytes, not valid
	// UTF-8, or contains a NUL byte. Reject the request (for example, 400).
	ErrInvalidKey = errors.New("idempotency: invalid key (must be 1..512 bytes of UTF-8 without NUL)")

	// ErrFull: a bounded store has no room for a new claim because it is full
	// of in-progress claims, which are never evicted. Answer 503 so that the
	// sender retries later, or raise the store's size limit.
	ErrFull = errors.New("idempotency: store is full of in-progress claims; retry later or raise the size limit")

	// ErrUnavailable is wrapped by every backend failure (network, timeout,
	// server error) of a store that talks to a server. Nothing was claimed or
	// changed for certain; answer 503 so that the sender retries.
	ErrUnavailable = errors.New("idempotency: store unavailable")
)

// ValidateKey reports whether key is acceptable to every Store: 1 to
// MaxKeyLen bytes of valid UTF-8 without NUL bytes (which PostgreSQL text
// columns cannot hold). It returns nil or an error wrapping ErrInvalidKey.
func ValidateKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return ErrInvalidKey
	}
	if strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key) {
		return ErrInvalidKey
	}
	return nil
}

// LeaseOrDefault returns lease, or DefaultLease when lease is zero or negative.
func LeaseOrDefault(lease time.Duration) time.Duration {
	if lease <= 0 {
		return DefaultLease
	}
	return lease
}

// RetentionOrDefault returns retention, or DefaultRetention when retention is
// zero or negative.
func RetentionOrDefault(retention time.Duration) time.Duration {
	if retention <= 0 {
		return DefaultRetention
	}
	return retention
}
