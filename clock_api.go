package dynamodbqueue

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dynamodbqueue/dynamodbqueue/internal/clock"
)

// clockedAPI is the API the queue's core calls: the caller's API, with every request timed on
// the local clock and the Date header of its response fed to the process's clock estimate.
// Success and error responses count alike (a lost conditional write is dated too). An API
// that is not an AWS SDK client ignores the added option and yields no readings: its offset
// stays 0.
type clockedAPI struct {
	API
	clock *clockState
}

func (a *clockedAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return timed(a, ctx, a.API.GetItem, in, optFns)
}

func (a *clockedAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return timed(a, ctx, a.API.PutItem, in, optFns)
}

func (a *clockedAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return timed(a, ctx, a.API.UpdateItem, in, optFns)
}

func (a *clockedAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return timed(a, ctx, a.API.DeleteItem, in, optFns)
}

func (a *clockedAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return timed(a, ctx, a.API.Query, in, optFns)
}

func (a *clockedAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return timed(a, ctx, a.API.Scan, in, optFns)
}

func (a *clockedAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return timed(a, ctx, a.API.BatchWriteItem, in, optFns)
}

func (a *clockedAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return timed(a, ctx, a.API.BatchGetItem, in, optFns)
}

func (a *clockedAPI) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return timed(a, ctx, a.API.CreateTable, in, optFns)
}

func (a *clockedAPI) DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	return timed(a, ctx, a.API.DeleteTable, in, optFns)
}

func (a *clockedAPI) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return timed(a, ctx, a.API.DescribeTable, in, optFns)
}

func (a *clockedAPI) UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	return timed(a, ctx, a.API.UpdateTimeToLive, in, optFns)
}

func (a *clockedAPI) DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	return timed(a, ctx, a.API.DescribeTimeToLive, in, optFns)
}

// timed runs one request and feeds the reading it yields to the clock estimate. With DynamoDB's
// clock as the reference, a middleware reads the Date header (see dateReader). A simulated
// reference (tests) stands for a perfect time source: it is read right after the response,
// between two back-to-back readings of the local clock, so the estimate does not depend on
// how long the request took.
func timed[I, O any](a *clockedAPI, ctx context.Context, call func(context.Context, I, ...func(*dynamodb.Options)) (O, error), in I, optFns []func(*dynamodb.Options)) (O, error) {
	src := a.clock.src.Load()
	var s clock.Sample
	if src.ref == nil {
		optFns = append(optFns[:len(optFns):len(optFns)], dateReader(src.local, &s))
	}
	out, err := call(ctx, in, optFns...)
	if src.ref != nil {
		s.Sent = src.local()
		s.Server = src.ref()
		s.Received = src.local()
	}
	if !s.Server.IsZero() {
		a.clock.add(ctx, s)
	}
	return out, err
}

// dateReader returns an option that adds the innermost deserialize middleware: it times each
// HTTP round trip on local and stores, in s, the reading of the response's Date header (1 s
// resolution). The last attempt's reading wins. A response with an Age header came from a cache,
// not from DynamoDB, and is not used (as the SDK's own skew correction does).
func dateReader(local func() time.Time, s *clock.Sample) func(*dynamodb.Options) {
	read := middleware.DeserializeMiddlewareFunc("dynamodbqueue.ClockReading", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		sent := local()
		out, md, err := next.HandleDeserialize(ctx, in)
		received := local()
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Header.Get("Age") == "" {
			if date, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
				*s = clock.Sample{Sent: sent, Received: received, Server: date, Resolution: time.Second}
			}
		}
		return out, md, err
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(read, middleware.After)
		})
	}
}
