package dynamodbqueue

import (
	"errors"
	"slices"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Validation of the Use* setters.
//
// The fluent setters return the handle, so the seed's chained calls keep compiling. A setter
// checks its value when it is called; an invalid value is not applied and is reported three
// ways: a warning through the handle's logger at the call, Err() on the handle, and the error
// of every operation of the handle (sticky) until the same setter is called again with a valid
// value. Nothing is written meanwhile.

// explicitSet marks the settings a Use* setter set on a handle: they win over the stored
// queue definition.
type explicitSet uint16

const (
	useVisibility explicitSet = 1 << iota
	useTTL
	useDelay
	useWait
	useShards
	useMaxSize
	useDLQ
	useContentDedup
)

// rejectedUse is a setter call whose value was invalid.
type rejectedUse struct {
	setter string
	err    error
}

// use validates and applies one setter: with err nil it applies fn, marks the explicit bits and
// clears an earlier rejection of the same setter; otherwise it records err (see Err) and logs
// it, leaving the setting as it was.
func (q *DynamoDBQueue) use(setter string, err error, bits explicitSet, fn func(*settings)) *DynamoDBQueue {
	q.update(func(s *settings) {
		s.rejected = slices.DeleteFunc(slices.Clone(s.rejected), func(r rejectedUse) bool { return r.setter == setter })
		if err != nil {
			s.rejected = append(s.rejected, rejectedUse{setter: setter, err: err})
			return
		}
		fn(s)
		s.explicit |= bits
	})
	if err != nil {
		q.snapshot().logger.Warn("dynamodbqueue: "+setter+" rejected; the handle's operations fail until it is set again", "error", err)
	}
	return q
}

// Err returns the errors of the Use* calls on this handle that were given invalid values and
// not set again since with a valid one (nil when there are none). Every operation of the
// handle fails with this error meanwhile. The errors wrap ErrInvalidArgument or ErrInvalidName
// and name the setter.
func (q *DynamoDBQueue) Err() error { return q.snapshot().useErr() }

// useErr joins the rejected setter calls.
func (s *settings) useErr() error {
	if len(s.rejected) == 0 {
		return nil
	}
	errs := make([]error, len(s.rejected))
	for i, r := range s.rejected {
		errs[i] = r.err
	}
	return errors.Join(errs...)
}

// checkOptionalName validates a name that may be empty (unset).
func checkOptionalName(what, name string) error {
	if name == "" {
		return nil
	}
	return keys.ValidateName(what, name)
}
