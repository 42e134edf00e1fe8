package consumer

import (
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestAfterPoll: a poll that drained its source leaves it until its next wake-up, even when its
// batch came back full; a full batch without that proof is polled again, a short one checked
// again later, a failed poll retried.
func TestAfterPoll(t *testing.T) {
	msgs := func(n int) []events.SQSMessage { return make([]events.SQSMessage, n) }
	for _, tc := range []struct {
		name           string
		got            int
		drained        bool
		err            error
		again, recheck bool
	}{
		{"full batch, drained", 10, true, nil, false, false},
		{"full batch, maybe more", 10, false, nil, true, false},
		{"short batch, drained", 3, true, nil, false, false},
		{"short batch, no proof", 3, false, nil, false, true},
		{"empty", 0, true, nil, false, false},
		{"empty without proof", 0, false, nil, false, false},
		{"failed", 2, false, errors.New("boom"), true, false},
	} {
		again, recheck := afterPoll(10, dynamodbqueue.ReceiveResult{Messages: msgs(tc.got), Drained: tc.drained}, tc.err)
		if again != tc.again || recheck != tc.recheck {
			t.Errorf("%s: again %v, recheck %v; want %v, %v", tc.name, again, recheck, tc.again, tc.recheck)
		}
	}
}
