// Package dynamodbqueue turns one DynamoDB table into many isolated message queues.
//
// Every (queue name, client ID) pair is its own queue, stored in its own partition of the
// table, so a consumer only ever reads its own tenant's messages. Messages are the AWS Lambda
// [events.SQSMessage] type. Many processes push, receive and delete at once: a receive claims a
// message with a conditional write and hides it for a visibility timeout, so exactly one
// consumer holds it; deleting needs the receipt handle of the current claim.
//
// # Getting started
//
//	cfg, _ := config.LoadDefaultConfig(ctx)
//	q := dynamodbqueue.NewDynamoDBQueue(ctx, cfg, 0).
//		UseTable("queues").UseQueueName("invoices").UseClientID("acme")
//	q.CreateQueueTable(ctx) // once; idempotent
//	q.PushMessages(ctx, 0, events.SQSMessage{Body: "hello"})
//	msgs, _ := q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: 10, WaitTime: 20 * time.Second})
//	q.DeleteMessages(ctx, dynamodbqueue.ToReceiptHandles(msgs)...)
//
// # Endpoints and credentials
//
// On AWS, config.LoadDefaultConfig finds region and credentials the usual way (environment,
// ~/.aws, instance role). For a local or custom DynamoDB API (dynalite, DynamoDB Local, a
// proxy), LoadDefaultConfig with only AWS_ENDPOINT_URL_DYNAMODB set is not enough: with no
// credentials configured it asks the EC2 metadata service, and every request fails ("no EC2
// IMDS role found") after warnings. Either use [LocalConfig], which needs nothing else:
//
//	cfg, err := dynamodbqueue.LocalConfig("http://127.0.0.1:8000")
//
// or give LoadDefaultConfig an endpoint, a region and any static credentials, in the
// environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY) or as options:
//
//	cfg, err := config.LoadDefaultConfig(ctx,
//		config.WithBaseEndpoint("http://127.0.0.1:8000"),
//		config.WithRegion("us-east-1"),
//		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
//
// DynamoDB Local keeps one database per access key and region, so every program that should
// see the same tables must use the same pair ([LocalConfig] and ddbq use [LocalAccessKey] in
// [LocalRegion]). [NewFromClient] takes a client built any other way.
//
// Settings (table, queue, client, order, visibility timeout, TTL, delay, shards, dead-letter
// queue) can change at any time, also while other goroutines use the queue: each operation
// works on one snapshot of them. [DynamoDBQueue.Clone] gives an independent handle that shares
// the client, which is the natural way to serve several tenants from one process.
//
// # The client and queue definitions
//
// [New] builds a [Client] from validated [Options] (the DynamoDB API, table, signing key,
// logger, clock, long-poll intervals, definition staleness); [Client.Queue] hands out handles.
// [NewDynamoDBQueue] and [NewFromClient] are built on it. A queue may be defined in its table
// ([Client.CreateQueue], [Client.UpdateQueue], [Client.DeleteQueue], [Client.ListQueues],
// [Client.SetClientOverride]): every operation then uses the stored definition, cached per
// process for at most [Options.DefinitionStaleness] (5 s), under the Use* values set on the
// handle. A queue without a definition uses the defaults, as before. The Use* setters check
// their value at the call; a rejected one is reported by [DynamoDBQueue.Err] and by every
// operation of the handle.
//
// # Semantics
//
//   - Delivery is at least once. A received message is invisible to everyone else until its
//     visibility timeout ends; then it is delivered again with a higher
//     ApproximateReceiveCount. [DynamoDBQueue.ChangeVisibility] extends, shortens or releases a
//     claim.
//   - Order is FIFO by default: the message that became visible first is delivered first
//     (push time plus any delay; a message whose visibility timeout lapsed becomes visible at
//     that moment). [DynamoDBQueue.UseLIFO] delivers the newest first. Messages pushed in the
//     same millisecond keep their push order.
//   - FIFO message groups (the MessageGroupId attribute) deliver strictly in push order with at
//     most one message of a group in flight; groups proceed independently.
//   - A MessageDeduplicationId (or content-based deduplication) makes repeats within five
//     minutes a no-op.
//   - Messages past their TTL are never delivered or counted, even before DynamoDB's TTL
//     sweeper deletes them. A process deletes one only once it is expired by more than
//     [DynamoDBQueue.UseExpiredDeletionMargin] (5 minutes), so a wrong clock cannot delete it.
//   - Each process corrects its clock by its offset from DynamoDB's clock, estimated from the
//     Date header of the responses ([DynamoDBQueue.ClockOffset]), and warns when the offset
//     reaches [DynamoDBQueue.UseClockSkewThreshold] (see docs/RELIABILITY.md, "Clocks").
//   - With [DynamoDBQueue.UseDeadLetterQueue], a message received more than MaxReceiveCount
//     times moves to a dead-letter (queue, client) pair; [DynamoDBQueue.RedriveDeadLetters]
//     moves it back.
//
// # Table layout and cost
//
// Key PK = "queue|client|shard", SK = "m#<seq>" (or "g#<group>#<seq>" for grouped messages),
// plus a local secondary index "vis" on the moment each item becomes visible. A receive reads
// that index with the key condition vis < now, so it reads only messages it can deliver: the
// cost of a poll does not grow with the number of messages in flight or delayed. A message's
// life is one batched put, one conditional claim and one conditional delete: about 2.2
// DynamoDB requests per message when pushing and receiving in batches of 10. Bodies that do not
// fit in 1 KB live in separate chunk items, so a claim costs the same whatever the body size,
// and bodies up to 1 MiB (SQS's limit) are split over several items.
//
// Only single-item conditional writes, batch writes, queries and scans are used: no
// transactions, so any DynamoDB API implementation works. Every conditional write carries a
// random token, so a write that the SDK retries after DynamoDB already applied it is
// recognised as the caller's own success.
//
// # Results per entry
//
// [DynamoDBQueue.SendMessages], [DynamoDBQueue.DeleteEntries],
// [DynamoDBQueue.ChangeVisibilityEntries] and [DynamoDBQueue.ReleaseEntries] return one result
// per input entry, aligned with the input ([SendResult], [EntryResult]): the message ID,
// whether it was a duplicate, and the error with its cause. Their error is nil when every
// entry succeeded, a [*PartialError] when some failed, and any other error when the call failed
// as a whole. PushMessages, PushWithOptions, DeleteMessages, ChangeVisibility and
// ReleaseMessages are thin wrappers over them.
//
// # Errors
//
// Errors wrap sentinel values ([ErrInvalidName], [ErrInvalidMessage], [ErrInvalidArgument],
// [ErrInvalidReceiptHandle], [ErrStaleReceiptHandle], [ErrTableNotFound], ...) and the SDK's
// typed errors, so callers use [errors.Is] and [errors.As]. Invalid input is rejected before
// anything is sent. Typed errors carry the details: [*TableNotFoundError],
// [*InvalidArgumentError], [*InvalidReceiptHandleError], [*MessageTooLargeError]; each matches
// its sentinel with errors.Is.
//
// [Classify] sorts any error into an [ErrorClass]; [IsSenderFault] (the caller's fault: fix
// the request) and [Retryable] (throttling, server errors, network failures, timeouts: the same
// request may succeed later) ask its two questions, and are never both true. The consumer
// package and the ddbq tool decide with them.
package dynamodbqueue
