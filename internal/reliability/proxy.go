package reliability

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what a Proxy does with connections.
type Mode int32

const (
	// Pass forwards bytes both ways (the zero Mode).
	Pass Mode = iota
	// Blackhole keeps connections open but holds every byte read from either side
	// until the mode changes back to Pass: a network partition that TCP rides out.
	// New connections are accepted but not forwarded to the target until then.
	Blackhole
	// Refuse resets every open connection and every new one at once.
	Refuse
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Refuse:
		return "refuse"
	default:
		return "mode(?)"
	}
}

// Stats counts what a Proxy did.
type Stats struct {
	// Accepted is the number of client connections accepted.
	Accepted int64
	// Cut is the number of connections reset by Cut or Refuse (open ones and
	// new ones refused).
	Cut int64
	// Refused is the number of new connections reset at once by Refuse (a part
	// of Cut): how often clients tried to connect during the outage.
	Refused int64
	// Held is the number of reads whose bytes were held by Blackhole before
	// being forwarded.
	Held int64
}

// Proxy is a TCP proxy on loopback in front of one target address, for fault
// injection: it can reset every connection (Cut), reset them and every new one
// (SetMode(Refuse)) or hold every byte (SetMode(Blackhole)) until told to pass
// again. It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced at every mode change
	conns   map[*link]struct{}
	closed  bool

	accepted, cut, refused, held atomic.Int64
	wg                           sync.WaitGroup
}

// link is one client connection and its connection to the target.
type link struct {
	client   net.Conn
	upstream net.Conn // nil until dialled
	once     sync.Once
	done     chan struct{}
}

func (l *link) close(reset bool) {
	l.once.Do(func() {
		if reset {
			if tc, ok := l.client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		_ = l.client.Close()
		if l.upstream != nil {
			if tc, ok := l.upstream.(*net.TCPConn); ok && reset {
				_ = tc.SetLinger(0)
			}
			_ = l.upstream.Close()
		}
		close(l.done)
	})
}

// Listen starts a Proxy on 127.0.0.1 (a free port) forwarding to target
// ("host:port"). Stop it with Close.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address ("127.0.0.1:port").
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	return Stats{Accepted: p.accepted.Load(), Cut: p.cut.Load(), Refused: p.refused.Load(), Held: p.held.Load()}
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetMode switches the proxy to m. Refuse resets every open connection.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	var victims []*link
	if m == Refuse {
		victims = p.takeAll()
	}
	p.mu.Unlock()
	p.reset(victims)
}

// Cut resets every open connection (new ones are accepted as the mode says)
// and returns how many it reset.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	victims := p.takeAll()
	p.mu.Unlock()
	p.reset(victims)
	return len(victims)
}

// For is SetMode(m), then SetMode(Pass) after d, without blocking. The returned
// channel is closed once the proxy passes again.
func (p *Proxy) For(m Mode, d time.Duration) <-chan struct{} {
	p.SetMode(m)
	done := make(chan struct{})
	time.AfterFunc(d, func() {
		p.SetMode(Pass)
		close(done)
	})
	return done
}

// Close stops accepting, resets every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.changed)
	p.changed = make(chan struct{})
	victims := p.takeAll()
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range victims {
		l.close(true)
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) takeAll() []*link {
	victims := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		victims = append(victims, l)
		delete(p.conns, l)
	}
	return victims
}

func (p *Proxy) reset(victims []*link) {
	for _, l := range victims {
		l.close(true)
		p.cut.Add(1)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		p.accepted.Add(1)
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed || p.mode == Refuse {
			p.mu.Unlock()
			l.close(true)
			p.cut.Add(1)
			p.refused.Add(1)
			continue
		}
		p.conns[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(l)
	}
}

// waitPass blocks while the proxy blackholes, and reports false once l is closed.
func (p *Proxy) waitPass(l *link) bool {
	counted := false
	for {
		p.mu.Lock()
		m, ch, closed := p.mode, p.changed, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		if m != Blackhole {
			select {
			case <-l.done:
				return false
			default:
				return true
			}
		}
		if !counted {
			p.held.Add(1)
			counted = true
		}
		select {
		case <-ch:
		case <-l.done:
			return false
		}
	}
}

func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
		l.close(false)
	}()
	if !p.waitPass(l) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if _, open := p.conns[l]; !open {
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	l.upstream = up
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, up, l.client) }()
	go func() { defer wg.Done(); p.pipe(l, l.client, up) }()
	wg.Wait()
}

// pipe copies src to dst, holding each read while the proxy blackholes. Either side
// ending closes both.
func (p *Proxy) pipe(l *link, dst io.Writer, src io.Reader) {
	defer l.close(false)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitPass(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
