package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// narrator prints one line per step, prefixed with the time since the start
// and who speaks. It is safe for concurrent use (the Observer hooks of the
// sender and the receivers call it from their goroutines). On a terminal it
// keeps a progress bar on the last line, redrawn below each narrated line.
type narrator struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	tty   bool
	bar   string // the progress bar currently drawn (tty only)
}

func newNarrator(w io.Writer, tty bool) *narrator {
	return &narrator{w: w, start: time.Now(), tty: tty}
}

// say prints "[ 1.2s] who      message".
func (n *narrator) say(who, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bar != "" {
		fmt.Fprint(n.w, "\r\033[K")
	}
	fmt.Fprintf(n.w, "[%6.2fs] %-12s %s\n", time.Since(n.start).Seconds(), who, msg)
	if n.bar != "" {
		fmt.Fprint(n.w, n.bar)
	}
}

// heading prints a blank line and a section title.
func (n *narrator) heading(title string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bar != "" {
		fmt.Fprint(n.w, "\r\033[K")
	}
	fmt.Fprintf(n.w, "\n%s\n", title)
	if n.bar != "" {
		fmt.Fprint(n.w, n.bar)
	}
}

// progress draws (tty) or prints (otherwise) the bulk progress.
func (n *narrator) progress(done, total int) {
	if total <= 0 {
		return
	}
	const width = 30
	filled := done * width / total
	pct := done * 100 / total
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.tty {
		fmt.Fprintf(n.w, "[%6.2fs] %-12s %d/%d bulk deliveries delivered (%d%%)\n", time.Since(n.start).Seconds(), "progress", done, total, pct)
		return
	}
	n.bar = fmt.Sprintf("bulk [%s%s] %3d%% %d/%d deliveries", strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, done, total)
	fmt.Fprint(n.w, "\r\033[K"+n.bar)
}

// endProgress removes the progress bar, leaving the cursor at the start of a
// clean line.
func (n *narrator) endProgress() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bar != "" {
		fmt.Fprint(n.w, "\r\033[K")
		n.bar = ""
	}
}
