package murmur2

import "testing"

// Vectors from Kafka's UtilsTest.testMurmur2.
func TestHashKafkaVectors(t *testing.T) {
	cases := []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, c := range cases {
		if got := Hash([]byte(c.in)); got != c.want {
			t.Errorf("Hash(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPartition(t *testing.T) {
	// toPositive(-790332482) = 1357151166; % 8 = 6; % 3 = 0.
	if got := Partition([]byte("foobar"), 8); got != 6 {
		t.Errorf("Partition(foobar, 8) = %d, want 6", got)
	}
	if got := Partition([]byte("foobar"), 3); got != 0 {
		t.Errorf("Partition(foobar, 3) = %d, want 0", got)
	}
	// Empty keys hash too (only null keys are partitioned differently).
	if got := Partition([]byte{}, 5); got < 0 || got >= 5 {
		t.Errorf("Partition(empty, 5) = %d, out of range", got)
	}
}

func BenchmarkHash(b *testing.B) {
	key := []byte("0123456789abcdef")
	for b.Loop() {
		Hash(key)
	}
}
