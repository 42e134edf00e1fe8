package dynamodbqueue

// LegacyHandle re-encodes a receipt handle in the version 1 layout, which does not carry the
// message's chunk count and deduplication flag: the handles issued before they were added.
func LegacyHandle(q *DynamoDBQueue, receiptHandle string) (string, error) {
	s := q.snapshot()
	h, err := s.signer.Parse(receiptHandle)
	if err != nil {
		return "", err
	}
	h.Legacy, h.Chunks, h.Dedup = true, 0, false
	return s.signer.Encode(h), nil
}

// SetSpread sets how many times more candidates than it needs a receive of q's process reads
// (see adaptSpread): above 1 it reads them keys-only and its claims return the items.
func SetSpread(q *DynamoDBQueue, n int32) { q.core.spread.Store(n) }
