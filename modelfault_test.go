package dynamodbqueue_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"pgregory.net/rapid"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Injected request failures for TestModel, through the hookAPI of each process.

// errInjected is the failure TestModel injects.
var errInjected = errors.New("model test: injected request failure")

// modelFault fails the at-th request (1-based, counting every request) of one operation,
// either before it is sent or after DynamoDB applied it (the lost-response case).
type modelFault struct {
	at    int // 0: no failure
	after bool
}

// drawFault draws no failure most of the time.
func drawFault(rt *rapid.T) modelFault {
	if rapid.IntRange(0, 3).Draw(rt, "fault") != 0 {
		return modelFault{}
	}
	return modelFault{at: rapid.IntRange(1, 4).Draw(rt, "faultAt"), after: rapid.Bool().Draw(rt, "faultAfterApply")}
}

// never is the "did a failure hit?" of an operation without injected failures.
func never() bool { return false }

// arm installs f on the process's client and returns whether it has fired so far.
func (p *modelProc) arm(f modelFault) func() bool {
	var fired atomic.Bool
	if f.at == 0 {
		p.api.set(nil)
		return fired.Load
	}
	p.at(f.at, func(op string, in any) error {
		fired.Store(true)
		if f.after {
			applyRequest(p.api.API, in)
		}
		return errInjected
	})
	return fired.Load
}

// at runs fn before the n-th request of the operation under test on the process's client;
// fn's error fails that request. The table watcher's requests are not counted: they run on the
// watcher's goroutine, concurrently with the operation (a long poll's checked-empty mark keeps
// its pair watched for a while after the poll, receive_mark.go).
func (p *modelProc) at(n int, fn hookFunc) {
	var count atomic.Int64
	p.api.set(func(op string, in any) error {
		if isWatcherRequest(op, in) {
			return nil
		}
		if count.Add(1) == int64(n) {
			return fn(op, in)
		}
		return nil
	})
}

// applyRequest sends a write to DynamoDB and drops the response, as a connection lost after
// the server applied the request does. Reads need no applying.
func applyRequest(api dynamodbqueue.API, in any) {
	ctx := context.Background()
	switch v := in.(type) {
	case *dynamodb.PutItemInput:
		_, _ = api.PutItem(ctx, v)
	case *dynamodb.UpdateItemInput:
		_, _ = api.UpdateItem(ctx, v)
	case *dynamodb.DeleteItemInput:
		_, _ = api.DeleteItem(ctx, v)
	case *dynamodb.BatchWriteItemInput:
		_, _ = api.BatchWriteItem(ctx, v)
	}
}

// isWrite reports whether a hookAPI operation name is a write.
func isWrite(op string) bool {
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem":
		return true
	}
	return false
}

// isWatcherRequest reports whether a request may come from the table watcher: a read of
// activity hints, a fallback check (a Limit-1 keys-only query of the ready index; a long poll's
// probe looks the same and is not counted either), or a read of queue definitions (a check
// reads its pair's definition when it has none cached).
func isWatcherRequest(op string, in any) bool {
	if isHintQuery(op, in) {
		return true
	}
	switch v := in.(type) {
	case *dynamodb.QueryInput:
		if v.Limit != nil && *v.Limit == 1 && v.ProjectionExpression != nil {
			return true
		}
		pk, _ := v.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS)
		return pk != nil && strings.HasPrefix(pk.Value, "@def|")
	case *dynamodb.BatchGetItemInput:
		for _, ka := range v.RequestItems {
			for _, k := range ka.Keys {
				if pk, _ := k["PK"].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, "@def|") {
					return true
				}
			}
		}
	}
	return false
}
