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
// standard queue (SQS's fair queues) is accepted and returned on receive, but orders nothing.
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
// nothing left claimed) before http.Server.Shutdown. The Server keeps no queue state: several
// Servers, in several processes, on one table serve the same queues, and a receipt handle from
// one works on every other that shares the Client's signing key.
package sqsserver
