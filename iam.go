package dynamodbqueue

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// PolicyOptions describes the principal an IAM policy is generated for.
type PolicyOptions struct {
	// TableARN is the table's ARN, e.g. arn:aws:dynamodb:eu-west-1:123456789012:table/queues.
	TableARN string
	// QueueName and ClientID name the tenant's (queue, client) pair.
	QueueName string
	ClientID  string
	// ReadOnly grants only reads (Peek, Count, Stats); otherwise the policy allows push,
	// receive, delete and visibility changes too.
	ReadOnly bool
	// DeadLetterQueue, when not nil, also grants the tenant's dead-letter (queue, client) pair,
	// so that receives can move messages there and RedriveDeadLetters and Stats can read it.
	// Pass the configuration the tenant's queue uses (UseDeadLetterQueue); its defaults
	// resolve the same way: QueueName "<queue>-dlq", ClientID the tenant's, Table the table of
	// TableARN. A Table of its own gets its ARN from TableARN with the table name replaced.
	// MaxReceiveCount is not used.
	DeadLetterQueue *DeadLetterConfig
}

// policyStatement is one statement of an IAM policy document.
type policyStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// IAMPolicy returns an IAM policy document (JSON) that confines a principal to one tenant's
// (queue, client) pair: every item it may read or write has a partition key that starts with
// the pair's prefix ("queue|client|", which covers all shards, message groups, deduplication
// records and large-body partitions), by the dynamodb:LeadingKeys condition. The ready index
// is allowed for queries, with the same condition. With DeadLetterQueue set, the dead-letter
// pair's prefix is allowed too, in its own table.
//
// A third statement lets the tenant read its queue's stored definition and client overrides
// (GetItem and BatchGetItem on the partition "@def|<queue>", which every operation reads, see
// CreateQueue) and nothing else's; writing definitions is left to administrators.
//
// Unless ReadOnly, a statement lets the tenant write its queue's activity hints (UpdateItem
// and BatchWriteItem on "@act|<queue>|*", see docs/SCALING.md), so its pushes wake consumers
// in other processes at once, and a last one lets one BatchWriteItem carry both its items and
// those hints, as a push sends them (it grants nothing the two statements do not: IAM needs
// every leading key of a request matched by one statement). Under a policy without that last
// statement pushes still work, with their hints written apart (one request more per push).
// Reading hints is not granted (they name every client of the queue): a process confined by
// this policy should make its Client with a negative Options.WatchInterval.
//
// The registry that List reads is deliberately not included: a tenant cannot see which other
// tenants exist, and its pushes skip registration (logged at debug level). Table
// administration (create, drop, purge-all) is not granted.
func IAMPolicy(opts PolicyOptions) (string, error) {
	if opts.TableARN == "" {
		return "", argError("TableARN", "TableARN is empty")
	}
	if err := keys.ValidateName("queue name", opts.QueueName); err != nil {
		return "", err
	}
	if err := keys.ValidateName("client ID", opts.ClientID); err != nil {
		return "", err
	}
	actions := []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"}
	if !opts.ReadOnly {
		actions = append(actions, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
	}
	tenant := policyStatement{Sid: "TenantItems", Effect: "Allow", Action: actions}
	prefixes := []string{keys.PairPrefix(opts.QueueName, opts.ClientID) + "*"}
	defKeys, hintKeys := []string{defPK(opts.QueueName)}, []string{hintPKPrefix + opts.QueueName + "|*"}
	var dead []policyStatement // the statements on a dead-letter queue in another table
	if opts.DeadLetterQueue != nil {
		// The dead-letter pair's items, its definition (a redrive reads its shard count) and,
		// unless read-only, its activity hints (a move into it writes one).
		dlqARN, dlqPrefix, dlqName, err := deadLetterGrant(opts)
		if err != nil {
			return "", err
		}
		if dlqARN == opts.TableARN {
			prefixes = append(prefixes, dlqPrefix)
			if dlqName != opts.QueueName {
				defKeys, hintKeys = append(defKeys, defPK(dlqName)), append(hintKeys, hintPKPrefix+dlqName+"|*")
			}
		} else {
			items := policyStatement{Sid: "DeadLetterItems", Effect: "Allow", Action: actions}
			items.Resource, items.Condition = tableGrant(dlqARN, []string{dlqPrefix})
			dead = append(dead, items, definitionGrant("DeadLetterQueueDefinition", dlqARN, defPK(dlqName)))
			if !opts.ReadOnly {
				dead = append(dead, hintGrant("DeadLetterActivityHints", dlqARN, hintPKPrefix+dlqName+"|*"))
			}
		}
	}
	tenant.Resource, tenant.Condition = tableGrant(opts.TableARN, prefixes)
	doc := struct {
		Version   string            `json:"Version"`
		Statement []policyStatement `json:"Statement"`
	}{Version: "2012-10-17", Statement: []policyStatement{tenant, definitionGrant("QueueDefinition", opts.TableARN, defKeys...)}}
	doc.Statement = append(doc.Statement, dead...)
	if !opts.ReadOnly {
		hinted := policyStatement{Sid: "PushesWithHints", Effect: "Allow", Action: []string{"dynamodb:BatchWriteItem"}}
		hinted.Resource, hinted.Condition = []string{opts.TableARN}, map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": slices.Concat(prefixes, hintKeys)},
		}
		doc.Statement = append(doc.Statement, hintGrant("ActivityHints", opts.TableARN, hintKeys...), hinted)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dynamodbqueue: encode policy: %w", err)
	}
	return string(b), nil
}

// definitionGrant lets the tenant read the definition partitions pks (its queue's, and its
// dead-letter queue's) in tableARN. The patterns are the exact keys (names cannot contain * or
// ?), since another queue's definition partition may start with one.
func definitionGrant(sid, tableARN string, pks ...string) policyStatement {
	return policyStatement{
		Sid: sid, Effect: "Allow", Action: []string{"dynamodb:GetItem", "dynamodb:BatchGetItem"},
		Resource: []string{tableARN},
		Condition: map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": pks},
		},
	}
}

// hintGrant lets the tenant write its queue's (and its dead-letter queue's) activity hints
// (hint.go), which its pushes, releases and dead-letter moves write so that other processes'
// watchers wake its consumers: writes only, on the partitions "@act|<queue>|<k>" (patterns). IAM cannot confine the sort key, so the tenant could write
// hints naming other clients of the queue: at worst they wake spuriously, or a little later
// (the watchers' fallback bounds it); it can read nothing there.
func hintGrant(sid, tableARN string, patterns ...string) policyStatement {
	return policyStatement{
		Sid: sid, Effect: "Allow", Action: []string{"dynamodb:UpdateItem", "dynamodb:BatchWriteItem"},
		Resource: []string{tableARN},
		Condition: map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": patterns},
		},
	}
}

// tableGrant returns the resources (table and ready index) and the LeadingKeys condition of a
// statement over one table.
func tableGrant(tableARN string, prefixes []string) ([]string, map[string]any) {
	return []string{tableARN, tableARN + "/index/" + visIndex}, map[string]any{
		"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": prefixes},
	}
}

// deadLetterGrant resolves the dead-letter pair of opts the way the queue does (dlqTarget) and
// returns its table's ARN, its LeadingKeys pattern and its queue name.
func deadLetterGrant(opts PolicyOptions) (tableARN, prefix, queue string, err error) {
	arnPrefix, table, hasName := strings.Cut(opts.TableARN, ":table/")
	s := settings{table: table, queue: opts.QueueName, client: opts.ClientID, dlq: opts.DeadLetterQueue}
	if !hasName {
		s.table = "" // an ARN pattern without a table name: only the queue's own table is known
	}
	t, q, c := s.dlqTarget()
	if err := keys.ValidateName("dead-letter queue name", q); err != nil {
		return "", "", "", err
	}
	if err := keys.ValidateName("dead-letter client ID", c); err != nil {
		return "", "", "", err
	}
	tableARN = opts.TableARN
	if t != s.table {
		if !hasName {
			return "", "", "", argError("TableARN", "TableARN %q has no :table/<name>, so the ARN of dead-letter table %q cannot be derived from it", opts.TableARN, t)
		}
		if err := validateTableName(t); err != nil {
			return "", "", "", err
		}
		tableARN = arnPrefix + ":table/" + t
	}
	if tableARN == opts.TableARN && q == opts.QueueName && c == opts.ClientID {
		return "", "", "", argError("DeadLetterQueue", "dead-letter queue is the queue itself")
	}
	return tableARN, keys.PairPrefix(q, c) + "*", q, nil
}
