package sender

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemoryStoreConfig configures NewMemoryStore. The zero value is ready to use;
// it has no fields yet and exists so options can be added without breaking
// callers.
type MemoryStoreConfig struct{}

// MemoryStore is the in-process Store and the Sender's default: it needs no
// set-up, and it does not survive a restart — pending deliveries, dead letters
// and the attempt log live in process memory and are lost with the process.
// Use a database-backed store (sender/pgstore) when deliveries must outlive the
// process or be shared by several producers.
//
// It is built for large backlogs: due deliveries sit in a min-heap ordered by
// due time (lease expiry for in-flight ones), so Claim costs O(k log n) for k
// claimed deliveries, not a scan; a pending delivery costs a few hundred bytes
// beyond its event's payload, which is stored once per event. Listing,
// replay-by-endpoint, pruning and endpoint deletion scan the store and are
// meant for operators, not hot paths. One mutex guards everything; claims and
// settlements are batched, so it is not a bottleneck at tens of thousands of
// deliveries per second.
//
// MemoryStore implements Notifier: Publish, Replay, retries, reschedules,
// released leases and enabling an endpoint wake a waiting dispatcher at once.
// It is safe for concurrent use.
type MemoryStore struct {
	mu         sync.Mutex
	endpoints  map[string]*memEndpoint
	events     map[string]*memEvent
	deliveries map[DeliveryID]*memDelivery
	idem       map[string]*memIdem
	types      map[string]string // interned event type names
	due        memHeap           // Pending (by NextAttemptAt) and InFlight (by lease expiry)
	attempts   attemptLog        // the attempt log, in settlement order
	lastID     DeliveryID
	wake       chan struct{} // closed on the next change, created by Notify
}

var (
	_ Store    = (*MemoryStore)(nil)
	_ Notifier = (*MemoryStore)(nil)
)

type memEndpoint struct {
	ep Endpoint // private deep copy; handed out as a read-only snapshot by Claim
	// queue holds the unsettled deliveries of an Ordered endpoint, sorted by id.
	// Only active is in the heap (or parked, or in flight); the others wait.
	queue  []*memDelivery
	active *memDelivery
	// parked holds deliveries found due while the endpoint was disabled.
	parked []*memDelivery
}

type memEvent struct {
	ev         StoredEvent // Payload is the store's own copy
	deliveries []*memDelivery
}

type memIdem struct {
	ev      *memEvent
	created int64
	refs    []DeliveryRef
}

// memDelivery is kept compact: times are UnixNano ints, strings are shared with
// the event and endpoint.
type memDelivery struct {
	id        DeliveryID
	ev        *memEvent
	ep        *memEndpoint
	nextAt    int64
	leaseExp  int64
	createdAt int64
	updatedAt int64
	owner     string
	lastError string
	attempts  int32
	heapIdx   int32 // -1 when not in the heap
	status    int16
	state     DeliveryState
	parked    bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) *MemoryStore {
	_ = cfg
	return &MemoryStore{
		endpoints:  make(map[string]*memEndpoint),
		events:     make(map[string]*memEvent),
		deliveries: make(map[DeliveryID]*memDelivery),
		idem:       make(map[string]*memIdem),
		types:      make(map[string]string),
	}
}

func toNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Notify implements Notifier: the returned channel is closed at the next change
// that may make work claimable.
func (s *MemoryStore) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	return s.wake
}

// signal wakes Notify waiters. s.mu must be held.
func (s *MemoryStore) signal() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// CreateEndpoint implements Store. It keeps a deep copy of ep.
func (s *MemoryStore) CreateEndpoint(ctx context.Context, ep Endpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ep.ID == "" {
		return fmt.Errorf("%w: endpoint id is empty", ErrInvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[ep.ID]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateEndpoint, ep.ID)
	}
	s.endpoints[ep.ID] = &memEndpoint{ep: ep.Clone()}
	return nil
}

// GetEndpoint implements Store. The result is a deep copy.
func (s *MemoryStore) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return Endpoint{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.endpoints[id]
	if !ok {
		return Endpoint{}, fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
	}
	return me.ep.Clone(), nil
}

// ListEndpoints implements Store. It scans the endpoints and returns deep copies.
func (s *MemoryStore) ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Endpoint
	for id, me := range s.endpoints {
		if f.AfterID != "" && id <= f.AfterID {
			continue
		}
		switch f.Status {
		case EndpointsEnabled:
			if me.ep.Disabled {
				continue
			}
		case EndpointsDisabled:
			if !me.ep.Disabled {
				continue
			}
		}
		if f.EventType != "" && !me.ep.Subscribed(f.EventType) {
			continue
		}
		out = append(out, me.ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, nil
}

// UpdateEndpoint implements Store. Changing Ordered scans every delivery once.
func (s *MemoryStore) UpdateEndpoint(ctx context.Context, ep Endpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.endpoints[ep.ID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrEndpointNotFound, ep.ID)
	}
	old := me.ep
	ep = ep.Clone()
	ep.CreatedAt = old.CreatedAt
	me.ep = ep
	changed := false
	switch {
	case ep.Ordered && !old.Ordered:
		s.makeOrdered(me)
		changed = true
	case !ep.Ordered && old.Ordered:
		s.makeUnordered(me)
		changed = true
	}
	if old.Disabled && !ep.Disabled {
		for _, d := range me.parked {
			d.parked = false
			s.due.push(d)
		}
		me.parked = nil
		changed = true
	}
	if changed {
		s.signal()
	}
	return nil
}

// makeOrdered turns an endpoint's unsettled deliveries into a FIFO queue. It
// scans every delivery: changing Ordered is rare.
func (s *MemoryStore) makeOrdered(me *memEndpoint) {
	me.queue = me.queue[:0]
	for _, d := range s.deliveries {
		if d.ep == me && !d.state.Settled() {
			me.queue = append(me.queue, d)
		}
	}
	slices.SortFunc(me.queue, func(a, b *memDelivery) int { return cmpID(a.id, b.id) })
	me.active = nil
	me.parked = nil
	for _, d := range me.queue {
		d.parked = false
		if d.state == StateInFlight {
			// Already in flight: let it finish, holding back the queue meanwhile.
			// (Several in flight at once finish unordered.)
			if me.active == nil {
				me.active = d
			}
			continue
		}
		s.due.remove(d)
	}
	s.activate(me)
}

// makeUnordered releases an endpoint's FIFO queue into the heap.
func (s *MemoryStore) makeUnordered(me *memEndpoint) {
	for _, d := range me.queue {
		if d.heapIdx < 0 && !d.parked {
			s.due.push(d)
		}
	}
	me.queue = nil
	me.active = nil
}

func cmpID(a, b DeliveryID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// activate makes the oldest queued delivery of an Ordered endpoint claimable
// when none is active.
func (s *MemoryStore) activate(me *memEndpoint) {
	if me.active != nil || len(me.queue) == 0 {
		return
	}
	d := me.queue[0]
	me.active = d
	if d.heapIdx < 0 && !d.parked {
		s.due.push(d)
	}
}

// enqueueOrdered adds an unsettled delivery to an Ordered endpoint's queue.
func (s *MemoryStore) enqueueOrdered(me *memEndpoint, d *memDelivery) {
	i, _ := slices.BinarySearchFunc(me.queue, d.id, func(x *memDelivery, id DeliveryID) int { return cmpID(x.id, id) })
	me.queue = slices.Insert(me.queue, i, d)
	if a := me.active; a != nil && a.state == StatePending && d.id < a.id {
		// An older delivery (a replay) goes before a pending active one.
		s.due.remove(a)
		s.unpark(me, a)
		me.active = nil
	}
	s.activate(me)
}

func (s *MemoryStore) unpark(me *memEndpoint, d *memDelivery) {
	if !d.parked {
		return
	}
	d.parked = false
	if i := slices.Index(me.parked, d); i >= 0 {
		me.parked = slices.Delete(me.parked, i, i+1)
	}
}

// schedule puts a Pending delivery where it belongs: the heap, or the FIFO
// queue of an Ordered endpoint.
func (s *MemoryStore) schedule(d *memDelivery) {
	if d.ep.ep.Ordered {
		s.enqueueOrdered(d.ep, d)
		return
	}
	s.due.push(d)
}

// reschedule re-positions a delivery that left InFlight for Pending.
func (s *MemoryStore) reschedule(d *memDelivery) {
	me := d.ep
	if !me.ep.Ordered {
		s.due.fix(d)
		return
	}
	if me.active != d || me.queue[0] != d {
		// No longer in flight and not the oldest unsettled delivery (an older one
		// was replayed meanwhile, or it was in flight when the endpoint became
		// Ordered): it waits its turn, and the oldest one goes next.
		s.due.remove(d)
		if me.active == d {
			me.active = nil
		}
		s.activate(me)
		return
	}
	s.due.fix(d)
}

// finish removes a settled (or deleted) delivery from the heap and its queue.
func (s *MemoryStore) finish(d *memDelivery) {
	s.due.remove(d)
	me := d.ep
	s.unpark(me, d)
	if len(me.queue) > 0 {
		if i := slices.Index(me.queue, d); i >= 0 {
			me.queue = slices.Delete(me.queue, i, i+1)
		}
		if me.active == d {
			me.active = nil
		}
		s.activate(me)
	}
}

// DeleteEndpoint implements Store. It scans every delivery and the attempt log.
func (s *MemoryStore) DeleteEndpoint(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.endpoints[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
	}
	delete(s.endpoints, id)
	gone := make(map[DeliveryID]struct{})
	for did, d := range s.deliveries {
		if d.ep != me {
			continue
		}
		s.due.remove(d)
		s.detachFromEvent(d)
		delete(s.deliveries, did)
		gone[did] = struct{}{}
	}
	if len(gone) > 0 {
		s.attempts.deleteFunc(func(a *Attempt) bool {
			_, ok := gone[a.DeliveryID]
			return ok
		})
	}
	return nil
}

func (s *MemoryStore) detachFromEvent(d *memDelivery) {
	ev := d.ev
	if i := slices.Index(ev.deliveries, d); i >= 0 {
		ev.deliveries = slices.Delete(ev.deliveries, i, i+1)
	}
}

// Publish implements Store. The payload is copied once per event.
func (s *MemoryStore) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	if err := ctx.Err(); err != nil {
		return PublishResult{}, err
	}
	e := req.Event
	if e.ID == "" || e.Type == "" || len(e.Payload) == 0 {
		return PublishResult{}, fmt.Errorf("%w: the event needs an id, a type and a payload", ErrInvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.IdempotencyKey != "" {
		if ik, ok := s.idem[e.IdempotencyKey]; ok {
			return PublishResult{EventID: ik.ev.ev.ID, Deliveries: slices.Clone(ik.refs), Duplicate: true}, nil
		}
	}
	// Resolve endpoints first: nothing is stored if one is unknown.
	eps := make([]*memEndpoint, 0, len(req.EndpointIDs))
	var seen map[*memEndpoint]struct{} // for large fan-outs only
	if len(req.EndpointIDs) > 16 {
		seen = make(map[*memEndpoint]struct{}, len(req.EndpointIDs))
	}
	for _, id := range req.EndpointIDs {
		me, ok := s.endpoints[id]
		if !ok {
			return PublishResult{}, fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
		}
		if seen != nil {
			if _, dup := seen[me]; dup {
				continue
			}
			seen[me] = struct{}{}
		} else if slices.Contains(eps, me) {
			continue
		}
		eps = append(eps, me)
	}
	ev, exists := s.events[e.ID]
	if exists {
		if ev.ev.Type != e.Type || string(ev.ev.Payload) != string(e.Payload) {
			return PublishResult{}, fmt.Errorf("%w: %q", ErrEventConflict, e.ID)
		}
	} else {
		typ, ok := s.types[e.Type]
		if !ok {
			typ = e.Type
			s.types[typ] = typ
		}
		created := e.CreatedAt
		if created.IsZero() {
			created = req.Now
		}
		ev = &memEvent{ev: StoredEvent{
			ID:             e.ID,
			Type:           typ,
			Payload:        slices.Clone(e.Payload),
			CreatedAt:      created,
			IdempotencyKey: e.IdempotencyKey,
		}}
		s.events[e.ID] = ev
	}
	now := toNano(req.Now)
	next := now
	if !req.NextAttemptAt.IsZero() {
		next = toNano(req.NextAttemptAt)
	}
	res := PublishResult{EventID: e.ID}
	if len(eps) > 0 {
		res.Deliveries = make([]DeliveryRef, 0, len(eps))
	}
	var have map[*memEndpoint]struct{} // endpoints that already have a delivery of this event
	if exists {
		have = make(map[*memEndpoint]struct{}, len(ev.deliveries))
		for _, d := range ev.deliveries {
			have[d.ep] = struct{}{}
		}
	}
	for _, me := range eps {
		if _, dup := have[me]; dup {
			continue // one delivery per event and endpoint
		}
		s.lastID++
		d := &memDelivery{
			id:        s.lastID,
			ev:        ev,
			ep:        me,
			nextAt:    next,
			createdAt: now,
			updatedAt: now,
			heapIdx:   -1,
			state:     StatePending,
		}
		s.deliveries[d.id] = d
		ev.deliveries = append(ev.deliveries, d)
		s.schedule(d)
		res.Deliveries = append(res.Deliveries, DeliveryRef{ID: d.id, EndpointID: me.ep.ID})
	}
	if e.IdempotencyKey != "" {
		s.idem[e.IdempotencyKey] = &memIdem{ev: ev, created: toNano(ev.ev.CreatedAt), refs: slices.Clone(res.Deliveries)}
	}
	if len(res.Deliveries) > 0 {
		s.signal()
	}
	return res, nil
}

// GetEvent implements Store. The payload is a copy.
func (s *MemoryStore) GetEvent(ctx context.Context, id string) (StoredEvent, error) {
	if err := ctx.Err(); err != nil {
		return StoredEvent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	if !ok {
		return StoredEvent{}, fmt.Errorf("%w: %q", ErrEventNotFound, id)
	}
	out := ev.ev
	out.Payload = slices.Clone(out.Payload)
	return out, nil
}

// Claim implements Store. It takes O(k log n) for k deliveries claimed out of
// n pending or in flight.
func (s *MemoryStore) Claim(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Owner == "" || req.Limit <= 0 || req.Lease <= 0 {
		return nil, fmt.Errorf("%w: Claim needs an Owner, a Limit > 0 and a Lease > 0", ErrInvalidRequest)
	}
	now := toNano(req.Now)
	until := now + int64(req.Lease)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Claimed
	for len(out) < req.Limit && len(s.due) > 0 {
		d := s.due[0]
		if d.dueAt() > now {
			break
		}
		me := d.ep
		if me.ep.Ordered && (me.active != d || me.queue[0] != d) {
			// Not the endpoint's oldest unsettled delivery: one in flight from before
			// the endpoint became Ordered, or an active one overtaken by an older
			// replayed delivery. It waits its turn in the queue.
			s.due.remove(d)
			if d.state == StateInFlight {
				d.state, d.owner, d.leaseExp = StatePending, "", 0
			}
			if me.active == d {
				me.active = nil
			}
			s.activate(me)
			continue
		}
		if me.ep.Disabled {
			s.due.remove(d)
			if d.state == StateInFlight {
				d.state, d.owner, d.leaseExp = StatePending, "", 0
			}
			d.parked = true
			me.parked = append(me.parked, d)
			continue
		}
		d.state = StateInFlight
		d.owner = req.Owner
		d.leaseExp = until
		d.updatedAt = now
		s.due.fix(d)
		if out == nil {
			out = make([]Claimed, 0, min(req.Limit, len(s.due)))
		}
		out = append(out, Claimed{
			Delivery: s.delivery(d),
			Endpoint: me.ep,
			Event:    d.ev.ev,
		})
	}
	return out, nil
}

func (s *MemoryStore) delivery(d *memDelivery) Delivery {
	return Delivery{
		ID:             d.id,
		EventID:        d.ev.ev.ID,
		EventType:      d.ev.ev.Type,
		EndpointID:     d.ep.ep.ID,
		State:          d.state,
		Attempts:       int(d.attempts),
		NextAttemptAt:  fromNano(d.nextAt),
		LeaseOwner:     d.owner,
		LeaseExpiresAt: fromNano(d.leaseExp),
		LastError:      d.lastError,
		LastStatusCode: int(d.status),
		CreatedAt:      fromNano(d.createdAt),
		UpdatedAt:      fromNano(d.updatedAt),
	}
}

// held reports whether owner holds d with a lease unexpired at now.
func held(d *memDelivery, owner string, now int64) bool {
	return d != nil && d.state == StateInFlight && d.owner == owner && d.leaseExp > now
}

// ExtendLeases implements Store in O(log n) per id.
func (s *MemoryStore) ExtendLeases(ctx context.Context, req ExtendRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Owner == "" || !req.Until.After(req.Now) {
		return fmt.Errorf("%w: ExtendLeases needs an Owner and Until after Now", ErrInvalidRequest)
	}
	now, until := toNano(req.Now), toNano(req.Until)
	s.mu.Lock()
	defer s.mu.Unlock()
	var lost []DeliveryID
	for _, id := range req.IDs {
		d := s.deliveries[id]
		if !held(d, req.Owner, now) {
			lost = append(lost, id)
			continue
		}
		d.leaseExp = until
		s.due.fix(d)
	}
	if lost != nil {
		return &LeaseLostError{IDs: lost}
	}
	return nil
}

func validateSettlement(st Settlement) error {
	switch st.Kind {
	case SettleDelivered, SettleDead:
	case SettleRetry, SettleReschedule:
		if st.NextAttemptAt.IsZero() {
			return fmt.Errorf("%w: settlement %s of delivery %d needs a NextAttemptAt", ErrInvalidRequest, st.Kind, st.DeliveryID)
		}
		if st.Kind == SettleReschedule && st.Attempt != nil {
			return fmt.Errorf("%w: a reschedule consumes no attempt and cannot carry one (delivery %d)", ErrInvalidRequest, st.DeliveryID)
		}
	case SettleRelease:
		if st.Attempt != nil {
			return fmt.Errorf("%w: a release cannot carry an attempt (delivery %d)", ErrInvalidRequest, st.DeliveryID)
		}
	default:
		return fmt.Errorf("%w: unknown settlement kind %d (delivery %d)", ErrInvalidRequest, st.Kind, st.DeliveryID)
	}
	if st.Health > HealthFailed {
		return fmt.Errorf("%w: unknown health change %d (delivery %d)", ErrInvalidRequest, st.Health, st.DeliveryID)
	}
	return nil
}

// Settle implements Store in O(log n) per settlement.
func (s *MemoryStore) Settle(ctx context.Context, req SettleRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Owner == "" {
		return fmt.Errorf("%w: Settle needs an Owner", ErrInvalidRequest)
	}
	for _, st := range req.Settlements {
		if err := validateSettlement(st); err != nil {
			return err
		}
	}
	now := toNano(req.Now)
	s.mu.Lock()
	defer s.mu.Unlock()
	var lost []DeliveryID
	wake := false
	for _, st := range req.Settlements {
		d := s.deliveries[st.DeliveryID]
		if !held(d, req.Owner, now) {
			lost = append(lost, st.DeliveryID)
			continue
		}
		if st.Attempt != nil {
			a := *st.Attempt
			d.attempts++
			a.DeliveryID, a.EventID, a.EndpointID, a.N = d.id, d.ev.ev.ID, d.ep.ep.ID, int(d.attempts)
			if len(a.ResponseSnippet) > MaxResponseSnippet {
				a.ResponseSnippet = a.ResponseSnippet[:MaxResponseSnippet]
			}
			s.attempts.append(a)
			d.status = int16(min(max(a.StatusCode, 0), 999))
		}
		d.updatedAt = now
		d.owner, d.leaseExp = "", 0
		switch st.Kind {
		case SettleDelivered:
			d.state, d.lastError = StateDelivered, ""
			s.finish(d)
			wake = wake || d.ep.ep.Ordered
		case SettleDead:
			d.state, d.lastError = StateDead, st.Error
			s.finish(d)
			wake = wake || d.ep.ep.Ordered
		case SettleRetry:
			d.state, d.lastError, d.nextAt = StatePending, st.Error, toNano(st.NextAttemptAt)
			s.reschedule(d)
			wake = true
		case SettleReschedule:
			d.state, d.nextAt = StatePending, toNano(st.NextAttemptAt)
			s.reschedule(d)
			wake = true
		case SettleRelease:
			d.state = StatePending
			s.reschedule(d)
			wake = true
		}
		ep := &d.ep.ep
		switch st.Health {
		case HealthSucceeded:
			ep.LastSuccessAt, ep.FailingSince = req.Now, time.Time{}
		case HealthFailed:
			ep.LastFailureAt = req.Now
			if ep.FailingSince.IsZero() {
				ep.FailingSince = req.Now
			}
		}
		if st.DisableEndpoint != "" && !ep.Disabled {
			ep.Disabled, ep.DisabledReason, ep.DisabledAt, ep.UpdatedAt = true, st.DisableEndpoint, req.Now, req.Now
		}
	}
	if wake {
		s.signal()
	}
	if lost != nil {
		return &LeaseLostError{IDs: lost}
	}
	return nil
}

// NextDue implements Store in O(1).
func (s *MemoryStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.due) == 0 {
		return time.Time{}, false, nil
	}
	return time.Unix(0, s.due[0].dueAt()).UTC(), true, nil
}

// GetDelivery implements Store in O(1).
func (s *MemoryStore) GetDelivery(ctx context.Context, id DeliveryID) (Delivery, error) {
	if err := ctx.Err(); err != nil {
		return Delivery{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok {
		return Delivery{}, fmt.Errorf("%w: %d", ErrDeliveryNotFound, id)
	}
	return s.delivery(d), nil
}

func limitOf(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return n
}

func inRange(t int64, since, until time.Time) bool {
	if !since.IsZero() && t < since.UnixNano() {
		return false
	}
	if !until.IsZero() && t >= until.UnixNano() {
		return false
	}
	return true
}

// ListDeliveries implements Store. It scans the store unless f.EventID is set.
func (s *MemoryStore) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(d *memDelivery) bool {
		return (f.EndpointID == "" || d.ep.ep.ID == f.EndpointID) &&
			(f.EventID == "" || d.ev.ev.ID == f.EventID) &&
			(f.State == StateAny || d.state == f.State) &&
			(f.BeforeID == 0 || d.id < f.BeforeID) &&
			inRange(d.createdAt, f.Since, f.Until)
	}
	top := newTopK(limitOf(f.Limit), func(a, b *memDelivery) int { return cmpID(b.id, a.id) })
	if f.EventID != "" {
		if ev, ok := s.events[f.EventID]; ok {
			for _, d := range ev.deliveries {
				if match(d) {
					top.add(d)
				}
			}
		}
	} else {
		for _, d := range s.deliveries {
			if match(d) {
				top.add(d)
			}
		}
	}
	found := top.result()
	out := make([]Delivery, len(found))
	for i, d := range found {
		out[i] = s.delivery(d)
	}
	return out, nil
}

// ListAttempts implements Store. It scans the attempt log.
func (s *MemoryStore) ListAttempts(ctx context.Context, f AttemptFilter) ([]Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type entry struct {
		seq int
		a   *Attempt
	}
	// Newest first: by start time, then by log order.
	top := newTopK(limitOf(f.Limit), func(x, y entry) int {
		if c := y.a.StartedAt.Compare(x.a.StartedAt); c != 0 {
			return c
		}
		return y.seq - x.seq
	})
	seq := 0
	s.attempts.each(func(a *Attempt) {
		seq++
		if (f.EventID == "" || a.EventID == f.EventID) &&
			(f.EndpointID == "" || a.EndpointID == f.EndpointID) &&
			(f.DeliveryID == 0 || a.DeliveryID == f.DeliveryID) &&
			(f.Outcome == "" || a.Outcome == f.Outcome) &&
			(!f.Failed || a.Error != "") &&
			inRange(toNano(a.StartedAt), f.Since, f.Until) {
			top.add(entry{seq, a})
		}
	})
	found := top.result()
	out := make([]Attempt, len(found))
	for i, e := range found {
		out[i] = *e.a
	}
	return out, nil
}

// ListDeadLetters implements Store. It scans every delivery.
func (s *MemoryStore) ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	top := newTopK(limitOf(f.Limit), func(a, b *memDelivery) int {
		if a.updatedAt != b.updatedAt {
			if a.updatedAt > b.updatedAt {
				return -1
			}
			return 1
		}
		return cmpID(b.id, a.id)
	})
	for _, d := range s.deliveries {
		if d.state == StateDead &&
			(f.EndpointID == "" || d.ep.ep.ID == f.EndpointID) &&
			(f.EventType == "" || d.ev.ev.Type == f.EventType) &&
			inRange(d.updatedAt, f.Since, f.Until) {
			top.add(d)
		}
	}
	found := top.result()
	out := make([]Delivery, len(found))
	for i, d := range found {
		out[i] = s.delivery(d)
	}
	return out, nil
}

// Replay implements Store. Replaying by endpoint or time scans every delivery.
func (s *MemoryStore) Replay(ctx context.Context, req ReplayRequest) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if req.DeliveryID != 0 && req.EndpointID != "" || req.DeliveryID == 0 && req.EndpointID == "" && req.Since.IsZero() {
		return 0, fmt.Errorf("%w: Replay needs exactly one of DeliveryID and EndpointID, or a Since", ErrInvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := toNano(req.Now)
	var todo []*memDelivery
	switch {
	case req.DeliveryID != 0:
		d, ok := s.deliveries[req.DeliveryID]
		if !ok {
			return 0, fmt.Errorf("%w: %d", ErrDeliveryNotFound, req.DeliveryID)
		}
		if !d.state.Settled() {
			return 0, fmt.Errorf("%w: delivery %d is %s", ErrNotReplayable, d.id, d.state)
		}
		todo = append(todo, d)
	default:
		var me *memEndpoint
		if req.EndpointID != "" {
			var ok bool
			if me, ok = s.endpoints[req.EndpointID]; !ok {
				return 0, fmt.Errorf("%w: %q", ErrEndpointNotFound, req.EndpointID)
			}
		}
		for _, d := range s.deliveries {
			if d.state == StateDead && (me == nil || d.ep == me) && inRange(d.updatedAt, req.Since, time.Time{}) {
				todo = append(todo, d)
			}
		}
		// Oldest first, so FIFO queues receive them in order.
		slices.SortFunc(todo, func(a, b *memDelivery) int { return cmpID(a.id, b.id) })
	}
	for _, d := range todo {
		d.state = StatePending
		d.attempts, d.lastError, d.status = 0, "", 0
		d.nextAt, d.updatedAt = now, now
		s.schedule(d)
	}
	if len(todo) > 0 {
		s.signal()
	}
	return len(todo), nil
}

// Prune implements Store. It scans deliveries, events and the attempt log.
func (s *MemoryStore) Prune(ctx context.Context, req PruneRequest) (PruneResult, error) {
	if err := ctx.Err(); err != nil {
		return PruneResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var res PruneResult
	deliveredBefore, deadBefore := toNano(req.DeliveredBefore), toNano(req.DeadBefore)
	gone := make(map[DeliveryID]struct{})
	if deliveredBefore != 0 || deadBefore != 0 {
		for id, d := range s.deliveries {
			if (d.state == StateDelivered && d.updatedAt < deliveredBefore) ||
				(d.state == StateDead && d.updatedAt < deadBefore) {
				s.detachFromEvent(d)
				delete(s.deliveries, id)
				gone[id] = struct{}{}
			}
		}
	}
	res.Deliveries = len(gone)
	attemptsBefore := toNano(req.AttemptsBefore)
	if len(gone) > 0 || attemptsBefore != 0 {
		res.Attempts = s.attempts.deleteFunc(func(a *Attempt) bool {
			if _, ok := gone[a.DeliveryID]; ok {
				return true
			}
			return attemptsBefore != 0 && toNano(a.StartedAt) < attemptsBefore
		})
	}
	if eventsBefore := max(deliveredBefore, deadBefore); eventsBefore != 0 {
		for id, ev := range s.events {
			if len(ev.deliveries) == 0 && toNano(ev.ev.CreatedAt) < eventsBefore {
				delete(s.events, id)
				res.Events++
				if k := ev.ev.IdempotencyKey; k != "" {
					if ik, ok := s.idem[k]; ok && ik.ev == ev {
						delete(s.idem, k)
						res.IdempotencyKeys++
					}
				}
			}
		}
	}
	if idemBefore := toNano(req.IdempotencyBefore); idemBefore != 0 {
		for k, ik := range s.idem {
			if ik.created < idemBefore {
				delete(s.idem, k)
				res.IdempotencyKeys++
			}
		}
	}
	return res, nil
}

// dueAt is the heap key: when the delivery becomes claimable.
func (d *memDelivery) dueAt() int64 {
	if d.state == StateInFlight {
		return d.leaseExp
	}
	return d.nextAt
}

// memHeap is a min-heap of deliveries by (dueAt, id) that tracks positions in
// memDelivery.heapIdx so deliveries can be fixed or removed in O(log n).
type memHeap []*memDelivery

func (h memHeap) less(i, j int) bool {
	a, b := h[i].dueAt(), h[j].dueAt()
	if a != b {
		return a < b
	}
	return h[i].id < h[j].id
}

func (h memHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = int32(i)
	h[j].heapIdx = int32(j)
}

func (h *memHeap) push(d *memDelivery) {
	if d.heapIdx >= 0 {
		h.fix(d)
		return
	}
	d.heapIdx = int32(len(*h))
	*h = append(*h, d)
	h.up(len(*h) - 1)
}

func (h *memHeap) remove(d *memDelivery) {
	i := int(d.heapIdx)
	if i < 0 {
		return
	}
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	d.heapIdx = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *memHeap) fix(d *memDelivery) {
	i := int(d.heapIdx)
	if i < 0 {
		h.push(d)
		return
	}
	if !h.down(i) {
		h.up(i)
	}
}

func (h memHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h memHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// attemptLog is the attempt log in append order, kept in fixed-size chunks so
// that appending never copies the whole log under the store's lock.
type attemptLog struct {
	chunks [][]Attempt
	n      int
}

const attemptChunk = 1024

func (l *attemptLog) append(a Attempt) {
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == attemptChunk {
		l.chunks = append(l.chunks, make([]Attempt, 0, attemptChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, a)
	l.n++
}

func (l *attemptLog) each(fn func(a *Attempt)) {
	for _, c := range l.chunks {
		for i := range c {
			fn(&c[i])
		}
	}
}

// deleteFunc removes the entries for which del is true, compacting the log, and
// returns how many it removed.
func (l *attemptLog) deleteFunc(del func(a *Attempt) bool) int {
	var kept attemptLog
	l.each(func(a *Attempt) {
		if !del(a) {
			kept.append(*a)
		}
	})
	removed := l.n - kept.n
	*l = kept
	return removed
}

// topK keeps the first k items in cmp order out of a stream, in O(n log k)
// time and O(k) memory, so listing the newest 100 of a million deliveries
// neither sorts nor copies the million.
type topK[T any] struct {
	k     int
	cmp   func(a, b T) int
	items []T
}

func newTopK[T any](k int, cmp func(a, b T) int) *topK[T] {
	return &topK[T]{k: k, cmp: cmp}
}

func (t *topK[T]) add(x T) {
	t.items = append(t.items, x)
	if len(t.items) >= 2*t.k+64 {
		t.trim()
	}
}

func (t *topK[T]) trim() {
	slices.SortFunc(t.items, t.cmp)
	if len(t.items) > t.k {
		clear(t.items[t.k:])
		t.items = t.items[:t.k]
	}
}

// result returns the kept items in order.
func (t *topK[T]) result() []T {
	t.trim()
	return t.items
}
