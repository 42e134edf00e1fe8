// Package sqsserver serves queues of a dynamodbqueue table over the Amazon SQS API, so every
// SQS client (SDKs in any language, the AWS CLI, frameworks) works against them by changing the
// endpoint URL.
//
// # Protocols
//
// Both SQS wire protocols are served on POST /, detected per request: AWS JSON 1.0
// (X-Amz-Target: AmazonSQS.<Action>, JSON bodies, JSON errors with __type and the
// x-amzn-query-error header that SDKs read the legacy codes from) and the query protocol
// (form-encoded Action=...&Version=2012-11-05, XML responses and XML ErrorResponse), which older
// SDKs and Debian 12's awscli send.
//
// # Queue URLs and tenants
//
// A queue URL is <base>/<clientID>/<queueName>: the client ID (the tenant) stands where SQS puts
// the account ID. Each (queue name, client ID) pair is its own queue of messages; the queue's
// definition (its attributes and tags) is shared by every client of the name, as a
// dynamodbqueue queue definition is. A queue's ARN is arn:aws:sqs:<region>:<clientID>:<queueName>.
//
// A queue name's definition is shared by its clients, as in the library: MaximumMessageSize,
// ContentBasedDeduplication, the RedrivePolicy's dead-letter queue and the tags belong to the
// name; VisibilityTimeout, DelaySeconds, MessageRetentionPeriod, ReceiveMessageWaitTimeSeconds
// and the RedrivePolicy's maxReceiveCount are each client's own (its ClientOverride; the first
// creator's values become the name's defaults). A client exists on a queue once it called
// CreateQueue, which stores its override; DeleteQueue removes the client's messages and its
// override, and leaves the definition to the other clients. So a tenant never sees or changes
// another tenant's messages or per-client settings; what it can learn is that a queue name is
// in use, when CreateQueue asks for other name-wide attributes than the name has
// (QueueAlreadyExists). FIFO queues are the names ending in .fifo. A MessageGroupId on a
// standard queue (SQS's fair queues) is accepted and returned on receive; it orders nothing, and
// is stored as the library's fair group (dynamodbqueue.AttributeFairGroupID), which places the
// message by group over the queue's shards so that one tenant's backlog does not hold back the
// others' messages (give such a queue several shards: ddbq queue update).
//
// Every request is authenticated by Options.Auth, which returns a Principal: an admin key, or a
// key confined to some client IDs. Actions on a queue URL or receipt handle of a client the
// principal may not use fail with AccessDenied, whether that queue exists or not. CreateQueue,
// GetQueueUrl and ListQueues act for the principal's client: its only client ID, or the one
// named by the QueueOwnerAWSAccountId parameter.
//
// # Lifecycle
//
// New validates Options; ServeHTTP serves; Drain ends waiting long polls (with an empty result,
// nothing left claimed) and hands the message move tasks it runs over to other servers, before
// http.Server.Shutdown. The Server keeps no queue state: several Servers, in several processes,
// on one table serve the same queues, and a receipt handle from one works on every other that
// shares the Client's signing key. What SQS keeps between requests is in the table too:
//
//   - Message move tasks (StartMessageMoveTask) are dynamodbqueue.MoveTask items: any server
//     lists and cancels any task. The server that started a task runs it and writes its
//     progress and a heartbeat after each chunk (MaxNumberOfMessagesPerSecond messages a
//     second, else 100 at a time); a server that lists a RUNNING task silent for longer than
//     Options.MoveTaskStaleAfter (its server died), or is asked to start one on its queue,
//     takes it over with a conditional write (one server wins) and runs the rest. A crash
//     between a move and its progress write loses and duplicates no message; the moved count
//     lags by at most one chunk. The dead-letter queue's messages are counted when the task
//     starts (ApproximateNumberOfMessagesToMove).
//   - PurgeQueue writes when it began (on Options.Now, else the Client's clock) with a
//     conditional write, so a second PurgeQueue of the (queue, client) within 60 seconds gets
//     PurgeQueueInProgress from any server, as in SQS.
//   - RedriveAllowPolicy is stored per (queue, client), like the per-client attributes, and
//     enforced on CreateQueue and SetQueueAttributes: a RedrivePolicy whose dead-letter queue's
//     policy is denyAll, or byQueue without the source's ARN, is refused with
//     InvalidParameterValue. A client joining a queue name whose redrive target another client
//     set is not checked against its own dead-letter queue's policy.
package sqsserver
