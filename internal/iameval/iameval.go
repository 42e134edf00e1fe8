// Package iameval evaluates the IAM policies that dynamodbqueue.IAMPolicy writes against
// DynamoDB requests, the way IAM does, so tests can prove what a policy allows without AWS.
//
// It implements the subset those policies use, exactly: Allow and Deny statements with Action
// and Resource (strings or lists, with IAM's * and ? wildcards; actions match case-blind) and
// the condition operators ForAllValues:StringLike and ForAnyValue:StringLike on the key
// dynamodb:LeadingKeys. Anything else in a policy (NotAction, Principal, other operators or
// keys, another Version) is an error rather than silently ignored.
package iameval

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported: the policy uses an element or operator this package does not evaluate.
var ErrUnsupported = errors.New("iameval: unsupported policy element")

// Request is one authorization check: one action on one resource (a table or index ARN).
type Request struct {
	Action   string // e.g. "dynamodb:PutItem"
	Resource string // e.g. "arn:aws:dynamodb:us-east-1:123456789012:table/queues/index/vis"
	// LeadingKeys are the partition key values the request touches (for a batch, those of this
	// table); none for table-level calls such as DescribeTable.
	LeadingKeys []string
}

// Policy is a parsed policy document.
type Policy struct {
	statements []statement
}

type statement struct {
	effect     string
	actions    []string
	resources  []string
	conditions []condition
}

type condition struct {
	op       string // ForAllValues:StringLike or ForAnyValue:StringLike
	patterns []string
}

// stringList is a JSON string or list of strings, as IAM accepts for most elements.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("iameval: want a string or a list of strings: %s", b)
	}
	*l = many
	return nil
}

// Parse reads a policy document.
func Parse(doc string) (*Policy, error) {
	var raw struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("iameval: %w", err)
	}
	if raw.Version != "2012-10-17" {
		return nil, fmt.Errorf("%w: Version %q", ErrUnsupported, raw.Version)
	}
	p := &Policy{}
	for i, st := range raw.Statement {
		s, err := parseStatement(st)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(st map[string]json.RawMessage) (statement, error) {
	var s statement
	for k, v := range st {
		var err error
		switch k {
		case "Sid":
		case "Effect":
			err = json.Unmarshal(v, &s.effect)
		case "Action":
			err = json.Unmarshal(v, (*stringList)(&s.actions))
		case "Resource":
			err = json.Unmarshal(v, (*stringList)(&s.resources))
		case "Condition":
			s.conditions, err = parseConditions(v)
		default:
			return s, fmt.Errorf("%w: %s", ErrUnsupported, k)
		}
		if err != nil {
			return s, err
		}
	}
	if s.effect != "Allow" && s.effect != "Deny" {
		return s, fmt.Errorf("iameval: Effect %q", s.effect)
	}
	return s, nil
}

func parseConditions(v json.RawMessage) ([]condition, error) {
	var ops map[string]map[string]stringList
	if err := json.Unmarshal(v, &ops); err != nil {
		return nil, fmt.Errorf("iameval: Condition: %w", err)
	}
	var out []condition
	for op, byKey := range ops {
		if op != "ForAllValues:StringLike" && op != "ForAnyValue:StringLike" {
			return nil, fmt.Errorf("%w: condition operator %s", ErrUnsupported, op)
		}
		for key, patterns := range byKey {
			if key != "dynamodb:LeadingKeys" {
				return nil, fmt.Errorf("%w: condition key %s", ErrUnsupported, key)
			}
			out = append(out, condition{op: op, patterns: patterns})
		}
	}
	return out, nil
}

// Allowed reports whether the policy allows req: an Allow statement matches it and no Deny
// statement does (IAM's default is to deny).
func (p *Policy) Allowed(req Request) bool {
	allowed := false
	for _, s := range p.statements {
		if !s.matches(req) {
			continue
		}
		if s.effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (s statement) matches(req Request) bool {
	if !anyMatch(s.actions, strings.ToLower(req.Action), strings.ToLower) ||
		!anyMatch(s.resources, req.Resource, nil) {
		return false
	}
	for _, c := range s.conditions {
		if !c.holds(req.LeadingKeys) {
			return false
		}
	}
	return true
}

// holds applies a set operator: ForAllValues holds when every value matches some pattern
// (so also for no values at all, as in IAM); ForAnyValue when at least one value does.
func (c condition) holds(values []string) bool {
	for _, v := range values {
		m := anyMatch(c.patterns, v, nil)
		if c.op == "ForAnyValue:StringLike" && m {
			return true
		}
		if c.op == "ForAllValues:StringLike" && !m {
			return false
		}
	}
	return c.op == "ForAllValues:StringLike"
}

func anyMatch(patterns []string, s string, fold func(string) string) bool {
	for _, p := range patterns {
		if fold != nil {
			p = fold(p)
		}
		if Like(p, s) {
			return true
		}
	}
	return false
}

// Like reports whether s matches pattern with IAM's wildcards: * matches any run of
// characters (also none, also across / and :), ? exactly one character; everything else
// matches itself.
func Like(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	// Greedy matching with backtracking to the last *: linear in practice, exact always.
	pi, ri, star, mark := 0, 0, -1, 0
	for ri < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[ri]):
			pi, ri = pi+1, ri+1
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ri
			pi++
		case star >= 0:
			mark++
			pi, ri = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
