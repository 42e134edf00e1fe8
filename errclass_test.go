package dynamodbqueue_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/faultproxy"
	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

// sentinelClasses is the expected class of every exported Err* of the package.
var sentinelClasses = map[string]struct {
	err   error
	class dynamodbqueue.ErrorClass
}{
	"ErrTableNotSet":             {dynamodbqueue.ErrTableNotSet, dynamodbqueue.ClassInvalid},
	"ErrQueueNameNotSet":         {dynamodbqueue.ErrQueueNameNotSet, dynamodbqueue.ClassInvalid},
	"ErrClientIDNotSet":          {dynamodbqueue.ErrClientIDNotSet, dynamodbqueue.ClassInvalid},
	"ErrInvalidName":             {dynamodbqueue.ErrInvalidName, dynamodbqueue.ClassInvalid},
	"ErrInvalidGroup":            {dynamodbqueue.ErrInvalidGroup, dynamodbqueue.ClassInvalid},
	"ErrInvalidMessage":          {dynamodbqueue.ErrInvalidMessage, dynamodbqueue.ClassInvalid},
	"ErrMessageTooLarge":         {dynamodbqueue.ErrMessageTooLarge, dynamodbqueue.ClassInvalid},
	"ErrInvalidArgument":         {dynamodbqueue.ErrInvalidArgument, dynamodbqueue.ClassInvalid},
	"ErrInvalidReceiptHandle":    {dynamodbqueue.ErrInvalidReceiptHandle, dynamodbqueue.ClassInvalid},
	"ErrForeignReceiptHandle":    {dynamodbqueue.ErrForeignReceiptHandle, dynamodbqueue.ClassInvalid},
	"ErrStaleReceiptHandle":      {dynamodbqueue.ErrStaleReceiptHandle, dynamodbqueue.ClassConflict},
	"ErrTableNotFound":           {dynamodbqueue.ErrTableNotFound, dynamodbqueue.ClassNotFound},
	"ErrTableSchemaMismatch":     {dynamodbqueue.ErrTableSchemaMismatch, dynamodbqueue.ClassInvalid},
	"ErrTTLNotEnabled":           {dynamodbqueue.ErrTTLNotEnabled, dynamodbqueue.ClassInternal},
	"ErrNoDeadLetterQueue":       {dynamodbqueue.ErrNoDeadLetterQueue, dynamodbqueue.ClassInvalid},
	"ErrNotAttempted":            {dynamodbqueue.ErrNotAttempted, dynamodbqueue.ClassInvalid},
	"ErrInvalidCursor":           {dynamodbqueue.ErrInvalidCursor, dynamodbqueue.ClassInvalid},
	"ErrMessageNotFound":         {dynamodbqueue.ErrMessageNotFound, dynamodbqueue.ClassNotFound},
	"ErrMessageInFlight":         {dynamodbqueue.ErrMessageInFlight, dynamodbqueue.ClassConflict},
	"ErrMessageNotInFlight":      {dynamodbqueue.ErrMessageNotInFlight, dynamodbqueue.ClassConflict},
	"ErrMessageChanged":          {dynamodbqueue.ErrMessageChanged, dynamodbqueue.ClassConflict},
	"ErrQueueDoesNotExist":       {dynamodbqueue.ErrQueueDoesNotExist, dynamodbqueue.ClassNotFound},
	"ErrQueueAttributesMismatch": {dynamodbqueue.ErrQueueAttributesMismatch, dynamodbqueue.ClassInvalid},
	"ErrVersionConflict":         {dynamodbqueue.ErrVersionConflict, dynamodbqueue.ClassConflict},
	"ErrWatchDisabled":           {dynamodbqueue.ErrWatchDisabled, dynamodbqueue.ClassInvalid},
	"ErrMoveTaskActive":          {dynamodbqueue.ErrMoveTaskActive, dynamodbqueue.ClassConflict},
	"ErrMoveTaskNotFound":        {dynamodbqueue.ErrMoveTaskNotFound, dynamodbqueue.ClassNotFound},
	"ErrMoveTaskNotActive":       {dynamodbqueue.ErrMoveTaskNotActive, dynamodbqueue.ClassConflict},
	"ErrMoveTaskLost":            {dynamodbqueue.ErrMoveTaskLost, dynamodbqueue.ClassConflict},
	"ErrPurgeInProgress":         {dynamodbqueue.ErrPurgeInProgress, dynamodbqueue.ClassConflict},
}

// The table above names every exported Err* variable of the package, so a new sentinel
// cannot be added without deciding its class.
func TestClassifyCoversEverySentinel(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, spec := range g.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if strings.HasPrefix(name.Name, "Err") && name.IsExported() {
							declared = append(declared, name.Name)
						}
					}
				}
			}
		}
	}
	for _, name := range declared {
		if _, ok := sentinelClasses[name]; !ok {
			t.Errorf("%s has no expected class in this test: decide it, in errclass.go too", name)
		}
	}
	for name := range sentinelClasses {
		if !slices.Contains(declared, name) {
			t.Errorf("%s is in this test but not declared by the package", name)
		}
	}
}

// Every sentinel, bare, wrapped and wrapped twice, has its class, and IsSenderFault and
// Retryable agree with it.
func TestClassifySentinels(t *testing.T) {
	for name, tc := range sentinelClasses {
		for _, err := range []error{
			tc.err,
			fmt.Errorf("context: %w", tc.err),
			fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", tc.err)),
		} {
			if got := dynamodbqueue.Classify(err); got != tc.class {
				t.Errorf("Classify(%s as %q) = %v, want %v", name, err, got, tc.class)
			}
			if dynamodbqueue.IsSenderFault(err) != tc.class.SenderFault() || dynamodbqueue.Retryable(err) {
				t.Errorf("%s: IsSenderFault = %v, Retryable = %v; want %v, false",
					name, dynamodbqueue.IsSenderFault(err), dynamodbqueue.Retryable(err), tc.class.SenderFault())
			}
		}
	}
	if dynamodbqueue.Classify(nil) != dynamodbqueue.ClassNone || dynamodbqueue.IsSenderFault(nil) || dynamodbqueue.Retryable(nil) {
		t.Error("nil must be ClassNone, neither a sender fault nor retryable")
	}
}

// The typed errors match their sentinels and classify like them.
func TestTypedErrorsMatchSentinels(t *testing.T) {
	for _, tc := range []struct {
		err      error
		sentinel error
	}{
		{&dynamodbqueue.TableNotFoundError{Table: "t"}, dynamodbqueue.ErrTableNotFound},
		{&dynamodbqueue.InvalidArgumentError{Name: "TTL", Reason: "TTL -1s"}, dynamodbqueue.ErrInvalidArgument},
		{&dynamodbqueue.InvalidReceiptHandleError{Reason: "empty"}, dynamodbqueue.ErrInvalidReceiptHandle},
		{&dynamodbqueue.MessageTooLargeError{Size: 2, Limit: 1}, dynamodbqueue.ErrMessageTooLarge},
	} {
		wrapped := fmt.Errorf("op: %w", tc.err)
		if !errors.Is(wrapped, tc.sentinel) || dynamodbqueue.Classify(wrapped) != dynamodbqueue.Classify(tc.sentinel) {
			t.Errorf("%T: errors.Is(%v) = %v, class %v; want the sentinel's", tc.err, tc.sentinel,
				errors.Is(wrapped, tc.sentinel), dynamodbqueue.Classify(wrapped))
		}
	}
}

// Errors from a real DynamoDB server, and from the SDK in front of it, classify as the caller
// needs: a failed condition is a conflict, a malformed request and a missing table are the
// caller's fault, throttling, 5xx and broken connections (injected by a proxy in front of the
// server) are retryable, and a cancelled context is neither.
func TestClassifyDynamoDBErrors(t *testing.T) {
	ctx := ctxT(t)
	_, table := newTable(t)
	api := testenv.Client(t)
	key := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "classify"}, "SK": &types.AttributeValueMemberS{Value: "x"},
	}
	put := func(api *dynamodb.Client, ctx context.Context, in *dynamodb.PutItemInput) error {
		in.TableName = aws.String(table)
		in.Item = key
		_, err := api.PutItem(ctx, in)
		return err
	}
	if err := put(api, ctx, &dynamodb.PutItemInput{}); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name  string
		err   error
		class dynamodbqueue.ErrorClass
	}
	cases := []tc{
		{"ConditionalCheckFailed", put(api, ctx, &dynamodb.PutItemInput{ConditionExpression: aws.String("attribute_not_exists(PK)")}), dynamodbqueue.ClassConflict},
		{"ValidationException", put(api, ctx, &dynamodb.PutItemInput{ConditionExpression: aws.String("this is not an expression")}), dynamodbqueue.ClassInvalid},
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases = append(cases, tc{"context canceled", put(api, cancelled, &dynamodb.PutItemInput{}), dynamodbqueue.ClassCanceled})
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	cases = append(cases, tc{"deadline exceeded", put(api, expired, &dynamodb.PutItemInput{}), dynamodbqueue.ClassTransient})

	// Through the library: a missing table, and a stale receipt handle.
	q := dynamodbqueue.NewFromClient(api, 0).UseTable(table + "-missing").UseQueueName("q").UseClientID("c").UseLogger(nil)
	_, err := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 1})
	var tnf *dynamodbqueue.TableNotFoundError
	if !errors.As(err, &tnf) || tnf.Table != table+"-missing" {
		t.Errorf("receive on a missing table: %v, want a TableNotFoundError naming it", err)
	}
	cases = append(cases, tc{"missing table", err, dynamodbqueue.ClassNotFound})

	// Faults between the SDK and the server, with one attempt so the SDK does not hide them.
	proxy, err := faultproxy.New(faultproxy.Config{Target: testenv.Endpoint(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	cfg := testenv.AWSConfig(t)
	cfg.BaseEndpoint = aws.String(proxy.URL())
	cfg.Logger = logging.Nop{} // the SDK warns about the checksums of the proxy's fault responses
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1; o.RateLimiter = ratelimit.None })
	}
	faulty := dynamodb.NewFromConfig(cfg)
	for _, kind := range []faultproxy.Kind{faultproxy.Throttling, faultproxy.ProvisionedThroughputExceeded, faultproxy.InternalServerError, faultproxy.ConnectionReset} {
		if err := proxy.Inject(faultproxy.Rule{Kind: kind}, 1); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{kind.String(), put(faulty, ctx, &dynamodb.PutItemInput{}), dynamodbqueue.ClassTransient})
	}
	// The same through the library's own wrapping.
	if err := proxy.Inject(faultproxy.Rule{Kind: faultproxy.Throttling, Operations: []string{"BatchWriteItem"}}, 1); err != nil {
		t.Fatal(err)
	}
	fq := dynamodbqueue.NewFromClient(faulty, 0).UseTable(table).UseQueueName("q").UseClientID("c").UseLogger(nil)
	_, err = fq.DeleteEntries(ctx, "") // nothing sent for an invalid handle: no fault consumed
	cases = append(cases, tc{"library: invalid handle", err, dynamodbqueue.ClassInvalid})
	res, err := fq.SendMessages(ctx, dynamodbqueue.PushOptions{}, events.SQSMessage{Body: "b"})
	if len(res) == 1 {
		cases = append(cases, tc{"library: throttled push entry", res[0].Err, dynamodbqueue.ClassTransient})
	}
	cases = append(cases, tc{"library: throttled push", err, dynamodbqueue.ClassTransient})
	var partial *dynamodbqueue.PartialError
	if !errors.As(err, &partial) || partial.Op != "push" || partial.Failed != 1 || partial.Total != 1 {
		t.Errorf("throttled push: %v, want a PartialError of 1 of 1", err)
	}

	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		got := dynamodbqueue.Classify(c.err)
		if got != c.class {
			t.Errorf("%s: Classify(%v) = %v, want %v", c.name, c.err, got, c.class)
		}
		if dynamodbqueue.IsSenderFault(c.err) && dynamodbqueue.Retryable(c.err) {
			t.Errorf("%s: both a sender fault and retryable", c.name)
		}
		if dynamodbqueue.Retryable(c.err) != (c.class == dynamodbqueue.ClassTransient) ||
			dynamodbqueue.IsSenderFault(c.err) != c.class.SenderFault() {
			t.Errorf("%s: IsSenderFault = %v, Retryable = %v, disagree with %v", c.name,
				dynamodbqueue.IsSenderFault(c.err), dynamodbqueue.Retryable(c.err), c.class)
		}
	}
}

// Typed errors carry what the caller needs: the argument's name, the message's size and the
// limit, the reason a handle is refused.
func TestTypedErrorsCarryDetails(t *testing.T) {
	q := newQueue(t, "typed", "errors").UseMaxMessageSize(10)
	ctx := ctxT(t)
	_, err := q.PushMessages(ctx, 0, events.SQSMessage{Body: "eleven byte"})
	var big *dynamodbqueue.MessageTooLargeError
	if !errors.As(err, &big) || big.Size != 11 || big.Limit != 10 {
		t.Errorf("push of 11 bytes with a 10-byte limit: %v, want a MessageTooLargeError{11, 10}", err)
	}
	_, err = q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: -1})
	var ia *dynamodbqueue.InvalidArgumentError
	if !errors.As(err, &ia) || ia.Name != "MaxMessages" {
		t.Errorf("receive of -1 messages: %v, want an InvalidArgumentError named MaxMessages", err)
	}
	_, err = q.ChangeVisibility(ctx, time.Second, "AAAA")
	var bad *dynamodbqueue.InvalidReceiptHandleError
	if !errors.As(err, &bad) || bad.Reason != "too short" {
		t.Errorf("a 3-byte handle: %v, want an InvalidReceiptHandleError with reason \"too short\"", err)
	}
}
