package dynamodbqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableWait bounds how long CreateQueueTable and DropQueueTable wait for DynamoDB to finish.
const tableWait = 5 * time.Minute

// TableInfo describes a queue table.
type TableInfo struct {
	Name       string
	Status     string // CREATING, ACTIVE, DELETING, ...
	ItemCount  int64  // DynamoDB's estimate, refreshed about every six hours
	SizeBytes  int64  // DynamoDB's estimate
	ReadyIndex bool   // whether the "vis" index the queue needs exists
	TTLStatus  string // ENABLED, DISABLED, ... or "UNSUPPORTED" when the endpoint has no TTL API
}

// CreateQueueTable creates the table set by UseTable: on-demand billing, key PK/SK, the local
// secondary index "vis" that polls read, and time to live on the TTL attribute. It waits until
// the table is ACTIVE. created is false when the table already existed (the call is idempotent
// and also safe to run from several processes at once). An existing table whose keys or "vis"
// index differ from these is refused with an error wrapping ErrTableSchemaMismatch that names
// each difference, and left unchanged.
//
// Where time to live is turned on by this call, an info record says so. When the endpoint
// refuses to enable time to live (dynalite, for one), the table is still
// created and usable, created and err are (true, nil), and a warning wrapping ErrTTLNotEnabled
// is logged: expired messages are then never delivered but also not deleted automatically.
// DescribeQueueTable reports the TTL status.
func (q *DynamoDBQueue) CreateQueueTable(ctx context.Context) (created bool, err error) {
	s := q.snapshot()
	if err := s.checkTable(); err != nil {
		return false, err
	}
	api := q.core.api
	_, err = api.CreateTable(ctx, createTableInput(s.table))
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		created = true
	case errors.As(err, &inUse):
		// Exists already, or another process is creating it: wait for it like the creator does.
	default:
		return false, wrapAPI("CreateTable", s.table, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, tableWait); err != nil {
		return created, wrapAPI("wait for table", s.table, err)
	}
	if !created {
		// Someone else's table: make sure it is a queue table before touching it.
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
		if err != nil {
			return false, wrapAPI("DescribeTable", s.table, err)
		}
		if err := checkSchema(out.Table); err != nil {
			return false, err
		}
	}
	enabled, err := q.enableTTL(ctx, s)
	if enabled {
		s.logger.InfoContext(ctx, "dynamodbqueue: time to live enabled: DynamoDB deletes expired messages",
			"table", s.table, "attribute", attrTTL)
	}
	if err != nil {
		if errors.Is(err, ErrTTLNotEnabled) {
			level := slog.LevelWarn
			if !created {
				level = slog.LevelDebug // warned when it was created; an idempotent re-run stays quiet
			}
			s.logger.Log(ctx, level, "dynamodbqueue: table has no automatic expiry", "table", s.table, "error", err)
			return created, nil
		}
		return created, err
	}
	return created, nil
}

// enableTTL turns on time to live for the TTL attribute unless it is on already; enabled
// reports whether this call turned it on. An endpoint that does not implement the TTL API
// yields an error wrapping ErrTTLNotEnabled.
func (q *DynamoDBQueue) enableTTL(ctx context.Context, s *settings) (enabled bool, err error) {
	if st, err := q.ttlStatus(ctx, s.table); err == nil && (st == string(types.TimeToLiveStatusEnabled) || st == string(types.TimeToLiveStatusEnabling)) {
		return false, nil
	}
	_, err = q.core.api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return false, wrapAPI("UpdateTimeToLive", s.table, err)
	}
	return false, fmt.Errorf("%w on table %q (endpoint said: %w)", ErrTTLNotEnabled, s.table, err)
}

func (q *DynamoDBQueue) ttlStatus(ctx context.Context, table string) (string, error) {
	out, err := q.core.api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return "", err
	}
	if out.TimeToLiveDescription == nil {
		return string(types.TimeToLiveStatusDisabled), nil
	}
	return string(out.TimeToLiveDescription.TimeToLiveStatus), nil
}

// DropQueueTable deletes the table set by UseTable and waits until it is gone. A missing table
// gives an error wrapping ErrTableNotFound.
func (q *DynamoDBQueue) DropQueueTable(ctx context.Context) error {
	s := q.snapshot()
	if err := s.checkTable(); err != nil {
		return err
	}
	if _, err := q.core.api.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table)}); err != nil {
		return wrapAPI("DeleteTable", s.table, err)
	}
	waiter := dynamodb.NewTableNotExistsWaiter(q.core.api, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, tableWait); err != nil {
		return wrapAPI("wait for table deletion", s.table, err)
	}
	return nil
}

// TableExists reports whether the table set by UseTable exists. Errors other than "not found"
// (access denied, throttling, no network) are returned, not mistaken for a missing table.
func (q *DynamoDBQueue) TableExists(ctx context.Context) (bool, error) {
	_, err := q.DescribeQueueTable(ctx)
	if errors.Is(err, ErrTableNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DescribeQueueTable returns the table's status, size estimate, index and TTL status.
func (q *DynamoDBQueue) DescribeQueueTable(ctx context.Context) (TableInfo, error) {
	s := q.snapshot()
	if err := s.checkTable(); err != nil {
		return TableInfo{}, err
	}
	out, err := q.core.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return TableInfo{}, wrapAPI("DescribeTable", s.table, err)
	}
	t := out.Table
	info := TableInfo{
		Name:      aws.ToString(t.TableName),
		Status:    string(t.TableStatus),
		ItemCount: aws.ToInt64(t.ItemCount),
		SizeBytes: aws.ToInt64(t.TableSizeBytes),
	}
	for _, ix := range t.LocalSecondaryIndexes {
		if aws.ToString(ix.IndexName) == visIndex {
			info.ReadyIndex = true
		}
	}
	info.TTLStatus, err = q.ttlStatus(ctx, s.table)
	if err != nil {
		if ctx.Err() != nil {
			return info, ctx.Err()
		}
		info.TTLStatus = "UNSUPPORTED"
	}
	return info, nil
}
