package dynamodbqueue

import "context"

// Definition returns the stored definition of the handle's queue and its client's override, as
// the handle's operations see them: from the process's cache of definitions (at most
// Options.DefinitionStaleness old; the handle's own client's changes at once), read with one
// strongly consistent request on a miss and shared with the operations that follow. def is nil
// when the queue has no definition (or is being deleted), ovr when the client has no override.
// A server that asks on every request whether a (queue, client) pair exists pays for it at most
// once per staleness period per pair.
func (q *DynamoDBQueue) Definition(ctx context.Context) (def *QueueDefinition, ovr *ClientOverride, err error) {
	s := q.snapshot()
	if err := s.checkQueue(); err != nil {
		return nil, nil, err
	}
	e, err := q.definitionFor(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	if e.def != nil {
		d := *e.def
		def = &d
	}
	if e.ovr != nil {
		o := *e.ovr
		ovr = &o
	}
	return def, ovr, nil
}
