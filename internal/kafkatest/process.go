package kafkatest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is an application instance running in a child process: the test
// binary run again with an environment that makes its TestMain run an
// instance instead of tests.
type Process struct {
	t    testing.TB
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	cond *sync.Cond
	done chan struct{}
	err  error
}

// Start runs the test binary with env added to the environment. The child
// prints lines; WaitFor waits for one.
func Start(t testing.TB, env ...string) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	p := &Process{t: t, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			// The child's own log is the first thing a failure needs.
			lines := p.Lines()
			lines = lines[max(0, len(lines)-300):]
			t.Logf("instance (pid %d), last %d lines of its output:\n%s", cmd.Process.Pid, len(lines), strings.Join(lines, "\n"))
		}
	})
	return p
}

func (p *Process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.out = append(p.out, sc.Text())
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.err = err
	close(p.done)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// WaitFor waits until the child printed a line containing s after line
// index from, and returns the index after it.
func (p *Process) WaitFor(s string, from int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for i := from; i < len(p.out); i++ {
			if strings.Contains(p.out[i], s) {
				return i + 1, nil
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("process exited (%v) before printing %q; output:\n%s", p.err, s, strings.Join(p.out, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("timed out waiting for %q; output:\n%s", s, strings.Join(p.out, "\n"))
		}
		p.cond.Wait()
	}
}

// Lines returns what the child printed so far.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.out...)
}

// Kill sends SIGKILL and waits for the child to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit.
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			return fmt.Errorf("process exited with %v; output:\n%s", p.err, strings.Join(p.out, "\n"))
		}
		return nil
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("process did not stop within %v", timeout)
	}
}
