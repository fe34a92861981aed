// Command quickstart shows everything hookkit does, in one process, on
// loopback, with no services to set up:
//
//	go run ./examples/quickstart               # the story, about 10 s
//	go run ./examples/quickstart -events 20000 # the story plus 19,994 events at 1,000/s, with a progress bar
//
// A hookkit sender (memory store) publishes events from a small, strict event
// catalog to three endpoints:
//
//   - healthy: the billing app, a hookkit receiver (memory dedupe, typed
//     handlers on async workers), subscribed to every event;
//   - flaky: the CRM app, another hookkit receiver behind a proxy that fails:
//     500, 500, then 429 with Retry-After, then success for one event, and 500
//     for another until "an operator fixes it", so that delivery is
//     dead-lettered and then replayed;
//   - gone: a retired app that answers 410 Gone, so the sender disables it.
//
// Along the way an operator re-sends an event that was already delivered (the
// receiver answers it as a duplicate and does not process it again), and an
// attacker posts a forged request and a replayed one (both refused). Every
// step is narrated from the Observer hooks of the sender and the receivers;
// a summary table ends the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Events, "events", cfg.Events, "number of events to publish; the first 6 tell the story, the rest run in bulk behind a progress bar")
	flag.IntVar(&cfg.Rate, "rate", cfg.Rate, "bulk events published per second (0: all at once)")
	flag.DurationVar(&cfg.Tick, "tick", cfg.Tick, "unit of the compressed retry schedule (0, 1, 2, 3, 4 ticks); production uses retry.Default(): 5 s, 5 min, 30 min, …")
	flag.Parse()
	cfg.Progress = isTerminal(os.Stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config is the quickstart's configuration; main fills it from flags, tests
// set it directly.
type config struct {
	// Events is how many events to publish: at least storyEvents (the
	// narrated story); the rest are published in bulk, not narrated.
	Events int
	// Rate is how many bulk events are published per second; 0 publishes
	// them all at once.
	Rate int
	// Tick is the unit of the compressed retry schedule.
	Tick time.Duration
	// Progress draws a progress bar (a terminal); otherwise bulk progress is
	// printed as plain lines.
	Progress bool
	// Timeout bounds the whole run.
	Timeout time.Duration
}

func defaultConfig() config {
	return config{Events: storyEvents, Rate: 1000, Tick: time.Second, Timeout: 30 * time.Minute}
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run tells the story and prints the summary to stdout. It returns once every
// server and goroutine it started has stopped.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.Events < storyEvents {
		cfg.Events = storyEvents
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	d, err := newDemo(cfg, stdout)
	if err != nil {
		return err
	}
	sum, err := d.play(ctx)
	if err != nil {
		return err
	}
	sum.print(stdout)
	return nil
}
