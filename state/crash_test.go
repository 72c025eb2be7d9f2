package state

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/processor"
)

// crashDirEnv tells the test binary, run again as a child, to be the
// process that gets killed, writing its state in that directory;
// crashSyncEnv=1 makes it open Pebble with SyncCommits.
const (
	crashDirEnv  = "STATE_CRASH_TEST_DIR"
	crashSyncEnv = "STATE_CRASH_TEST_SYNC"
)

const crashKeys = 1000

var crashTask = processor.TaskID{SubTopology: 0, Partition: 7}

// TestCrashChild is the victim of TestCrashRecovery: it commits batches
// until it is killed. For each batch i it stages every key = i and the
// task's offset = i, announces "kafka-committed i" (the Kafka transaction
// committed) and then commits the state, as the runtime does.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCrashRecovery")
	}
	db, err := OpenPebble(dir, PebbleOptions{SyncCommits: os.Getenv(crashSyncEnv) == "1"})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ts, err := db.Task(crashTask)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	data, meta := ts.Bucket("data"), ts.Meta()
	for i := uint64(1); ; i++ {
		v := binary.BigEndian.AppendUint64(nil, i)
		for k := range crashKeys {
			if err := data.Set(fmt.Appendf(nil, "key-%04d", k), v); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
		}
		if err := meta.Set([]byte("offset"), v); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("kafka-committed %d\n", i) // os.Stdout is unbuffered
		if err := ts.Commit(); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
	}
}

// TestCrashRecovery kills a process that commits batches with SyncCommits
// at random moments (SIGKILL) and checks that the state it left is exactly
// one committed batch, never a mix, never ahead of what it announced and at
// most one batch behind: the commit in progress.
func TestCrashRecovery(t *testing.T) { testCrashRecovery(t, true, 20) }

// TestCrashRecoveryNoSync is TestCrashRecovery with the default commits,
// which Pebble writes to its log in the background: a killed process can
// leave the state more than one batch behind, but never ahead and never a
// mix.
func TestCrashRecoveryNoSync(t *testing.T) {
	runs := 20
	if raceEnabled {
		runs = 5 // race-enabled children start slowly: keep the suite short
	}
	testCrashRecovery(t, false, runs)
}

func testCrashRecovery(t *testing.T, sync bool, runs int) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	start := time.Now()
	behind := map[uint64]int{}
	for run := range runs {
		dir := t.TempDir()
		after := 2 + rand.IntN(20)                                 // announcements before the kill
		delay := time.Duration(rand.IntN(3000)) * time.Microsecond // and then a random moment
		announced, got := crashOnce(t, dir, sync, after, delay)
		if got > announced || sync && got < announced-1 {
			t.Fatalf("run %d: state at batch %d, last announced %d", run, got, announced)
		}
		behind[announced-got]++
		t.Logf("run %d: killed after %d announcements + %v: last announced %d, state at %d", run, after, delay, announced, got)
	}
	t.Logf("%d runs in %v; runs by batches behind the last announcement: %v", runs, time.Since(start).Round(time.Millisecond), behind)
}

// crashOnce runs the child in dir, kills it after `after` announcements and
// delay, and returns the last batch it announced and the batch its state
// holds.
func crashOnce(t *testing.T, dir string, sync bool, after int, delay time.Duration) (announced, state uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s=%d", crashSyncEnv, map[bool]int{true: 1}[sync]))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan uint64, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "kafka-committed "); ok {
				i, err := strconv.ParseUint(n, 10, 64)
				if err == nil {
					lines <- i
				}
			} else if strings.HasPrefix(sc.Text(), "error") {
				t.Errorf("child: %s", sc.Text())
			}
		}
	}()
	timeout := time.After(10 * time.Second)
	for n := 0; n < after; {
		select {
		case i, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("the child exited after %d announcements", n)
			}
			announced = i
			n++
		case <-timeout:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child is too slow")
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	for i := range lines {
		announced = i
	}
	cmd.Wait()
	return announced, readCrashState(t, dir)
}

// readCrashState reopens the state and returns the batch it holds, failing
// unless every key and the offset hold the same one.
func readCrashState(t *testing.T, dir string) uint64 {
	t.Helper()
	db, err := OpenPebble(dir, PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	off, ok, err := db.Committed(crashTask, metaStore).Get([]byte("offset"))
	if err != nil || !ok {
		t.Fatalf("no committed offset: %v", err)
	}
	want := binary.BigEndian.Uint64(off)
	n := 0
	for e, err := range db.Committed(crashTask, "data").All(nil, nil, false) {
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint64(e.Value); got != want {
			t.Fatalf("a mix of batches: %s = %d, offset = %d", e.Key, got, want)
		}
		n++
	}
	if n != crashKeys {
		t.Fatalf("%d keys, want %d", n, crashKeys)
	}
	return want
}
