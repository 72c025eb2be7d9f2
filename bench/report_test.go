package main

import (
	"strings"
	"testing"
	"time"
)

// TestPrintMedians checks the summary of a --repeat run: ratios are taken
// within each round, then the median (the lower middle value for an even
// count) and the range of each figure are printed.
func TestPrintMedians(t *testing.T) {
	round := func(pipe, count, goka float64, p99 time.Duration) []result {
		return []result{
			{Letter: "a", Name: "pipe", Rate: pipe, AppCPUPerRec: 1},
			{Letter: "c", Name: "count", Rate: count, AppCPUPerRec: 4, Paced: latencies{Count: 1, P99: p99}},
			{Letter: "f", Name: "goka", Rate: goka, AppCPUPerRec: 20},
			{Letter: "d", Name: "windowed", Err: "boom"},
		}
	}
	var b strings.Builder
	printMedians(&b, [][]result{
		round(1000, 400, 100, 300*time.Millisecond),
		round(800, 400, 80, 500*time.Millisecond),
		round(900, 270, 90, 400*time.Millisecond),
	})
	got := b.String()
	for _, want := range []string{
		"median over 3 rounds",
		"(a) pipe  900 [800-1000]  1.00 [1.00-1.00]",
		"(c) count  400 [270-400]  0.40 [0.30-0.50]  4.00 [3.00-5.00]  4.00 [4.00-4.00]  400 [300-500]",
		"(f) goka   90 [80-100]  0.10 [0.10-0.10]",
	} {
		if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "windowed") {
		t.Errorf("a failed workload has no medians:\n%s", got)
	}
}
