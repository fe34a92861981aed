package pginbox

// Crash simulates the death of the process: the listener and poller stop,
// every lease is forgotten without telling the database (no renewals, no
// release, no ack), and the inbox refuses further use.
func (in *Inbox) Crash() {
	in.mu.Lock()
	in.closed = true
	in.broadcastLocked()
	in.buf = nil
	clear(in.leases)
	in.kickLocked()
	in.mu.Unlock()
	in.stop()
	in.bg.Wait()
	in.closeOnce.Do(func() {})
}

// Held reports how many rows the inbox holds (buffered or handed out).
func (in *Inbox) Held() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.leases)
}

var (
	EncodeHeader = encodeHeader
	DecodeHeader = decodeHeader
)

// Waiting reports how many Dequeue callers are blocked waiting for work
// (not running a claim).
func (in *Inbox) Waiting() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fetching {
		return in.waiters - 1
	}
	return in.waiters
}
