package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// machineFacts describes the machine and the build.
func machineFacts() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = " " + strings.TrimSpace(string(b))
	}
	deps := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		var parts []string
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/twmb/franz-go", "github.com/twmb/franz-go/pkg/kfake", "github.com/lovoo/goka",
				"github.com/IBM/sarama", "github.com/cockroachdb/pebble/v2":
				v := d.Version
				if d.Replace != nil {
					v = d.Replace.Version
				}
				parts = append(parts, strings.TrimPrefix(d.Path, "github.com/")+" "+v)
			}
		}
		deps = "\nmodules: " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("machine: %s, %d logical CPUs (GOMAXPROCS %d)%s, %s/%s%s, %s%s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.GOOS, runtime.GOARCH, kernel, runtime.Version(), deps)
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f", float64(d)/1e6)
	case d < 100*time.Second:
		return fmt.Sprintf("%.0f", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

func printTable(w io.Writer, o options, rs []result) {
	broker := "in-process kfake (separate process)"
	if o.brokers != "" {
		broker = o.brokers
	}
	fmt.Fprintf(w, "\n%d input records per workload (16-byte keys, 100-byte values, %d distinct keys), %d partitions, broker: %s\n",
		o.records, o.keys, o.partitions, broker)
	fmt.Fprintln(w, "full = preloaded input at full speed (latency counts from the preload timestamp, so it is mostly backlog age);")
	fmt.Fprintln(w, "50% = paced producer at half the measured full-speed rate while the app runs. Latencies in ms, timestamps have 1 ms resolution.")
	fmt.Fprintln(w)
	var base float64
	for _, r := range rs {
		if r.Letter == "a" && r.Err == "" {
			base = r.Rate
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\trecords/s\tvs (a)\tCPU µs/rec\tpeak RSS MiB\tfull p50\tp99\tp99.9\tmax\t50% rate\tp50\tp99\tp99.9\tmax\t")
	for _, r := range rs {
		name := "(" + r.Letter + ") " + r.Name
		if r.Skipped != "" || r.Err != "" {
			note := r.Skipped
			if note == "" {
				note = "FAILED"
			}
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\t\t\t\n", name, note)
			continue
		}
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f", r.Rate/base)
		}
		pr, p50, p99, p999, pmax := "-", "-", "-", "-", "-"
		if r.Paced.Count > 0 {
			pr = fmt.Sprintf("%.0f", r.PacedAchieved)
			p50, p99, p999, pmax = ms(r.Paced.P50), ms(r.Paced.P99), ms(r.Paced.P999), ms(r.Paced.Max)
			if r.PacedErr != "" {
				pr += "!"
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			name, r.Rate, ratio, r.AppCPUPerRec, mib(r.PeakRSS),
			ms(r.Full.P50), ms(r.Full.P99), ms(r.Full.P999), ms(r.Full.Max), pr, p50, p99, p999, pmax)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nCPU during the full-speed pass (from the app's READY to the last output; cores = CPU seconds / wall seconds):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\twall s\tapp cores\tbroker cores\tbroker µs/rec\tharness cores\tbroker share\tfetched/input\toutputs (full)\toutputs (50%)\tpaced recs\t")
	for _, r := range rs {
		if r.Skipped != "" || r.Err != "" {
			continue
		}
		wall := r.Wall.Seconds()
		share := "-"
		bc, bus := "-", "-"
		if r.BrokerCPU > 0 {
			total := r.AppCPU + r.BrokerCPU + r.DriverCPU
			share = fmt.Sprintf("%.0f%%", 100*r.BrokerCPU.Seconds()/total.Seconds())
			bc = fmt.Sprintf("%.2f", r.BrokerCPU.Seconds()/wall)
			bus = fmt.Sprintf("%.2f", float64(r.BrokerCPU.Microseconds())/float64(r.Records))
		}
		refetch := "-"
		if r.Fetched > 0 {
			refetch = fmt.Sprintf("%.2f", float64(r.Fetched)/float64(r.Records))
		}
		fmt.Fprintf(tw, "(%s) %s\t%.1f\t%.2f\t%s\t%s\t%.2f\t%s\t%s\t%d\t%d\t%d\t\n", r.Letter, r.Name, wall,
			r.AppCPU.Seconds()/wall, bc, bus, r.DriverCPU.Seconds()/wall, share, refetch, r.Full.Count, r.Paced.Count, r.PacedRecords)
	}
	tw.Flush()
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(w, "(%s) %s skipped: %s\n", r.Letter, r.Name, r.Skipped)
		}
		if r.Err != "" {
			fmt.Fprintf(w, "(%s) %s failed: %s\n", r.Letter, r.Name, r.Err)
		}
		if r.PacedErr != "" {
			fmt.Fprintf(w, "(%s) %s paced pass: %s\n", r.Letter, r.Name, r.PacedErr)
		}
		if r.JoinMisses > 0 {
			fmt.Fprintf(w, "(%s) %s: %d of %d stream records were joined before their key's table record had been read (left join: output without table value)\n",
				r.Letter, r.Name, r.JoinMisses, r.Records+r.PacedRecords)
		}
	}
}

// printMedians ends a --repeat run: for each workload, the median over the
// rounds of its rate, of its ratio to the pipe's rate in the same round, of
// its CPU per record and of its paced p99, with the range of each. Ratios
// are taken within a round, where the workloads ran one after another on
// the same machine, and only then summarized.
func printMedians(w io.Writer, rounds [][]result) {
	fmt.Fprintf(w, "\nmedian over %d rounds (min-max in brackets; ratios taken within each round):\n", len(rounds))
	type series struct {
		letter, name                   string
		rate, ratio, gokaX, cpu, p99Ms []float64
	}
	var order []string
	by := map[string]*series{}
	for _, rs := range rounds {
		var pipe, goka float64
		for _, r := range rs {
			if r.Err == "" && r.Skipped == "" {
				switch r.Letter {
				case "a":
					pipe = r.Rate
				case "f":
					goka = r.Rate
				}
			}
		}
		for _, r := range rs {
			if r.Err != "" || r.Skipped != "" {
				continue
			}
			sr, ok := by[r.Letter]
			if !ok {
				sr = &series{letter: r.Letter, name: r.Name}
				by[r.Letter] = sr
				order = append(order, r.Letter)
			}
			sr.rate = append(sr.rate, r.Rate)
			sr.cpu = append(sr.cpu, r.AppCPUPerRec)
			if pipe > 0 {
				sr.ratio = append(sr.ratio, r.Rate/pipe)
			}
			if goka > 0 && r.Letter == "c" {
				sr.gokaX = append(sr.gokaX, r.Rate/goka)
			}
			if r.Paced.Count > 0 {
				sr.p99Ms = append(sr.p99Ms, float64(r.Paced.P99)/1e6)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\trecords/s\tvs (a)\tvs goka\tCPU µs/rec\t50% p99 ms\t")
	for _, l := range order {
		sr := by[l]
		fmt.Fprintf(tw, "(%s) %s\t%s\t%s\t%s\t%s\t%s\t\n", sr.letter, sr.name,
			medianRange(sr.rate, "%.0f"), medianRange(sr.ratio, "%.2f"), medianRange(sr.gokaX, "%.2f"),
			medianRange(sr.cpu, "%.2f"), medianRange(sr.p99Ms, "%.0f"))
	}
	tw.Flush()
}

// medianRange formats the median of xs and, for more than one value, their
// range; "-" for none. With an even count the median is the lower middle
// value, one that was measured.
func medianRange(xs []float64, format string) string {
	if len(xs) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(xs))
	out := fmt.Sprintf(format, s[(len(s)-1)/2])
	if len(s) > 1 {
		out += " [" + fmt.Sprintf(format, s[0]) + "-" + fmt.Sprintf(format, s[len(s)-1]) + "]"
	}
	return out
}
