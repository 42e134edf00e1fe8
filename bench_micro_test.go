package dynamodbqueue

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/handle"
)

// Micro-benchmarks of the per-message work of the queue that needs no network: building the
// item of a push, decoding an item read by a poll, turning a claimed item into a message.
// Run: go test -run '^$' -bench Micro -benchmem .

func microQueue() *DynamoDBQueue {
	return NewFromClient(nil, 0).UseTable("bench-table").UseQueueName("orders").UseClientID("tenant-0042").UseLogger(nil)
}

func microMessage(size int) events.SQSMessage {
	return events.SQSMessage{Body: strings.Repeat("x", size)}
}

var (
	sinkOutgoing *outgoing
	sinkRecord   record
	sinkMessage  *events.SQSMessage
)

// BenchmarkMicroPrepare is the client-side cost of one pushed message: validation, MD5s,
// message ID, sequence number, JSON encoding and the item map.
func BenchmarkMicroPrepare(b *testing.B) {
	for _, size := range []int{256, 4 << 10} {
		b.Run(sizeLabel(size), func(b *testing.B) {
			q := microQueue()
			s := q.snapshot()
			m := microMessage(size)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				o, err := q.prepare(s, &m, now, time.Hour, 0)
				if err != nil {
					b.Fatal(err)
				}
				sinkOutgoing = o
			}
		})
	}
}

// BenchmarkMicroDecodeRecord decodes one item returned by the poll's query.
func BenchmarkMicroDecodeRecord(b *testing.B) {
	q := microQueue()
	m := microMessage(256)
	o, err := q.prepare(q.snapshot(), &m, time.Now(), time.Hour, 0)
	if err != nil {
		b.Fatal(err)
	}
	item := o.item
	item[attrToken] = avS(handle.NewToken())
	item[attrReceiveCount] = avN(1)
	b.ReportAllocs()
	for b.Loop() {
		sinkRecord = decodeRecord(item)
	}
}

// BenchmarkMicroDeliver is what a receive does per claimed message besides the network: the
// receipt handle and the message decoded from the stored JSON.
func BenchmarkMicroDeliver(b *testing.B) {
	q := microQueue()
	s := q.snapshot()
	m := microMessage(256)
	o, err := q.prepare(s, &m, time.Now(), time.Hour, 0)
	if err != nil {
		b.Fatal(err)
	}
	r := decodeRecord(o.item)
	r.Token = handle.NewToken()
	r.ReceiveCount, r.FirstReceive = 1, 1
	b.ReportAllocs()
	for b.Loop() {
		h := s.signer.Encode(handle.Handle{Table: s.table, PK: r.PK, SK: r.SK, Token: r.Token})
		msg, err := q.toMessage(r, r.Event, h)
		if err != nil {
			b.Fatal(err)
		}
		sinkMessage = msg
	}
}

func sizeLabel(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
