package reliability_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// child is a re-executed test binary playing a producer or consumer.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's error, readable after done

	mu     sync.Mutex
	stderr bytes.Buffer
	addr   chan string // lines "ADDR host:port" from stdout
}

// lockedWriter serialises writes to the child's stderr buffer.
type lockedWriter struct{ c *child }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.c.stderr.Len() > 64<<10 {
		return len(p), nil // keep the start: it says why a child failed
	}
	return w.c.stderr.Write(p)
}

// startChild runs the test binary as role with env (KEY=value) added. The process is
// killed at cleanup if still running.
func startChild(t testing.TB, role, name string, env ...string) *child {
	t.Helper()
	c := &child{name: name, done: make(chan struct{}), addr: make(chan string, 1)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), envChild+"="+role), env...)
	c.cmd.Stderr = lockedWriter{c}
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				select {
				case c.addr <- a:
				default:
				}
			}
		}
		c.err = c.cmd.Wait() // after stdout is drained, as StdoutPipe requires
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		<-c.done
	})
	return c
}

// kill SIGKILLs the child (no clean-up of any kind runs in it) and waits for it to exit.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitErr returns Wait's error once the child has exited, nil while it runs.
func (c *child) exitErr() error {
	if !c.exited() {
		return nil
	}
	return c.err
}

// wait waits up to d for the child to exit and returns its error.
func (c *child) wait(d time.Duration) error {
	select {
	case <-c.done:
		return c.err
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %v", c.name, d)
	}
}

// output returns the start of the child's stderr.
func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}
