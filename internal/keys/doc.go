// Package keys owns the table's key encoding: partition keys for (queue, client, shard) triples,
// sort keys for messages, groups and deduplication records, the visibility sort key of the
// ready index, and the monotonic sequence numbers that order messages.
//
// Everything here is a pure function of its inputs (bar the sequence clock), so the layout
// can be unit- and fuzz-tested without DynamoDB.
package keys
