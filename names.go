package dynamodbqueue

import (
	"crypto/rand"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

// RandomPostfix returns prefix followed by "-" and 8 random characters from [a-z0-9], for
// unique table, queue or client names in tests and demos.
func RandomPostfix(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + "-" + string(b[:])
}

// ValidateName checks a queue name or client ID against the naming rules: 1..80 characters
// of A-Z a-z 0-9 _ . -. Errors wrap ErrInvalidName.
func ValidateName(name string) error { return keys.ValidateName("name", name) }

// ValidateMessage checks a message the way a push does (body, attributes, group and
// deduplication IDs, delay) against the default 1 MiB size limit, without sending anything.
func ValidateMessage(m events.SQSMessage) error {
	s := settings{maxMessageSize: message.DefaultMaxSize, shards: 1, queue: "validate", client: "validate"}
	q := &DynamoDBQueue{core: &core{seq: keys.NewSequencer(nil), clock: newClockState(nil)}}
	_, err := q.prepare(&s, &m, time.Now(), DefaultTTL, 0)
	return err
}
