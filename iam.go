package dynamodbqueue

import (
	"encoding/json"
	"fmt"

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
}

// IAMPolicy returns an IAM policy document (JSON) that confines a principal to one tenant's
// (queue, client) pair: every item it may read or write has a partition key that starts with
// the pair's prefix ("queue|client|", which covers all shards and large-body partitions), by
// the dynamodb:LeadingKeys condition. The ready index is allowed for queries, with the same
// condition. The registry that List reads is deliberately not included: a tenant cannot see
// which other tenants exist, and its pushes skip registration (logged at debug level).
// Table administration (create, drop, purge-all) is not granted.
func IAMPolicy(opts PolicyOptions) (string, error) {
	if opts.TableARN == "" {
		return "", invalidArg("TableARN is empty")
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
	type statement struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Action    []string       `json:"Action"`
		Resource  []string       `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{
				Sid:      "TenantItems",
				Effect:   "Allow",
				Action:   actions,
				Resource: []string{opts.TableARN, opts.TableARN + "/index/" + visIndex},
				Condition: map[string]any{
					"ForAllValues:StringLike": map[string]any{
						"dynamodb:LeadingKeys": []string{keys.PairPrefix(opts.QueueName, opts.ClientID) + "*"},
					},
				},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dynamodbqueue: encode policy: %w", err)
	}
	return string(b), nil
}
