package main

// The harness runs the broker and every workload in child processes (the
// harness binary re-executed with --role), so that each one's CPU time and
// peak RSS are its own. Parent and child talk over the child's stdin and
// stdout, one line per message:
//
//	child → parent: ADDR <addr>            (broker: listening)
//	                READY <usage>          (workload: assigned and running)
//	                FIRST <unix ns>        (workload: first input record fetched)
//	                FETCHED <n>, STATS <usage>  (answer to "stats"; n: input
//	                                       records fetched so far)
//	                FAIL <message>         (the child failed)
//	parent → child: stats | profile-start | profile-stop | stop
//
// <usage> is "<user ns> <system ns> <peak RSS bytes>" from getrusage(2).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// usage is a process's CPU time and peak resident set size.
type usage struct {
	User, Sys time.Duration
	MaxRSS    int64 // bytes
}

func (u usage) CPU() time.Duration { return u.User + u.Sys }

func (u usage) String() string {
	return fmt.Sprintf("%d %d %d", u.User.Nanoseconds(), u.Sys.Nanoseconds(), u.MaxRSS)
}

func parseUsage(fields []string) (usage, error) {
	if len(fields) != 3 {
		return usage{}, fmt.Errorf("bad usage %q", fields)
	}
	var v [3]int64
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return usage{}, err
		}
		v[i] = n
	}
	return usage{User: time.Duration(v[0]), Sys: time.Duration(v[1]), MaxRSS: v[2]}, nil
}

// selfUsage returns this process's usage (all threads, not its children).
func selfUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		rss *= 1024 // Linux and the BSDs report KiB; macOS bytes.
	}
	return usage{
		User:   time.Duration(ru.Utime.Nano()),
		Sys:    time.Duration(ru.Stime.Nano()),
		MaxRSS: rss,
	}
}

// child is a running child process of the harness.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   string

	mu      sync.Mutex
	fetched atomic.Int64
	stats   chan usage
	ready   chan usage
	first   chan time.Time
	addr    chan string
	fail    chan string
	exit    chan error
}

// startChild re-executes the harness binary with args. The child's stderr
// goes to logPath (or to ours when verbose).
func startChild(name, logPath string, verbose bool, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	var logf *os.File
	if verbose {
		cmd.Stderr = os.Stderr
	} else {
		logf, err = os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stderr = logf
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, log: logPath,
		stats: make(chan usage, 1), ready: make(chan usage, 1), first: make(chan time.Time, 1),
		addr: make(chan string, 1), fail: make(chan string, 1), exit: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.handle(sc.Text())
		}
		err := cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		c.exit <- err
	}()
	return c, nil
}

func (c *child) handle(line string) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "ADDR":
		put(c.addr, strings.Join(f[1:], " "))
	case "READY", "STATS":
		u, err := parseUsage(f[1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.name, err)
			return
		}
		if f[0] == "READY" {
			put(c.ready, u)
		} else {
			put(c.stats, u)
		}
	case "FETCHED":
		n, _ := strconv.ParseInt(f[1], 10, 64)
		c.fetched.Store(n)
	case "FIRST":
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		put(c.first, time.Unix(0, ns))
	case "FAIL":
		put(c.fail, strings.Join(f[1:], " "))
	default:
		fmt.Fprintf(os.Stderr, "%s: %s\n", c.name, line)
	}
}

// put stores v in the one-slot channel ch, replacing a value nobody took.
func put[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

func (c *child) send(cmd string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.stdin, cmd+"\n")
	return err
}

// usage asks the child for its usage.
func (c *child) usage(timeout time.Duration) (usage, error) {
	if err := c.send("stats"); err != nil {
		return usage{}, fmt.Errorf("%s: %w", c.name, err)
	}
	select {
	case u := <-c.stats:
		return u, nil
	case msg := <-c.fail:
		return usage{}, fmt.Errorf("%s failed: %s", c.name, msg)
	case <-time.After(timeout):
		return usage{}, fmt.Errorf("%s: no answer to stats within %v", c.name, timeout)
	}
}

// stop asks the child to stop and waits for it, killing it after timeout.
// It returns the child's final rusage as seen by wait(2).
func (c *child) stop(timeout time.Duration) (usage, error) {
	_ = c.send("stop")
	c.stdin.Close()
	var err error
	select {
	case err = <-c.exit:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		err = fmt.Errorf("%s did not stop within %v; killed", c.name, timeout)
		<-c.exit
	}
	var u usage
	if ps := c.cmd.ProcessState; ps != nil {
		u.User, u.Sys = ps.UserTime(), ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.MaxRSS = int64(ru.Maxrss)
			if runtime.GOOS != "darwin" {
				u.MaxRSS *= 1024
			}
		}
	}
	return u, err
}

// childOut is the child side of the protocol: lines to stdout.
var childOut = struct {
	sync.Mutex
	w *bufio.Writer
}{w: bufio.NewWriter(os.Stdout)}

func emit(format string, args ...any) {
	childOut.Lock()
	defer childOut.Unlock()
	fmt.Fprintf(childOut.w, format+"\n", args...)
	childOut.w.Flush()
}

// serveCommands reads the parent's commands until "stop" or EOF, answering
// "stats" itself and passing the others to on.
func serveCommands(on func(cmd string)) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch cmd := strings.TrimSpace(sc.Text()); cmd {
		case "stats":
			emit("FETCHED %d", inputFetched.Load())
			emit("STATS %s", selfUsage())
		case "stop":
			return
		default:
			on(cmd)
		}
	}
}

// firstMark records, once, the time the first input record was fetched.
type firstMark struct{ once sync.Once }

func (f *firstMark) mark() {
	f.once.Do(func() { emit("FIRST %d", time.Now().UnixNano()) })
}
