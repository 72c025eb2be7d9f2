package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// result is what one workload measured.
type result struct {
	Letter, Name, Title string
	Records             int64
	Skipped             string `json:",omitempty"`
	Err                 string `json:",omitempty"`

	// Full-speed pass (preloaded input).
	Rate         float64       // input records per second, first input fetched → last output visible
	Elapsed      time.Duration // that interval
	AppCPU       time.Duration // workload child CPU from READY to the last output
	AppCPUPerRec float64       // µs
	PeakRSS      int64         // bytes, workload child, at the end of the full-speed pass
	Wall         time.Duration // READY → last output, the window of the CPU figures
	BrokerCPU    time.Duration // broker child CPU in that window (0 with --brokers)
	DriverCPU    time.Duration // harness (measuring consumer) CPU in that window
	Fetched      int64         // input records fetched by the app's clients (0: unknown)
	Full         latencies

	// Paced pass.
	PacedTarget   float64
	PacedAchieved float64
	PacedRecords  int64
	Paced         latencies
	PacedErr      string `json:",omitempty"`

	FinalRSS int64 // bytes, workload child, at exit (both passes)
	// JoinMisses counts join outputs without a table value (stream records
	// processed before their key's table record).
	JoinMisses int64 `json:",omitempty"`
}

type latencies struct {
	Count                     uint64
	P50, P99, P999, Max, Mean time.Duration
}

func latenciesOf(h *Hist) latencies {
	return latencies{Count: h.Count(), P50: h.Quantile(0.5), P99: h.Quantile(0.99), P999: h.Quantile(0.999),
		Max: h.Max(), Mean: h.Mean()}
}

type runEnv struct {
	o       options
	brokers []string
	adm     *kadm.Client
	broker  *child // nil with --brokers
	dir     string
	nonce   string
	// round is the current round of --repeat (1 for a single run): each
	// round's topics, group and state directory are new.
	round int
}

func orchestrate(ctx context.Context, o options) error {
	var list []workload
	for _, s := range strings.Split(o.workloads, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		w, ok := findWorkload(s)
		if !ok {
			return fmt.Errorf("unknown workload %q", s)
		}
		list = append(list, w)
	}
	dir, err := os.MkdirTemp("", "streams-bench-")
	if err != nil {
		return err
	}
	if o.keepLogs {
		fmt.Fprintf(os.Stderr, "run directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.profileDir != "" {
		if o.profileDir, err = filepath.Abs(o.profileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	env := &runEnv{o: o, dir: dir, nonce: strconv.FormatUint(rand.Uint64()%1e6, 36)}

	mf := machineFacts()
	fmt.Println(mf)

	if o.brokers != "" {
		env.brokers = strings.Split(o.brokers, ",")
	} else {
		args := []string{"--role", "broker", "--partitions", strconv.Itoa(o.partitions)}
		if o.brokerDisk {
			args = append(args, "--data-dir", filepath.Join(dir, "kfake"))
		}
		b, err := startChild("broker", filepath.Join(dir, "broker.log"), o.verbose, args...)
		if err != nil {
			return err
		}
		env.broker = b
		defer func() {
			u, _ := b.stop(15 * time.Second)
			fmt.Printf("kfake broker: %.1f s CPU in total, peak RSS %.0f MiB\n", u.CPU().Seconds(), mib(u.MaxRSS))
		}()
		select {
		case addr := <-b.addr:
			env.brokers = strings.Split(addr, ",")
		case msg := <-b.fail:
			return fmt.Errorf("broker: %s", msg)
		case err := <-b.exit:
			return fmt.Errorf("broker exited: %v (log: %s)", err, b.log)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("broker did not start")
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	env.adm = kadm.NewClient(cl)

	var rounds [][]result
	for round := 1; round <= max(o.repeat, 1) && ctx.Err() == nil; round++ {
		if o.repeat > 1 {
			logf("round %d of %d", round, o.repeat)
		}
		env.round = round
		var results []result
		for _, w := range list {
			if ctx.Err() != nil {
				break
			}
			start := time.Now()
			r := env.runWorkload(ctx, w)
			logf("(%s) %s: done in %.0f s%s", w.letter, w.name, time.Since(start).Seconds(), errNote(r))
			results = append(results, r)
		}
		if o.repeat > 1 {
			fmt.Printf("\nround %d of %d:\n", round, o.repeat)
		}
		printTable(os.Stdout, o, results)
		rounds = append(rounds, results)
	}
	if len(rounds) > 1 {
		printMedians(os.Stdout, rounds)
	}
	if len(rounds) == 0 {
		return ctx.Err()
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(struct {
			Machine string
			Options options
			Results []result   // the last round
			Rounds  [][]result `json:",omitempty"` // every round, with --repeat
		}{mf, o, rounds[len(rounds)-1], roundsIfMany(rounds)}, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func roundsIfMany(rounds [][]result) [][]result {
	if len(rounds) > 1 {
		return rounds
	}
	return nil
}

func errNote(r result) string {
	switch {
	case r.Skipped != "":
		return " (skipped: " + r.Skipped + ")"
	case r.Err != "":
		return " (FAILED: " + r.Err + ")"
	case r.PacedErr != "":
		return " (paced pass failed: " + r.PacedErr + ")"
	}
	return ""
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// runWorkload runs both passes of one workload in a fresh child process on
// fresh topics, and deletes the topics afterwards.
func (env *runEnv) runWorkload(ctx context.Context, w workload) (r result) {
	o := env.o
	r = result{Letter: w.letter, Name: w.name, Title: w.title, Records: o.records}
	prefix := fmt.Sprintf("bench-%s-%s", env.nonce, w.name)
	if env.round > 1 {
		prefix += "-r" + strconv.Itoa(env.round)
	}
	in, out, table := prefix+"-in", prefix+"-out", prefix+"-table"
	appID := prefix
	if w.name == "goka" {
		out = appID + "-table" // goka's group table
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteTopicsWithPrefix(dctx, env.adm, prefix); err != nil {
			logf("(%s) deleting topics: %v", w.letter, err)
		}
	}()
	fail := func(format string, args ...any) result {
		r.Err = fmt.Sprintf(format, args...)
		return r
	}

	np := int32(o.partitions)
	compact := "compact"
	if err := createTopics(ctx, env.adm, np, nil, in); err != nil {
		return fail("%v", err)
	}
	if w.name == "goka" {
		// goka checks its table topic's partitions and cleanup policy.
		if err := createTopics(ctx, env.adm, np, map[string]*string{"cleanup.policy": &compact}, out); err != nil {
			return fail("%v", err)
		}
	} else if err := createTopics(ctx, env.adm, np, nil, out); err != nil {
		return fail("%v", err)
	}
	if w.table {
		if err := createTopics(ctx, env.adm, np, map[string]*string{"cleanup.policy": &compact}, table); err != nil {
			return fail("%v", err)
		}
		t0 := time.Now()
		if err := preloadTable(ctx, env.brokers, table, o.keys); err != nil {
			return fail("%v", err)
		}
		logf("(%s) %s: table of %d keys loaded in %.1f s", w.letter, w.name, o.keys, time.Since(t0).Seconds())
	}
	t0 := time.Now()
	if err := preload(ctx, env.brokers, in, 0, o.records, o.keys); err != nil {
		return fail("%v", err)
	}
	pre := time.Since(t0)
	logf("(%s) %s: preloaded %d records in %.1f s (%.0f records/s)", w.letter, w.name, o.records, pre.Seconds(), float64(o.records)/pre.Seconds())

	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	m, err := startMeasurer(mctx, env.brokers, out, w.mode)
	if err != nil {
		return fail("%v", err)
	}
	defer m.close()

	stateDir := filepath.Join(env.dir, strings.TrimPrefix(prefix, "bench-"+env.nonce+"-"))
	args := []string{"--role", "workload", "--workload", w.name, "--child-brokers", strings.Join(env.brokers, ","),
		"--in", in, "--out", out, "--table", table, "--app-id", appID, "--state-dir", stateDir,
		"--child-threads", strconv.Itoa(o.threads)}
	if o.profileDir != "" {
		args = append(args, "--profile-dir", o.profileDir)
		if o.profilePaced {
			args = append(args, "--profile-paced-pass")
		}
	}
	if o.verbose {
		args = append(args, "--diag")
	}
	if o.gokaMemory {
		args = append(args, "--child-goka-memory")
	}
	args = append(args, o.tuning.args()...)
	if o.fetchMaxWait > 0 {
		args = append(args, "--child-fetch-max-wait", o.fetchMaxWait.String())
	}
	c, err := startChild(w.name, filepath.Join(stateDir+".log"), o.verbose, args...)
	if err != nil {
		return fail("%v", err)
	}
	stopped := false
	stopChild := func() {
		if stopped {
			return
		}
		stopped = true
		u, err := c.stop(60 * time.Second)
		r.FinalRSS = u.MaxRSS
		if err != nil {
			logf("(%s) %s: %v", w.letter, w.name, err)
		}
	}
	defer stopChild()
	// A child that fails wakes the measurer's waiters.
	go func() {
		select {
		case msg := <-c.fail:
			m.wake(fmt.Errorf("workload process failed: %s (log: %s)", msg, c.log))
		case <-mctx.Done():
		}
	}()

	var readyU usage
	select {
	case readyU = <-c.ready:
	case msg := <-c.fail:
		return fail("workload failed: %s (log: %s)", msg, c.log)
	case err := <-c.exit:
		stopped = true
		return fail("workload exited before it was ready: %v (log: %s)", err, c.log)
	case <-time.After(120 * time.Second):
		return fail("workload not ready after 120 s (log: %s)", c.log)
	case <-ctx.Done():
		return fail("interrupted")
	}
	readyAt := time.Now()
	var brokerReady usage
	if env.broker != nil {
		brokerReady, _ = env.broker.usage(10 * time.Second)
	}
	driverReady := selfUsage()

	if o.verbose {
		go func() {
			for mctx.Err() == nil {
				time.Sleep(250 * time.Millisecond)
				m.mu.Lock()
				p := m.progress
				m.mu.Unlock()
				logf("(%s) progress %d", w.letter, p)
			}
		}()
	}
	timeout := max(120*time.Second, time.Duration(o.records/5000)*time.Second)
	target := w.expect(o.records)
	lastAt, err := m.waitFor(target, timeout)
	if err != nil {
		return fail("full-speed pass: %v (log: %s)", err, c.log)
	}
	endU, err := c.usage(30 * time.Second)
	if err != nil {
		return fail("%v", err)
	}
	r.Fetched = c.fetched.Load()
	driverEnd := selfUsage()
	if env.broker != nil {
		if bu, err := env.broker.usage(10 * time.Second); err == nil {
			r.BrokerCPU = bu.CPU() - brokerReady.CPU()
		}
	}
	if o.profileDir != "" {
		if o.profilePaced {
			_ = c.send("profile-start")
		} else {
			_ = c.send("profile-stop")
		}
	}
	var firstAt time.Time
	select {
	case firstAt = <-c.first:
	default:
		firstAt = readyAt
		logf("(%s) %s: no first-fetch mark; timing from READY", w.letter, w.name)
	}
	r.Elapsed = lastAt.Sub(firstAt)
	r.Rate = float64(o.records) / r.Elapsed.Seconds()
	r.Wall = lastAt.Sub(readyAt)
	r.AppCPU = endU.CPU() - readyU.CPU()
	r.AppCPUPerRec = float64(r.AppCPU.Microseconds()) / float64(o.records)
	r.PeakRSS = endU.MaxRSS
	r.DriverCPU = driverEnd.CPU() - driverReady.CPU()
	full, _, _ := m.snapshot()
	r.Full = latenciesOf(&full)
	logf("(%s) %s: full speed %.0f records/s, %.2f µs CPU/record, peak RSS %.0f MiB; broker %.2f cores",
		w.letter, w.name, r.Rate, r.AppCPUPerRec, mib(r.PeakRSS), r.BrokerCPU.Seconds()/r.Wall.Seconds())

	// Paced pass: 50% of the measured maximum, on the same, warm, process.
	r.PacedTarget = r.Rate / 2
	n := min(o.records, max(1000, int64(r.PacedTarget*o.pacedSeconds)))
	r.PacedRecords = n
	m.pacedFrom.Store(time.Now().UnixMilli())
	achieved, err := paced(ctx, env.brokers, in, o.records, o.records+n, o.keys, r.PacedTarget)
	if err != nil {
		r.PacedErr = err.Error()
		return r
	}
	r.PacedAchieved = achieved
	if _, err := m.waitFor(w.expect(o.records+n), 60*time.Second+time.Duration(o.pacedSeconds*float64(time.Second))); err != nil {
		r.PacedErr = err.Error()
	}
	if o.profileDir != "" && o.profilePaced {
		_ = c.send("profile-stop")
	}
	_, pacedH, misses := m.snapshot()
	r.Paced = latenciesOf(&pacedH)
	if w.table {
		r.JoinMisses = misses
	}
	stopChild()
	return r
}
