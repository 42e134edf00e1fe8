package keys

import (
	"testing"
	"time"
)

// Micro-benchmarks of the key encodings that every push, claim and delete runs.
// Run: go test -run '^$' -bench . -benchmem ./internal/keys

var (
	benchSeq  = Seq{Time: 0x1234_5678_9abc_def0, Node: 0xdeadbeef}
	benchTime = time.Unix(1_700_000_000, 123_456_789)
	sinkStr   string
	sinkSeq   Seq
)

func BenchmarkVis(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = Vis(benchTime, benchSeq)
	}
}

func BenchmarkVisBound(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = VisBound(benchTime)
	}
}

func BenchmarkParseVis(b *testing.B) {
	v := Vis(benchTime, benchSeq)
	b.ReportAllocs()
	for b.Loop() {
		_, sinkSeq, _ = ParseVis(v)
	}
}

func BenchmarkMessageSK(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = MessageSK(benchSeq)
	}
}

func BenchmarkSeqFromSK(b *testing.B) {
	sk := MessageSK(benchSeq)
	b.ReportAllocs()
	for b.Loop() {
		sinkSeq, _ = SeqFromSK(sk)
	}
}

func BenchmarkPartitionKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = PartitionKey("orders", "tenant-0042", 7)
	}
}

func BenchmarkSplitPartitionKey(b *testing.B) {
	pk := PartitionKey("orders", "tenant-0042", 7)
	b.ReportAllocs()
	for b.Loop() {
		sinkStr, _, _, _ = SplitPartitionKey(pk)
	}
}

func BenchmarkSequencerNext(b *testing.B) {
	s := NewSequencer(nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkSeq = s.Next()
	}
}

func BenchmarkSequencerNextParallel(b *testing.B) {
	s := NewSequencer(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var last Seq
		for pb.Next() {
			last = s.Next()
		}
		_ = last
	})
}
