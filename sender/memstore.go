package sender

import (
	"context"
	"errors"
	"time"
)

// MemoryStoreConfig configures NewMemoryStore. The zero value is ready to use.
type MemoryStoreConfig struct{}

// MemoryStore is the in-process Store: the default, needing no set-up. It does
// not survive a restart: pending deliveries are lost with the process. Use a
// database-backed store (sender/pgstore) when that matters.
//
// (Work in progress: this stub is replaced by the real implementation shortly.)
type MemoryStore struct{}

var _ Store = (*MemoryStore)(nil)
var _ Notifier = (*MemoryStore)(nil)

var errStub = errors.New("sender: memory store not implemented yet")

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) *MemoryStore { return &MemoryStore{} }

func (s *MemoryStore) CreateEndpoint(ctx context.Context, ep Endpoint) error { return errStub }
func (s *MemoryStore) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	return Endpoint{}, errStub
}
func (s *MemoryStore) ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error) {
	return nil, errStub
}
func (s *MemoryStore) UpdateEndpoint(ctx context.Context, ep Endpoint) error { return errStub }
func (s *MemoryStore) DeleteEndpoint(ctx context.Context, id string) error   { return errStub }
func (s *MemoryStore) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	return PublishResult{}, errStub
}
func (s *MemoryStore) GetEvent(ctx context.Context, id string) (StoredEvent, error) {
	return StoredEvent{}, errStub
}
func (s *MemoryStore) Claim(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	return nil, errStub
}
func (s *MemoryStore) ExtendLeases(ctx context.Context, req ExtendRequest) error { return errStub }
func (s *MemoryStore) Settle(ctx context.Context, req SettleRequest) error       { return errStub }
func (s *MemoryStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	return time.Time{}, false, errStub
}
func (s *MemoryStore) GetDelivery(ctx context.Context, id DeliveryID) (Delivery, error) {
	return Delivery{}, errStub
}
func (s *MemoryStore) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	return nil, errStub
}
func (s *MemoryStore) ListAttempts(ctx context.Context, f AttemptFilter) ([]Attempt, error) {
	return nil, errStub
}
func (s *MemoryStore) ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]Delivery, error) {
	return nil, errStub
}
func (s *MemoryStore) Replay(ctx context.Context, req ReplayRequest) (int, error) { return 0, errStub }
func (s *MemoryStore) Prune(ctx context.Context, req PruneRequest) (PruneResult, error) {
	return PruneResult{}, errStub
}
func (s *MemoryStore) Notify() <-chan struct{} { return nil }
