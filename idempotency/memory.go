package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// MemoryConfig configures NewMemoryStore. The zero value is usable.
type MemoryConfig struct {
	// Shards is the number of independently locked partitions; keys are
	// spread over them by hash. Defaults to 32.
	Shards int
	// MaxKeys bounds the number of keys held (in progress and completed).
	// Each shard holds at most MaxKeys/Shards (rounded up). When a shard is
	// full, its oldest completed key is evicted first (which may let a very
	// late redelivery through); in-progress claims are never evicted: when a
	// shard holds only live in-progress claims, Claim returns ErrFull.
	// Defaults to 1,000,000, which takes about 170 MB when full of 38-byte
	// event ids (budget roughly 130 bytes per key plus the key itself).
	MaxKeys int
	// Now is the clock used for leases and retention. Defaults to time.Now.
	Now func() time.Time
	// SweepInterval is how often a background goroutine removes expired keys
	// (they are also expired lazily on access). Negative disables the
	// goroutine; call Sweep yourself then. Defaults to 1 minute.
	SweepInterval time.Duration
}

const (
	defaultShards        = 32
	defaultMaxKeys       = 1_000_000
	defaultSweepInterval = time.Minute
)

func (c MemoryConfig) withDefaults() MemoryConfig {
	if c.Shards <= 0 {
		c.Shards = defaultShards
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = defaultMaxKeys
	}
	if c.Shards > c.MaxKeys {
		c.Shards = c.MaxKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = defaultSweepInterval
	}
	return c
}

// MemoryStore is an in-process Store: sharded, with TTL expiry (lazily on
// access and by a periodic sweeper) and a bounded size. It suits a single
// receiver process; replicas behind a load balancer need a shared store
// (redisstore, pgstore). It is safe for concurrent use. Call Close to stop
// its sweeper goroutine; the store stays usable afterwards (expiry is then
// lazy only).
type MemoryStore struct {
	shards   []memShard
	seed     maphash.Seed
	now      func() time.Time
	base     time.Time // nanos are measured from here (monotonic with time.Now)
	mono     bool      // now is time.Now: nanos reads only the monotonic clock
	perShard int
	prefix   string // random per store, makes tokens unique across stores

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ Store = (*MemoryStore)(nil)

const (
	stateProgress uint8 = 1
	stateDone     uint8 = 2
)

// memEntry is 24 bytes: the owner's token is not stored but recomputed from
// seq (see appendToken).
type memEntry struct {
	expires int64 // nanoseconds since MemoryStore.base: lease or retention expiry
	seq     uint64
	state   uint8
}

type doneRef struct {
	key string
	seq uint64
}

type memShard struct {
	mu sync.Mutex
	m  map[string]memEntry
	// done lists completed keys in completion order (oldest first) from
	// index head on; entries whose seq no longer matches m are stale.
	done []doneRef
	head int
	seq  uint64
	// minLease is a lower bound of the lease expiry of every in-progress
	// entry, so a full shard knows when scanning for expired leases is
	// pointless.
	minLease int64
	idx      string
	_        [48]byte // pad to 128 bytes: keep shards on separate cache lines
}

// NewMemoryStore returns a MemoryStore configured by cfg (see MemoryConfig
// for the defaults) and starts its sweeper unless cfg.SweepInterval is
// negative. Call Close when done with it.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	mono := cfg.Now == nil
	cfg = cfg.withDefaults()
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic(fmt.Sprintf("idempotency: reading random bytes: %v", err))
	}
	s := &MemoryStore{
		shards:   make([]memShard, cfg.Shards),
		seed:     maphash.MakeSeed(),
		now:      cfg.Now,
		base:     cfg.Now(),
		mono:     mono,
		perShard: (cfg.MaxKeys + cfg.Shards - 1) / cfg.Shards,
		prefix:   hex.EncodeToString(rnd[:]),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]memEntry)
		s.shards[i].idx = strconv.FormatUint(uint64(i), 36)
		s.shards[i].minLease = maxInt64
	}
	if cfg.SweepInterval > 0 {
		go s.sweepLoop(cfg.SweepInterval)
	} else {
		close(s.done)
	}
	return s
}

const maxInt64 = int64(^uint64(0) >> 1)

// Close stops the sweeper goroutine and waits for it to exit. It is safe to
// call more than once. The store remains usable; expired keys are then only
// removed lazily.
func (s *MemoryStore) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
}

func (s *MemoryStore) sweepLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes every expired key now and returns how many it removed. The
// sweeper calls it periodically; it is exported for stores configured
// without one and for tests.
func (s *MemoryStore) Sweep() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.sweepLocked(s.nanos())
		sh.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held, including expired keys not removed
// yet.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// nanos returns the current time in nanoseconds since s.base. With time.Now
// both readings carry the monotonic clock, so wall-clock jumps (NTP steps)
// neither expire leases early nor keep keys too long.
func (s *MemoryStore) nanos() int64 {
	if s.mono {
		// time.Since on a time with a monotonic reading is that same
		// difference without reading the wall clock.
		return int64(time.Since(s.base))
	}
	return int64(s.now().Sub(s.base))
}

func (s *MemoryStore) shard(key string) *memShard {
	h := maphash.String(s.seed, key)
	return &s.shards[h%uint64(len(s.shards))]
}

// Claim implements Store.
func (s *MemoryStore) Claim(ctx context.Context, key string, lease time.Duration) (Claim, error) {
	if err := ValidateKey(key); err != nil {
		return Claim{}, err
	}
	if err := ctx.Err(); err != nil {
		return Claim{}, err
	}
	lease = LeaseOrDefault(lease)
	now := s.nanos()
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	if ok && e.expires > now {
		sh.mu.Unlock()
		if e.state == stateDone {
			return Claim{State: Done}, nil
		}
		return Claim{State: InProgress}, nil
	}
	if !ok && len(sh.m) >= s.perShard && !sh.makeRoomLocked(now, s.perShard) {
		sh.mu.Unlock()
		return Claim{}, ErrFull
	}
	sh.seq++
	expires := addDur(now, lease)
	e = memEntry{expires: expires, seq: sh.seq, state: stateProgress}
	sh.m[key] = e
	if expires < sh.minLease {
		sh.minLease = expires
	}
	sh.mu.Unlock()
	return Claim{State: Claimed, Token: s.token(sh, e.seq)}, nil
}

// appendToken appends the token of claim number seq in shard sh: the
// store's random prefix, the shard index and seq. Tokens are unique within s
// and, thanks to the random prefix, across stores; they are not stored but
// recomputed to check ownership.
func (s *MemoryStore) appendToken(b []byte, sh *memShard, seq uint64) []byte {
	b = append(b, s.prefix...)
	b = append(b, '.')
	b = append(b, sh.idx...)
	b = append(b, '.')
	return strconv.AppendUint(b, seq, 36)
}

// token returns the token of claim seq in sh (one allocation).
func (s *MemoryStore) token(sh *memShard, seq uint64) string {
	var buf [64]byte
	return string(s.appendToken(buf[:0], sh, seq))
}

// owns reports whether token is the token of claim seq in sh, without
// allocating.
func (s *MemoryStore) owns(sh *memShard, seq uint64, token string) bool {
	var buf [64]byte
	return token != "" && string(s.appendToken(buf[:0], sh, seq)) == token
}

// makeRoomLocked frees one slot in a full shard: the oldest completed key
// first, then any expired key. It reports false when only live in-progress
// claims remain.
func (sh *memShard) makeRoomLocked(now int64, limit int) bool {
	for sh.head < len(sh.done) {
		ref := sh.done[sh.head]
		sh.done[sh.head] = doneRef{}
		sh.head++
		if e, ok := sh.m[ref.key]; ok && e.seq == ref.seq {
			delete(sh.m, ref.key)
			return true
		}
	}
	sh.done, sh.head = sh.done[:0], 0
	if now < sh.minLease {
		return false // no lease can have expired yet
	}
	sh.sweepLocked(now)
	return len(sh.m) < limit
}

// sweepLocked deletes expired entries, recomputes minLease and compacts the
// completion queue.
func (sh *memShard) sweepLocked(now int64) int {
	n := 0
	minLease := maxInt64
	for k, e := range sh.m {
		if e.expires <= now {
			delete(sh.m, k)
			n++
			continue
		}
		if e.state == stateProgress && e.expires < minLease {
			minLease = e.expires
		}
	}
	sh.minLease = minLease
	sh.compactLocked()
	return n
}

// compactLocked drops stale references from the completion queue.
func (sh *memShard) compactLocked() {
	live := sh.done[:0]
	for _, ref := range sh.done[sh.head:] {
		if e, ok := sh.m[ref.key]; ok && e.seq == ref.seq && e.state == stateDone {
			live = append(live, ref)
		}
	}
	clear(sh.done[len(live):])
	sh.done, sh.head = live, 0
}

// Complete implements Store.
func (s *MemoryStore) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	retention = RetentionOrDefault(retention)
	now := s.nanos()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.ownedLocked(sh, key, token, now)
	if err != nil {
		if errors.Is(err, errAlreadyDone) {
			return nil
		}
		return err
	}
	e.state = stateDone
	e.expires = addDur(now, retention)
	sh.m[key] = e
	if live := len(sh.done) - sh.head; live > 2*len(sh.m)+64 {
		sh.compactLocked()
	}
	sh.done = append(sh.done, doneRef{key: key, seq: e.seq})
	return nil
}

// Release implements Store.
func (s *MemoryStore) Release(ctx context.Context, key, token string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.nanos()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, err := s.ownedLocked(sh, key, token, now); err != nil {
		if errors.Is(err, errAlreadyDone) {
			return ErrNotOwner
		}
		return err
	}
	delete(sh.m, key)
	return nil
}

var errAlreadyDone = errors.New("already completed by this token")

// ownedLocked returns key's entry when token holds its live in-progress
// claim, errAlreadyDone when token completed it, or ErrNotFound/ErrNotOwner.
// An expired entry is deleted.
func (s *MemoryStore) ownedLocked(sh *memShard, key, token string, now int64) (memEntry, error) {
	e, ok := sh.m[key]
	if !ok {
		return e, ErrNotFound
	}
	if e.expires <= now {
		delete(sh.m, key)
		return e, ErrNotFound
	}
	if !s.owns(sh, e.seq, token) {
		return e, ErrNotOwner
	}
	if e.state == stateDone {
		return e, errAlreadyDone
	}
	return e, nil
}

// addDur returns now+d in unix nanoseconds, saturating instead of
// overflowing.
func addDur(now int64, d time.Duration) int64 {
	if now > 0 && int64(d) > maxInt64-now {
		return maxInt64
	}
	return now + int64(d)
}
