// Command bench is the benchmark harness of the streams library: it runs a
// set of workloads against one broker (an in-process kfake broker by default,
// or a real cluster with --brokers) and prints throughput, CPU per record,
// peak memory and end-to-end latency for each.
//
//	go -C bench run .            # full run, about 10 minutes on 2 cores
//	go -C bench run . --quick    # short run, under 2 minutes
//
// Every workload runs in its own child process (this binary, re-executed),
// so that its CPU time and peak RSS are its own; the kfake broker runs in a
// child of its own too, and its CPU time is reported separately. See
// README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/seed992c72d9/streams/embedded"
)

type options struct {
	brokers      string
	records      int64
	partitions   int
	keys         int
	workloads    string
	quick        bool
	repeat       int
	pacedSeconds float64
	profileDir   string
	profilePaced bool
	threads      int
	brokerDisk   bool
	verbose      bool
	jsonOut      string
	keepLogs     bool
	fetchMaxWait time.Duration
	gokaMemory   bool
	tuning       tuning
}

// tuning overrides streams configuration of the streams workloads (zero:
// the library's default).
type tuning struct {
	cacheMiB, blockCacheMiB, memTableMiB int
	maxBuffered                          int
}

func (t tuning) args() []string {
	var out []string
	if t.cacheMiB != 0 {
		out = append(out, "--cache-mib", strconv.Itoa(t.cacheMiB))
	}
	if t.blockCacheMiB != 0 {
		out = append(out, "--block-cache-mib", strconv.Itoa(t.blockCacheMiB))
	}
	if t.memTableMiB != 0 {
		out = append(out, "--memtable-mib", strconv.Itoa(t.memTableMiB))
	}
	if t.maxBuffered != 0 {
		out = append(out, "--max-buffered", strconv.Itoa(t.maxBuffered))
	}
	return out
}

func main() {
	var o options
	var role string
	var ca childArgs
	var brokerList string
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated bootstrap brokers of a real cluster (default: start an in-process kfake broker)")
	fs.Int64Var(&o.records, "records", 2_000_000, "input records per workload for the full-speed pass")
	fs.IntVar(&o.partitions, "partitions", 8, "partitions of every topic")
	fs.IntVar(&o.keys, "keys", 100_000, "distinct keys in the input (and keys in the join's table)")
	fs.StringVar(&o.workloads, "workloads", "a,b,c,d,e,f", "workloads to run, by letter or name: a pipe, b stateless, c count, d windowed, e join, f goka")
	fs.BoolVar(&o.quick, "quick", false, "short run: 200k records, 3 s paced pass (unless --records/--paced-seconds are given)")
	fs.IntVar(&o.repeat, "repeat", 1, "run the workloads this many rounds, one after another, and end with each figure's median over the rounds")
	fs.Float64Var(&o.pacedSeconds, "paced-seconds", 10, "duration of the paced pass at 50% of the measured maximum rate (at most --records records)")
	fs.StringVar(&o.profileDir, "cpuprofile-dir", "", "write a CPU profile and an alloc profile of each workload's full-speed pass to this directory")
	fs.BoolVar(&o.profilePaced, "profile-paced", false, "with --cpuprofile-dir: profile the paced pass instead of the full-speed pass (files named <letter>-<name>-paced.*)")
	fs.IntVar(&o.threads, "threads", 1, "processing threads of the streams workloads")
	fs.BoolVar(&o.brokerDisk, "broker-disk", false, "give the kfake broker a data directory (under the run's temp dir) instead of memory only")
	fs.BoolVar(&o.verbose, "v", false, "show the children's logs")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.keepLogs, "keep", false, "keep the run's temp dir (children's logs, state)")
	// Child roles (internal).
	fs.StringVar(&role, "role", "", "internal: broker | workload")
	fs.StringVar(&ca.workload, "workload", "", "internal")
	fs.StringVar(&brokerList, "child-brokers", "", "internal")
	fs.StringVar(&ca.in, "in", "", "internal")
	fs.StringVar(&ca.out, "out", "", "internal")
	fs.StringVar(&ca.table, "table", "", "internal")
	fs.StringVar(&ca.appID, "app-id", "", "internal")
	fs.StringVar(&ca.stateDir, "state-dir", "", "internal")
	fs.StringVar(&ca.profileDir, "profile-dir", "", "internal")
	fs.BoolVar(&ca.profilePaced, "profile-paced-pass", false, "internal")
	fs.IntVar(&ca.threads, "child-threads", 1, "internal")
	fs.BoolVar(&ca.diag, "diag", false, "internal")
	fs.BoolVar(&ca.gokaMemory, "child-goka-memory", false, "internal")
	fs.BoolVar(&o.gokaMemory, "goka-memory", false, "keep goka's state in memory instead of LevelDB (goka's default)")
	fs.DurationVar(&ca.fetchMaxWait, "child-fetch-max-wait", 0, "internal")
	fs.DurationVar(&o.fetchMaxWait, "fetch-max-wait", 0, "set kgo.FetchMaxWait on the streams workloads' clients (default: the library's, 500 ms)")
	fs.IntVar(&o.tuning.cacheMiB, "cache-mib", 0, "Config.CacheMaxBytes of the streams workloads, in MiB (default: the library's, 10; negative disables the cache)")
	fs.IntVar(&o.tuning.blockCacheMiB, "block-cache-mib", 0, "Config.PebbleBlockCacheBytes of the streams workloads, in MiB (default: the library's, 64)")
	fs.IntVar(&o.tuning.memTableMiB, "memtable-mib", 0, "Config.PebbleMemTableBytes of the streams workloads, in MiB (default: the library's, 32)")
	fs.IntVar(&o.tuning.maxBuffered, "max-buffered", 0, "Config.MaxBufferedRecords of the streams workloads (default: the library's, 1000)")
	ca.tuning = &o.tuning
	var dataDir string
	fs.StringVar(&dataDir, "data-dir", "", "internal")
	fs.Parse(os.Args[1:])

	switch role {
	case "broker":
		if err := runBrokerChild(o.partitions, dataDir); err != nil {
			fmt.Fprintln(os.Stderr, "broker:", err)
			os.Exit(1)
		}
		return
	case "workload":
		ca.brokers = strings.Split(brokerList, ",")
		if err := runWorkloadChild(ca); err != nil {
			fmt.Fprintln(os.Stderr, "workload:", err)
			os.Exit(1)
		}
		return
	case "":
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		os.Exit(2)
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["records"] {
			o.records = 200_000
		}
		if !set["paced-seconds"] {
			o.pacedSeconds = 3
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := orchestrate(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runBrokerChild runs the embedded kfake broker until told to stop.
func runBrokerChild(partitions int, dataDir string) error {
	b, err := embedded.Start(embedded.Config{Port: -1, DataDir: dataDir, DefaultPartitions: int32(partitions)})
	if err != nil {
		emit("FAIL %v", err)
		return err
	}
	emit("ADDR %s", strings.Join(b.Addrs(), ","))
	serveCommands(func(string) {})
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return nil
}
