// Package redisstore is an idempotency.Store on Redis (go-redis/v9), shared
// by every receiver replica that uses the same Redis and key prefix.
//
// # Data model
//
// Each idempotency key is one Redis string key, <Prefix>{<key>}: while a
// claim is in progress it holds the owner's token and expires with the lease
// (PX); once completed it holds "done:<token>" and expires with the
// retention. Expiry is Redis's own, so a crashed owner's claim simply
// disappears when its lease runs out and the next Claim gets it.
//
// Claim is one atomic Lua script (SET NX PX, and when the key exists a GET to
// tell in-progress from done): one round trip. Complete and Release are Lua
// scripts that compare the stored token first, so only the owner can complete
// or release. Scripts are sent with EVALSHA and fall back to EVAL when the
// server does not have them cached (redis.Script).
//
// # Redis Cluster
//
// The braces around the key make it a hash tag: the cluster slot is computed
// from the idempotency key alone, so any companion keys written for it in the
// future land in the same slot, and every script touches exactly one key
// (declared in KEYS), as Cluster requires. A key containing '}' still maps
// deterministically (the tag ends at the first '}').
//
// # Guarantees
//
// With a single Redis primary, Claim is exclusive. Redis replication is
// asynchronous: a failover can lose a recent claim or completion, which can
// let a duplicate through once; use pgstore when that is not acceptable.
// Any Redis failure is returned wrapped in idempotency.ErrUnavailable (and the
// driver's error), never as a Claimed result: answer 503 so the sender
// retries.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/idempotency"
)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "hookkit:idem:"

// Config configures New.
type Config struct {
	// Client is the Redis client (a *redis.Client, *redis.ClusterClient or
	// *redis.Ring). Required. The store does not close it.
	Client redis.UniversalClient
	// Prefix is prepended to every key, so that several applications or
	// environments can share a Redis. Defaults to DefaultPrefix
	// ("hookkit:idem:").
	Prefix string
}

// Store is an idempotency.Store on Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string

	tokenPrefix string
	counter     atomic.Uint64
}

var _ idempotency.Store = (*Store)(nil)

// ErrNoClient is returned by New when Config.Client is nil.
var ErrNoClient = errors.New("redisstore: Config.Client is required")

// New returns a Store using cfg. It does not contact Redis.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, ErrNoClient
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("redisstore: reading random bytes: %w", err)
	}
	return &Store{
		client:      cfg.Client,
		prefix:      cfg.Prefix,
		tokenPrefix: hex.EncodeToString(rnd[:]) + ".",
	}, nil
}

// Key returns the Redis key holding the idempotency key: Prefix + "{" + key +
// "}".
func (s *Store) Key(key string) string {
	return s.prefix + "{" + key + "}"
}

// token returns a token unique across processes: 96 random bits per Store
// plus a counter.
func (s *Store) token() string {
	return s.tokenPrefix + strconv.FormatUint(s.counter.Add(1), 36)
}

const donePrefix = "done:"

// claimScript: KEYS[1] key, ARGV[1] token, ARGV[2] lease in ms.
// Returns 1 claimed, 2 in progress, 3 done.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 5) == 'done:' then
  return 3
end
return 2
`)

// completeScript: KEYS[1] key, ARGV[1] token, ARGV[2] retention in ms.
// Returns 1 completed (or already completed by this token), 0 not found,
// -1 not owner.
var completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return 0
end
if v == ARGV[1] then
  redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == 'done:' .. ARGV[1] then
  return 1
end
return -1
`)

// releaseScript: KEYS[1] key, ARGV[1] token. Returns 1 released, 0 not
// found, -1 not owner (including a completed key).
var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return 0
end
if v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return -1
`)

// millis converts d to whole milliseconds, rounding up, at least 1: Redis
// rejects PX 0, and rounding down could expire a lease early.
func millis(d time.Duration) int64 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	return int64(ms)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, idempotency.ErrUnavailable, err)
}

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if err := idempotency.ValidateKey(key); err != nil {
		return idempotency.Claim{}, err
	}
	if err := ctx.Err(); err != nil {
		return idempotency.Claim{}, unavailable("claim", err)
	}
	tok := s.token()
	res, err := claimScript.Run(ctx, s.client, []string{s.Key(key)}, tok, millis(idempotency.LeaseOrDefault(lease))).Int64()
	if err != nil {
		return idempotency.Claim{}, unavailable("claim", err)
	}
	switch res {
	case 1:
		return idempotency.Claim{State: idempotency.Claimed, Token: tok}, nil
	case 2:
		return idempotency.Claim{State: idempotency.InProgress}, nil
	case 3:
		return idempotency.Claim{State: idempotency.Done}, nil
	default:
		return idempotency.Claim{}, fmt.Errorf("redisstore: claim: %w: unexpected script result %d", idempotency.ErrUnavailable, res)
	}
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if err := idempotency.ValidateKey(key); err != nil {
		return err
	}
	if !validToken(token) {
		return idempotency.ErrNotOwner
	}
	res, err := completeScript.Run(ctx, s.client, []string{s.Key(key)}, token, millis(idempotency.RetentionOrDefault(retention))).Int64()
	if err != nil {
		return unavailable("complete", err)
	}
	return result("complete", res)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := idempotency.ValidateKey(key); err != nil {
		return err
	}
	if !validToken(token) {
		return idempotency.ErrNotOwner
	}
	res, err := releaseScript.Run(ctx, s.client, []string{s.Key(key)}, token).Int64()
	if err != nil {
		return unavailable("release", err)
	}
	return result("release", res)
}

// validToken rejects tokens this store never issues, in particular
// "done:…", which would match a completed key's stored value.
func validToken(token string) bool {
	return token != "" && !strings.HasPrefix(token, donePrefix)
}

func result(op string, res int64) error {
	switch res {
	case 1:
		return nil
	case 0:
		return idempotency.ErrNotFound
	case -1:
		return idempotency.ErrNotOwner
	default:
		return fmt.Errorf("redisstore: %s: %w: unexpected script result %d", op, idempotency.ErrUnavailable, res)
	}
}
