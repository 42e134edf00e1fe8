package message

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// Micro-benchmarks of what a push does per message (Validate, MD5s, Encode) and a receive
// (Decode). Run: go test -run '^$' -bench . -benchmem ./internal/message

func benchMessage(size int) events.SQSMessage {
	s := "value"
	return events.SQSMessage{
		MessageId: "0b8f6a2e-8d6c-4d5e-9b0a-3f1c2d4e5f60",
		Body:      strings.Repeat("x", size),
		Md5OfBody: "d41d8cd98f00b204e9800998ecf8427e",
		Attributes: map[string]string{
			"SentTimestamp": "1700000000123",
		},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"kind": {DataType: "String", StringValue: &s},
		},
	}
}

var (
	sinkErr   error
	sinkBytes []byte
	sinkStr   string
	sinkMsg   events.SQSMessage
)

func BenchmarkValidate(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		m := benchMessage(size)
		b.Run(sizeName(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkErr = Validate(&m, DefaultMaxSize)
			}
		})
	}
}

func BenchmarkMD5OfBody(b *testing.B) {
	m := benchMessage(256)
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = MD5OfBody(m.Body)
	}
}

func BenchmarkMD5OfAttributes(b *testing.B) {
	m := benchMessage(256)
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = MD5OfAttributes(m.MessageAttributes)
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		m := benchMessage(size)
		b.Run(sizeName(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkBytes, sinkErr = Encode(m)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		enc, err := Encode(benchMessage(size))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sizeName(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				sinkMsg, sinkErr = Decode(enc)
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
