package dynamodbqueue

import "github.com/dynamodbqueue/dynamodbqueue/internal/message"

// DefaultMaxMessageSize is the largest body plus attributes a push accepts unless
// UseMaxMessageSize says otherwise: 1 MiB, SQS's limit.
const DefaultMaxMessageSize = message.DefaultMaxSize
