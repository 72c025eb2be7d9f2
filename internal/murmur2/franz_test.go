package murmur2

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionMatchesFranzGo checks that Partition places keyed records
// where franz-go's default producer partitioner does, so that the test
// driver and the runtime agree with any Kafka client on a key's partition.
func TestPartitionMatchesFranzGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{{}, {0}, []byte("a"), []byte("ab"), []byte("abc"), []byte("abcd"), []byte("foobar")}
	for range 5000 {
		k := make([]byte, rng.IntN(40))
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	counts := []int{1, 2, 3, 4, 7, 8, 12, 16, 31, 64, 100, 1000}
	for _, n := range counts {
		p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
		hist := make([]int, n)
		for _, k := range keys {
			r := &kgo.Record{Topic: "t", Key: k}
			if !p.RequiresConsistency(r) {
				t.Fatalf("franz-go does not hash the key %x", k)
			}
			want := p.Partition(r, n)
			got := Partition(k, n)
			if int(got) != want {
				t.Fatalf("Partition(%x, %d) = %d, franz-go chooses %d", k, n, got, want)
			}
			hist[got]++
		}
		// Every partition of a small count gets some keys.
		if n <= 16 {
			for i, c := range hist {
				if c == 0 {
					t.Errorf("n=%d: no key went to partition %d", n, i)
				}
			}
		}
	}
}
