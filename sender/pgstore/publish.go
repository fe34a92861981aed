package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookkit/hookkit/sender"
)

// Publish implements sender.Store: it stores the event and its deliveries in
// one transaction and notifies listening dispatchers on commit.
func (s *Store) Publish(ctx context.Context, req sender.PublishRequest) (sender.PublishResult, error) {
	res, err := s.PublishBatch(ctx, []sender.PublishRequest{req})
	if err != nil {
		return sender.PublishResult{}, err
	}
	return res[0], nil
}

// PublishBatch publishes many events in one transaction, with a handful of
// round trips whatever the batch size (multi-row INSERTs over unnest arrays):
// the way to enqueue events at tens of thousands per second. Each request has
// Publish's semantics, applied in order (a later request with an idempotency key
// already used earlier in the batch is a Duplicate of it). The batch is atomic:
// if one request fails (ErrEventConflict, ErrEndpointNotFound, ErrInvalidRequest)
// nothing is stored, and the error names the request's index.
func (s *Store) PublishBatch(ctx context.Context, reqs []sender.PublishRequest) ([]sender.PublishResult, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	var res []sender.PublishResult
	err := retryConflicts(ctx, func() error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		res, err = s.publish(ctx, tx, reqs)
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, publishErr(err)
	}
	s.signal()
	return res, nil
}

// PublishTx publishes inside the caller's transaction: the event and its
// deliveries commit or roll back with the application's own writes (the
// transactional outbox). A rolled-back transaction delivers nothing. Dispatchers
// are woken by a NOTIFY that PostgreSQL sends when tx commits.
//
// The work runs in a savepoint, so a failed PublishTx (for example
// ErrEventConflict) leaves tx usable and changes nothing in it. It implements
// sender.TxPublisher[pgx.Tx] for sender.PublishTx and sender.SendTx, which also
// do the Sender's validation and fan-out; call those rather than this method
// directly unless you build the PublishRequest yourself.
func (s *Store) PublishTx(ctx context.Context, tx pgx.Tx, req sender.PublishRequest) (sender.PublishResult, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return sender.PublishResult{}, wrap("publish", err)
	}
	res, err := s.publish(ctx, sp, []sender.PublishRequest{req})
	if err != nil {
		_ = sp.Rollback(context.WithoutCancel(ctx))
		return sender.PublishResult{}, publishErr(err)
	}
	if err := sp.Commit(ctx); err != nil {
		return sender.PublishResult{}, wrap("publish", err)
	}
	return res[0], nil
}

// PublishBatchTx is PublishBatch inside the caller's transaction (see PublishTx).
func (s *Store) PublishBatchTx(ctx context.Context, tx pgx.Tx, reqs []sender.PublishRequest) ([]sender.PublishResult, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, wrap("publish", err)
	}
	res, err := s.publish(ctx, sp, reqs)
	if err != nil {
		_ = sp.Rollback(context.WithoutCancel(ctx))
		return nil, publishErr(err)
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, wrap("publish", err)
	}
	return res, nil
}

func publishErr(err error) error {
	if errors.Is(err, sender.ErrEventConflict) || errors.Is(err, sender.ErrInvalidRequest) ||
		errors.Is(err, sender.ErrEndpointNotFound) {
		return err
	}
	if pgCode(err) == pgForeignKeyViolation {
		return fmt.Errorf("%w (publish names an endpoint id that is not stored)", sender.ErrEndpointNotFound)
	}
	return wrap("publish", err)
}

type deliveryRefJSON struct {
	ID         int64  `json:"id"`
	EndpointID string `json:"endpoint_id"`
}

// publish is the one implementation behind Publish, PublishBatch, PublishTx and
// PublishBatchTx. It may leave partial writes in tx when it fails: callers roll
// back (the transaction or a savepoint).
func (s *Store) publish(ctx context.Context, tx pgx.Tx, reqs []sender.PublishRequest) ([]sender.PublishResult, error) {
	n := len(reqs)
	results := make([]sender.PublishResult, n)
	dupOf := make([]int, n) // index of an earlier request with the same key, or -1
	firstKey := map[string]int{}
	firstEvent := map[string]int{}
	var keys, keyEvents []string
	var keyTimes []time.Time
	for i, r := range reqs {
		dupOf[i] = -1
		ev := r.Event
		if ev.ID == "" || ev.Type == "" || len(ev.Payload) == 0 {
			return nil, fmt.Errorf("%w: request %d: event ID, Type and Payload are required", sender.ErrInvalidRequest, i)
		}
		if r.Now.IsZero() {
			return nil, fmt.Errorf("%w: request %d: Now is required", sender.ErrInvalidRequest, i)
		}
		for _, id := range r.EndpointIDs {
			if id == "" {
				return nil, fmt.Errorf("%w: request %d: empty endpoint id", sender.ErrInvalidRequest, i)
			}
		}
		if k := ev.IdempotencyKey; k != "" {
			if j, ok := firstKey[k]; ok {
				dupOf[i] = j
				continue
			}
			firstKey[k] = i
			keys = append(keys, k)
			keyEvents = append(keyEvents, ev.ID)
			keyTimes = append(keyTimes, eventTime(r))
		}
		if j, ok := firstEvent[ev.ID]; ok {
			if prev := reqs[j].Event; prev.Type != ev.Type || !bytes.Equal(prev.Payload, ev.Payload) {
				return nil, fmt.Errorf("%w: request %d: event %q", sender.ErrEventConflict, i, ev.ID)
			}
		} else {
			firstEvent[ev.ID] = i
		}
	}

	// Idempotency keys: claim them; those already stored make their request a Duplicate.
	duplicate := make([]bool, n)
	if len(keys) > 0 {
		rows, err := tx.Query(ctx, s.q.insertKeys, keys, keyEvents, keyTimes)
		if err != nil {
			return nil, err
		}
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		if len(claimed) < len(keys) {
			got := make(map[string]bool, len(claimed))
			for _, k := range claimed {
				got[k] = true
			}
			var taken []string
			for _, k := range keys {
				if !got[k] {
					taken = append(taken, k)
				}
			}
			rows, err := tx.Query(ctx, s.q.selectKeys, taken)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var k, evID string
				var raw []byte
				if err := rows.Scan(&k, &evID, &raw); err != nil {
					rows.Close()
					return nil, err
				}
				i := firstKey[k]
				duplicate[i] = true
				results[i] = sender.PublishResult{EventID: evID, Duplicate: true}
				var refs []deliveryRefJSON
				if len(raw) > 0 {
					if err := json.Unmarshal(raw, &refs); err != nil {
						rows.Close()
						return nil, fmt.Errorf("pgstore: decode idempotency result: %w", err)
					}
				}
				for _, r := range refs {
					results[i].Deliveries = append(results[i].Deliveries, sender.DeliveryRef{ID: sender.DeliveryID(r.ID), EndpointID: r.EndpointID})
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}

	// Events (once each) and deliveries (once per event and endpoint) of the live requests.
	var (
		evIDs, evTypes, evKeys []string
		evPayloads             [][]byte
		evTimes                []time.Time
		dEvents, dTypes, dEps  []string
		dNext, dCreated        []time.Time
		evIndex                = map[string]int{}
		seenDelivery           = map[[2]string]bool{}
	)
	for i, r := range reqs {
		if dupOf[i] >= 0 || duplicate[i] {
			continue
		}
		ev := r.Event
		if _, ok := evIndex[ev.ID]; !ok {
			evIndex[ev.ID] = len(evIDs)
			evIDs = append(evIDs, ev.ID)
			evTypes = append(evTypes, ev.Type)
			evPayloads = append(evPayloads, ev.Payload)
			evTimes = append(evTimes, eventTime(r))
			evKeys = append(evKeys, ev.IdempotencyKey)
		}
		next := r.NextAttemptAt
		if next.IsZero() {
			next = r.Now
		}
		for _, ep := range r.EndpointIDs {
			k := [2]string{ev.ID, ep}
			if seenDelivery[k] {
				continue
			}
			seenDelivery[k] = true
			dEvents = append(dEvents, ev.ID)
			dTypes = append(dTypes, ev.Type)
			dEps = append(dEps, ep)
			dNext = append(dNext, next)
			dCreated = append(dCreated, r.Now)
		}
	}

	created := map[string][]sender.DeliveryRef{}
	if len(evIDs) > 0 {
		b := &pgx.Batch{}
		b.Queue(s.q.insertEvents, evIDs, evTypes, evPayloads, evTimes, evKeys)
		if len(dEvents) > 0 {
			b.Queue(s.q.insertDeliveries, dEvents, dTypes, dEps, dNext, dCreated)
		}
		b.Queue(s.q.notify, s.channel)
		br := tx.SendBatch(ctx, b)
		rows, err := br.Query()
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		if len(dEvents) > 0 {
			rows, err := br.Query()
			if err != nil {
				_ = br.Close()
				return nil, err
			}
			for rows.Next() {
				var id int64
				var evID, ep string
				if err := rows.Scan(&id, &evID, &ep); err != nil {
					rows.Close()
					_ = br.Close()
					return nil, err
				}
				created[evID] = append(created[evID], sender.DeliveryRef{ID: sender.DeliveryID(id), EndpointID: ep})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				_ = br.Close()
				return nil, err
			}
		}
		if err := br.Close(); err != nil {
			return nil, err
		}

		// Events that were already stored must carry the same type and payload.
		if len(inserted) < len(evIDs) {
			got := make(map[string]bool, len(inserted))
			for _, id := range inserted {
				got[id] = true
			}
			var cIDs, cTypes []string
			var cPayloads [][]byte
			for i, id := range evIDs {
				if !got[id] {
					cIDs = append(cIDs, id)
					cTypes = append(cTypes, evTypes[i])
					cPayloads = append(cPayloads, evPayloads[i])
				}
			}
			rows, err := tx.Query(ctx, s.q.eventConflicts, cIDs, cTypes, cPayloads)
			if err != nil {
				return nil, err
			}
			conflicts, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, err
			}
			if len(conflicts) > 0 {
				return nil, fmt.Errorf("%w: event %q", sender.ErrEventConflict, conflicts[0])
			}
		}
	}

	// Results of the live requests, and the stored result of their idempotency keys.
	var rKeys []string
	var rJSON []string
	for i, r := range reqs {
		if dupOf[i] >= 0 || duplicate[i] {
			continue
		}
		res := sender.PublishResult{EventID: r.Event.ID}
		refs := created[r.Event.ID]
		if len(r.EndpointIDs) > 0 && len(refs) > 0 {
			want := make(map[string]bool, len(r.EndpointIDs))
			for _, ep := range r.EndpointIDs {
				want[ep] = true
			}
			for _, ref := range refs {
				if want[ref.EndpointID] {
					res.Deliveries = append(res.Deliveries, ref)
				}
			}
		}
		results[i] = res
		if r.Event.IdempotencyKey != "" {
			js := make([]deliveryRefJSON, len(res.Deliveries))
			for j, d := range res.Deliveries {
				js[j] = deliveryRefJSON{ID: int64(d.ID), EndpointID: d.EndpointID}
			}
			raw, err := json.Marshal(js)
			if err != nil {
				return nil, err
			}
			rKeys = append(rKeys, r.Event.IdempotencyKey)
			rJSON = append(rJSON, string(raw))
		}
	}
	if len(rKeys) > 0 {
		if _, err := tx.Exec(ctx, s.q.updateKeys, rKeys, rJSON); err != nil {
			return nil, err
		}
	}
	for i := range reqs {
		if j := dupOf[i]; j >= 0 {
			r := results[j]
			r.Duplicate = true
			r.Deliveries = append([]sender.DeliveryRef(nil), r.Deliveries...)
			results[i] = r
		}
	}
	return results, nil
}

func eventTime(r sender.PublishRequest) time.Time {
	if !r.Event.CreatedAt.IsZero() {
		return r.Event.CreatedAt
	}
	return r.Now
}

var _ = strconv.Itoa
