package handle

import "testing"

// Micro-benchmarks of receipt handles: every received message is encoded once, every delete
// or visibility change parses one. Run: go test -run '^$' -bench . -benchmem ./internal/handle

var (
	benchHandle = Handle{
		Table: "ddbq-bench-table",
		PK:    "orders|tenant-0042|0",
		SK:    "m#1234567890abcdefdeadbeef",
		Token: "00112233445566778899aabbccddeeff",
	}
	sinkString string
	sinkHandle Handle
)

func BenchmarkEncode(b *testing.B) {
	s := NewSigner(nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkString = s.Encode(benchHandle)
	}
}

func BenchmarkParse(b *testing.B) {
	s := NewSigner(nil)
	h := s.Encode(benchHandle)
	b.ReportAllocs()
	for b.Loop() {
		sinkHandle, _ = s.Parse(h)
	}
}

func BenchmarkParseParallel(b *testing.B) {
	s := NewSigner([]byte("deployment key"))
	h := s.Encode(benchHandle)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Parse(h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkNewToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString = NewToken()
	}
}
