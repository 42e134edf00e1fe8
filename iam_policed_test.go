package dynamodbqueue_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/iameval"
)

// testARN is the ARN the IAM tests give a table: any account and region do.
func testARN(table string) string { return "arn:aws:dynamodb:eu-west-1:123456789012:table/" + table }

// policedRequest is one authorization check the policed API made, and its outcome.
type policedRequest struct {
	iameval.Request
	allowed bool
}

// policedAPI stands where IAM stands: it checks every request the queue makes against a
// policy, answers a denied one with AccessDeniedException as DynamoDB does (nothing reaches
// the server), forwards the others to a real DynamoDB, and records every check.
type policedAPI struct {
	dynamodbqueue.API
	t      *testing.T
	policy *iameval.Policy
	mu     sync.Mutex
	log    []policedRequest
}

func newPolicedAPI(t *testing.T, api dynamodbqueue.API, policy string) *policedAPI {
	p, err := iameval.Parse(policy)
	if err != nil {
		t.Fatalf("policy: %v\n%s", err, policy)
	}
	return &policedAPI{API: api, t: t, policy: p}
}

// requests returns a copy of the log.
func (p *policedAPI) requests() []policedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]policedRequest(nil), p.log...)
}

// authorize checks one request per table the call touches; all must be allowed.
func (p *policedAPI) authorize(reqs ...iameval.Request) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range reqs {
		ok := p.policy.Allowed(r)
		p.log = append(p.log, policedRequest{r, ok})
		if !ok {
			return &smithy.GenericAPIError{Code: "AccessDeniedException",
				Message: fmt.Sprintf("not authorized to perform %s on %s with leading keys %q", r.Action, r.Resource, r.LeadingKeys)}
		}
	}
	return nil
}

// itemRequest is the check of a call on one item (or a table-level call, with no key).
func itemRequest(action string, table *string, item map[string]types.AttributeValue) iameval.Request {
	r := iameval.Request{Action: "dynamodb:" + action, Resource: testARN(*table)}
	if item != nil {
		r.LeadingKeys = []string{pkOf(item)}
	}
	return r
}

// forward authorizes reqs and, if they are allowed, makes the call.
func forward[I, O any](p *policedAPI, ctx context.Context, in I, o []func(*dynamodb.Options),
	call func(context.Context, I, ...func(*dynamodb.Options)) (O, error), reqs ...iameval.Request) (O, error) {
	if err := p.authorize(reqs...); err != nil {
		var none O
		return none, err
	}
	return call(ctx, in, o...)
}

func pkOf(item map[string]types.AttributeValue) string {
	if s, ok := item["PK"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "" // no string PK: matches no tenant pattern, so it is denied
}

func (p *policedAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return forward(p, ctx, in, o, p.API.GetItem, itemRequest("GetItem", in.TableName, in.Key))
}

func (p *policedAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return forward(p, ctx, in, o, p.API.PutItem, itemRequest("PutItem", in.TableName, in.Item))
}

func (p *policedAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return forward(p, ctx, in, o, p.API.UpdateItem, itemRequest("UpdateItem", in.TableName, in.Key))
}

func (p *policedAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return forward(p, ctx, in, o, p.API.DeleteItem, itemRequest("DeleteItem", in.TableName, in.Key))
}

func (p *policedAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r := iameval.Request{Action: "dynamodb:Query", Resource: testARN(*in.TableName), LeadingKeys: []string{p.queryPK(in)}}
	if in.IndexName != nil {
		r.Resource += "/index/" + *in.IndexName
	}
	return forward(p, ctx, in, o, p.API.Query, r)
}

// queryPK returns the partition key value of a query's key condition ("PK = :v AND ...").
func (p *policedAPI) queryPK(in *dynamodb.QueryInput) string {
	for _, clause := range strings.Split(*in.KeyConditionExpression, " AND ") {
		name, value, ok := strings.Cut(strings.TrimSpace(clause), " = ")
		if n, isName := in.ExpressionAttributeNames[name]; isName {
			name = n
		}
		if ok && name == "PK" {
			if s, isS := in.ExpressionAttributeValues[value].(*types.AttributeValueMemberS); isS {
				return s.Value
			}
		}
	}
	p.t.Errorf("cannot tell the partition key of the query %q", *in.KeyConditionExpression)
	return ""
}

func (p *policedAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return forward(p, ctx, in, o, p.API.Scan, itemRequest("Scan", in.TableName, nil))
}

func (p *policedAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	var reqs []iameval.Request
	for table, writes := range in.RequestItems {
		r := iameval.Request{Action: "dynamodb:BatchWriteItem", Resource: testARN(table)}
		for _, w := range writes {
			if w.PutRequest != nil {
				r.LeadingKeys = append(r.LeadingKeys, pkOf(w.PutRequest.Item))
			}
			if w.DeleteRequest != nil {
				r.LeadingKeys = append(r.LeadingKeys, pkOf(w.DeleteRequest.Key))
			}
		}
		reqs = append(reqs, r)
	}
	return forward(p, ctx, in, o, p.API.BatchWriteItem, reqs...)
}

func (p *policedAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	var reqs []iameval.Request
	for table, ka := range in.RequestItems {
		r := iameval.Request{Action: "dynamodb:BatchGetItem", Resource: testARN(table)}
		for _, k := range ka.Keys {
			r.LeadingKeys = append(r.LeadingKeys, pkOf(k))
		}
		reqs = append(reqs, r)
	}
	return forward(p, ctx, in, o, p.API.BatchGetItem, reqs...)
}

func (p *policedAPI) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return forward(p, ctx, in, o, p.API.CreateTable, itemRequest("CreateTable", in.TableName, nil))
}

func (p *policedAPI) DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	return forward(p, ctx, in, o, p.API.DeleteTable, itemRequest("DeleteTable", in.TableName, nil))
}

func (p *policedAPI) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return forward(p, ctx, in, o, p.API.DescribeTable, itemRequest("DescribeTable", in.TableName, nil))
}

func (p *policedAPI) UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	return forward(p, ctx, in, o, p.API.UpdateTimeToLive, itemRequest("UpdateTimeToLive", in.TableName, nil))
}

func (p *policedAPI) DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	return forward(p, ctx, in, o, p.API.DescribeTimeToLive, itemRequest("DescribeTimeToLive", in.TableName, nil))
}
