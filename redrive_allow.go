package dynamodbqueue

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RedrivePermission says which source queues may name a queue as their dead-letter queue.
type RedrivePermission string

// Redrive permissions, spelled as SQS spells them.
const (
	RedriveAllowAll RedrivePermission = "allowAll"
	RedriveDenyAll  RedrivePermission = "denyAll"
	RedriveByQueue  RedrivePermission = "byQueue"
)

// MaxRedriveAllowSources is the most source queues a byQueue policy lists, as in SQS.
const MaxRedriveAllowSources = 10

// RedriveAllowPolicy is a dead-letter queue's (one client's) rule for which queues may send it
// their dead letters, as SQS's RedriveAllowPolicy. The library stores it; callers that set
// redrive policies (the SQS endpoint) enforce it with Allows.
type RedriveAllowPolicy struct {
	// Permission is allowAll, denyAll or byQueue.
	Permission RedrivePermission
	// Sources are the allowed source queues with byQueue (1..MaxRedriveAllowSources), as the
	// caller names them (the SQS endpoint: queue ARNs); empty otherwise.
	Sources []string
}

// Allows reports whether source may use the queue as its dead-letter queue. A nil policy
// allows every source.
func (p *RedriveAllowPolicy) Allows(source string) bool {
	if p == nil {
		return true
	}
	switch p.Permission {
	case RedriveAllowAll:
		return true
	case RedriveByQueue:
		return slices.Contains(p.Sources, source)
	}
	return false
}

// validate checks the permission and the source list.
func (p RedriveAllowPolicy) validate() error {
	switch p.Permission {
	case RedriveAllowAll, RedriveDenyAll:
		if len(p.Sources) > 0 {
			return argError("RedriveAllowPolicy", "sources are given only with %s", RedriveByQueue)
		}
	case RedriveByQueue:
		if len(p.Sources) == 0 || len(p.Sources) > MaxRedriveAllowSources {
			return argError("RedriveAllowPolicy", "%d sources, %s needs 1..%d", len(p.Sources), RedriveByQueue, MaxRedriveAllowSources)
		}
		for _, s := range p.Sources {
			if s == "" {
				return argError("RedriveAllowPolicy", "an empty source")
			}
		}
	default:
		return argError("RedriveAllowPolicy", "permission %q, must be %s, %s or %s", p.Permission, RedriveAllowAll, RedriveDenyAll, RedriveByQueue)
	}
	return nil
}

// Redrive allow policy items: PK @def|<queue>, SK rap|<client>, with the permission, the
// sources and the Created time of the definition they were set on (a policy left by an earlier
// queue of the same name, deleted since, is ignored).
const (
	rapSK          = "rap|"
	attrRAPPerm    = "perm"
	attrRAPSources = "srcs"
	attrRAPDefCT   = "dct"
)

// SetRedriveAllowPolicy stores clientID's redrive allow policy for queue (nil removes it). The
// queue must exist. The last writer wins. An invalid policy fails with ErrInvalidArgument and
// writes nothing.
func (c *Client) SetRedriveAllowPolicy(ctx context.Context, queue, clientID string, p *RedriveAllowPolicy) error {
	q, k, err := c.pairOps(queue, clientID, rapSK)
	if err != nil {
		return err
	}
	if p != nil {
		if err := p.validate(); err != nil {
			return err
		}
	}
	d, _, err := q.readQueue(ctx, queue)
	if err != nil {
		return err
	}
	item := k
	if p == nil {
		item[attrRAPPerm] = avS("") // an empty permission reads as no policy
		item[attrRAPSources] = &types.AttributeValueMemberL{}
	} else {
		item[attrRAPPerm] = avS(string(p.Permission))
		srcs := make([]types.AttributeValue, len(p.Sources))
		for i, s := range p.Sources {
			srcs[i] = avS(s)
		}
		item[attrRAPSources] = &types.AttributeValueMemberL{Value: srcs}
	}
	item[attrRAPDefCT] = avN(ms(d.Created))
	_, _, err = q.store(c.table).WriteIf(ctx, "UpdateItem (redrive allow policy)", item, "", nil)
	return err
}

// RedriveAllowPolicy returns clientID's redrive allow policy for queue, or nil when it has none
// (or the queue does not exist). It reads DynamoDB (strongly consistent).
func (c *Client) RedriveAllowPolicy(ctx context.Context, queue, clientID string) (*RedriveAllowPolicy, error) {
	q, k, err := c.pairOps(queue, clientID, rapSK)
	if err != nil {
		return nil, err
	}
	found := map[string]map[string]types.AttributeValue{}
	if err := q.store(c.table).BatchGetInto(ctx, []map[string]types.AttributeValue{key(defPK(queue), defSK), k}, true, found); err != nil {
		return nil, err
	}
	def, item := found[defPK(queue)+"\x00"+defSK], found[defPK(queue)+"\x00"+rapSK+clientID]
	if def == nil || item == nil || str(def[attrDefState]) == defDeleting || str(item[attrRAPPerm]) == "" {
		return nil, nil
	}
	if !time.UnixMilli(num(item[attrRAPDefCT])).Equal(decodeDefinition(def).Created) {
		return nil, nil // set on an earlier queue of the name
	}
	p := &RedriveAllowPolicy{Permission: RedrivePermission(str(item[attrRAPPerm]))}
	if l, ok := item[attrRAPSources].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			p.Sources = append(p.Sources, str(v))
		}
	}
	return p, nil
}
