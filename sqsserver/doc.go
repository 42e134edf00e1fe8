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
