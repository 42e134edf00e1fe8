package dynamodbqueue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/store"
)

// QueueAndClientID names one (queue, client) pair of a table.
type QueueAndClientID struct {
	QueueName string
	ClientID  string
}

// Stats counts the messages of a (queue, client) pair by state. Expired messages are not
// counted. The counts are exact at the moment each item was read, like SQS's approximate ones.
type Stats struct {
	Visible      int // can be received now
	InFlight     int // received and within their visibility timeout (or released with a backoff)
	Delayed      int // pushed with a delay that has not passed yet
	DeadLettered int // in the dead-letter queue (0 without UseDeadLetterQueue)
	Groups       int // FIFO message groups with messages
}

// Total is the number of messages in the queue itself (not counting dead letters).
func (s Stats) Total() int { return s.Visible + s.InFlight + s.Delayed }

// Count returns the number of messages of this (queue, client), whatever their state
// (visible, in flight or delayed), excluding expired ones. It reads every message item's key
// attributes, page by page, so it costs in proportion to the queue's size.
func (q *DynamoDBQueue) Count(ctx context.Context) (int, error) {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return 0, err
	}
	return q.count(ctx, s)
}

func (q *DynamoDBQueue) count(ctx context.Context, s *settings) (int, error) {
	total := 0
	nowSec := q.core.now().Unix()
	for pk := range s.partitions() {
		err := q.store(s.table).EachPage(ctx, "Query (count)", &dynamodb.QueryInput{
			// g#... and m#... are adjacent in sort order: one range holds every message.
			KeyConditionExpression:   aws.String("PK = :pk AND SK BETWEEN :first AND :last"),
			FilterExpression:         aws.String("#ttl > :now"),
			ExpressionAttributeNames: map[string]string{"#ttl": attrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(pk), ":first": avS(keys.GroupMsgPrefix), ":now": avN(nowSec),
				":last": avS("m$"), // '$' sorts right after '#'

			},
			Select: types.SelectCount,
		}, func(out *dynamodb.QueryOutput) bool { total += int(out.Count); return true })
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Stats counts this pair's messages by state, and its dead letters.
func (q *DynamoDBQueue) Stats(ctx context.Context) (Stats, error) {
	st, _, err := q.statsAndOldest(ctx)
	return st, err
}

// statsAndOldest is Stats plus when the oldest visible message was sent (zero if none).
func (q *DynamoDBQueue) statsAndOldest(ctx context.Context) (Stats, time.Time, error) {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return Stats{}, time.Time{}, err
	}
	st, oldest, _, err := q.pairStats(ctx, s) // inspection_stats.go
	if err != nil {
		return Stats{}, time.Time{}, err
	}
	if s.dlq != nil {
		n, err := q.count(ctx, s.deadLetterSettings())
		if err != nil {
			return st, oldest, err
		}
		st.DeadLettered = n
	}
	return st, oldest, nil
}

// scanPartition reads every item of a partition from the sort key `from` on ("" = all),
// projecting attrs.
func (q *DynamoDBQueue) scanPartition(ctx context.Context, table, pk, from, attrs string, fn func(record)) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk)},
		ProjectionExpression:      aws.String(attrs),
	}
	if from != "" { // DynamoDB rejects empty strings as key values
		in.KeyConditionExpression = aws.String("PK = :pk AND SK >= :from")
		in.ExpressionAttributeValues[":from"] = avS(from)
	}
	if strings.Contains(attrs, "#ttl") { // TTL is a reserved word
		in.ExpressionAttributeNames = map[string]string{"#ttl": attrTTL}
	}
	return q.store(table).EachRecord(ctx, "Query", in, func(r record) bool { fn(r); return true })
}

// Peek returns up to max messages that are visible now, in delivery order, without claiming
// them: they carry no receipt handle and stay visible to everyone. For a FIFO group only its
// next message is shown. Like Count and Stats it only reads, so it works with read-only
// permissions.
func (q *DynamoDBQueue) Peek(ctx context.Context, max int) ([]events.SQSMessage, error) {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return nil, err
	}
	if max < 1 || max > MaxReceiveMessages {
		return nil, argError("max", "max %d, must be 1..%d", max, MaxReceiveMessages)
	}
	now := q.core.now()
	var cands []*candidate
	for pk := range s.partitions() {
		if len(cands) >= max {
			break
		}
		var start map[string]types.AttributeValue
		for first := true; (first || start != nil) && len(cands) < max; first = false {
			recs, next, err := q.store(s.table).ReadyPage(ctx, store.Ready{PK: pk, Now: now,
				Forward: s.order == FIFO, Limit: max, Start: start, Op: "Query (peek)"})
			if err != nil {
				return nil, err
			}
			start = next
			for _, r := range recs {
				if r.Expired(now) {
					continue
				}
				if !keys.IsMessageSK(r.SK) {
					head, err := q.peekGroupHead(ctx, s, r, now)
					if err != nil {
						return nil, err
					}
					if head == nil || head.VisibleAfter > ms(now) {
						continue
					}
					r = *head
				}
				c := &candidate{rec: r}
				if r.Chunks > 0 {
					c.chunk, c.msg = &c.rec, &events.SQSMessage{}
				} else if c.msg, err = q.toMessage(r, r.Event, ""); err != nil {
					return nil, err
				}
				if cands = append(cands, c); len(cands) == max {
					break
				}
			}
		}
	}
	if err := q.fetchBodies(ctx, s, cands); err != nil {
		return nil, err
	}
	msgs := make([]events.SQSMessage, 0, len(cands))
	for _, c := range cands {
		if c.err != nil {
			return nil, c.err
		}
		msgs = append(msgs, *c.msg)
	}
	return msgs, nil
}

// peekGroupHead returns the oldest live message of the group whose lock item is g, or nil. It
// only reads: unlike a receive it leaves expired heads and empty locks for consumers to clean
// up, so Peek works with read-only permissions.
func (q *DynamoDBQueue) peekGroupHead(ctx context.Context, s *settings, g record, now time.Time) (*record, error) {
	group, ok := keys.GroupFromSK(g.SK)
	if !ok {
		return nil, fmt.Errorf("dynamodbqueue: malformed group item %s/%s", g.PK, g.SK)
	}
	p := dynamodb.NewQueryPaginator(q.core.api, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(g.PK), ":prefix": avS(keys.GroupMessagePrefix(group)),
		},
		Limit: aws.Int32(maxHeadSkips), // expired heads are few: receives delete them
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrapAPI("Query (group head)", s.table, err)
		}
		for _, item := range out.Items {
			if head := decodeRecord(item); !head.Expired(now) {
				return &head, nil
			}
		}
	}
	return nil, nil
}

// List returns every (queue, client) pair that had a message pushed in the table since its last
// PurgeAll. It reads the registry partition, not the messages. A pair pushed to by a process
// that did not run the PurgeAll shows again within five minutes of its next push.
func (q *DynamoDBQueue) List(ctx context.Context) ([]QueueAndClientID, error) {
	s := q.snapshot()
	if err := s.checkTable(); err != nil {
		return nil, err
	}
	var out []QueueAndClientID
	p := dynamodb.NewQueryPaginator(q.core.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(keys.RegistryPK)},
		ProjectionExpression:      aws.String("#q, #c"),
		ExpressionAttributeNames:  map[string]string{"#q": attrQueue, "#c": attrClient},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrapAPI("Query (registry)", s.table, err)
		}
		for _, item := range page.Items {
			out = append(out, QueueAndClientID{QueueName: str(item[attrQueue]), ClientID: str(item[attrClient])})
		}
	}
	return out, nil
}

// Purge deletes every message of this (queue, client), in every state, with its groups and
// deduplication records. Messages pushed while it runs may survive.
func (q *DynamoDBQueue) Purge(ctx context.Context) error {
	s := q.resolved(ctx)
	if err := s.checkQueue(); err != nil {
		return err
	}
	for pk := range s.partitions() {
		var reqs []types.WriteRequest
		var locks []record
		err := q.scanPartition(ctx, s.table, pk, "", "PK, SK, nc, vis, lp", func(r record) {
			if strings.HasPrefix(r.SK, keys.GroupPrefix) {
				locks = append(locks, r)
			} else {
				reqs = append(reqs, q.deleteRequests(r)...)
			}
		})
		if err != nil {
			return err
		}
		if _, err := q.batchWrite(ctx, s.table, reqs); err != nil {
			return err
		}
		// A group lock goes only if no push touched it since the read, or that push's
		// message would survive the purge without a lock and never be offered.
		for _, g := range locks {
			if err := q.deleteGroupLock(ctx, s, g, false); err != nil && !isConditionFailed(err) {
				return err
			}
		}
	}
	return nil
}

// PurgeAll deletes every item of the table: all queues, clients and the registry. It scans the
// whole table.
func (q *DynamoDBQueue) PurgeAll(ctx context.Context) error {
	s := q.snapshot()
	if err := s.checkTable(); err != nil {
		return err
	}
	// Registry entries are deleted too (also if the purge stops half-way): pushes from this
	// process must write their pairs' entries again once it is over.
	defer q.core.registered.forget()
	p := dynamodb.NewScanPaginator(q.core.api, &dynamodb.ScanInput{
		TableName:            aws.String(s.table),
		ProjectionExpression: aws.String("PK, SK"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrapAPI("Scan", s.table, err)
		}
		reqs := make([]types.WriteRequest, 0, len(page.Items))
		for _, item := range page.Items {
			reqs = append(reqs, deleteReq(str(item[attrPK]), str(item[attrSK])))
		}
		if _, err := q.batchWrite(ctx, s.table, reqs); err != nil {
			return err
		}
	}
	return nil
}
