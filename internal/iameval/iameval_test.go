package iameval

import (
	"errors"
	"testing"
)

func TestLike(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"invoices|acme|*", "invoices|acme|0", true},
		{"invoices|acme|*", "invoices|acme|0|m#123", true},
		{"invoices|acme|*", "invoices|acme|", true}, // * matches nothing too
		{"invoices|acme|*", "invoices|acme", false},
		{"invoices|acme|*", "invoices|acme2|0", false},
		{"invoices|acme|*", "xinvoices|acme|0", false},
		{"invoices|acme|*", "invoices-dlq|acme|0", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"a*b*c", "a__b__b__c", true},
		{"a*b*c", "a__b__c_", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"arn:aws:dynamodb:*:*:table/q", "arn:aws:dynamodb:eu-west-1:123:table/q", true},
		{"arn:aws:dynamodb:*:*:table/q", "arn:aws:dynamodb:eu-west-1:123:table/q/index/vis", false},
		{"ö?", "öü", true}, // ? is one character, not one byte
	} {
		if got := Like(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Like(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

const testPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
     "Resource": ["arn:t/q", "arn:t/q/index/vis"],
     "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["a|b|*", "a-dlq|b|*"]}}},
    {"Effect": "Allow", "Action": "dynamodb:Describe*", "Resource": "arn:t/q"},
    {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "arn:t/q",
     "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["a|b|secret*"]}}}
  ]
}`

func TestAllowed(t *testing.T) {
	p, err := Parse(testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  Request
		want bool
	}{
		{"own key", Request{"dynamodb:GetItem", "arn:t/q", []string{"a|b|0"}}, true},
		{"action is case-blind", Request{"DynamoDB:getitem", "arn:t/q", []string{"a|b|0"}}, true},
		{"dead-letter key", Request{"dynamodb:GetItem", "arn:t/q", []string{"a-dlq|b|0"}}, true},
		{"index", Request{"dynamodb:Query", "arn:t/q/index/vis", []string{"a|b|3"}}, true},
		{"other index", Request{"dynamodb:Query", "arn:t/q/index/other", []string{"a|b|3"}}, false},
		{"other tenant", Request{"dynamodb:GetItem", "arn:t/q", []string{"a|c|0"}}, false},
		{"one foreign key in a batch", Request{"dynamodb:GetItem", "arn:t/q", []string{"a|b|0", "a|c|0"}}, false},
		{"action not granted", Request{"dynamodb:PutItem", "arn:t/q", []string{"a|b|0"}}, false},
		{"other table", Request{"dynamodb:GetItem", "arn:t/r", []string{"a|b|0"}}, false},
		{"resource is case-sensitive", Request{"dynamodb:GetItem", "arn:t/Q", []string{"a|b|0"}}, false},
		{"no keys: ForAllValues holds", Request{"dynamodb:Query", "arn:t/q", nil}, true},
		{"wildcard action", Request{"dynamodb:DescribeTable", "arn:t/q", nil}, true},
		{"explicit deny wins", Request{"dynamodb:GetItem", "arn:t/q", []string{"a|b|0", "a|b|secret1"}}, false},
		{"deny needs a matching key", Request{"dynamodb:Query", "arn:t/q", []string{"a|b|secret1"}}, true},
	} {
		if got := p.Allowed(tc.req); got != tc.want {
			t.Errorf("%s: Allowed(%+v) = %v, want %v", tc.name, tc.req, got, tc.want)
		}
	}
}

func TestParseRejectsWhatItCannotEvaluate(t *testing.T) {
	for _, doc := range []string{
		`{"Version": "2008-10-17", "Statement": []}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
		  "Condition": {"StringEquals": {"dynamodb:LeadingKeys": "x"}}}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
		  "Condition": {"ForAllValues:StringLike": {"dynamodb:Attributes": "x"}}}]}`,
	} {
		if _, err := Parse(doc); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Parse(%s) = %v, want ErrUnsupported", doc, err)
		}
	}
	if _, err := Parse(`{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}`); err == nil {
		t.Error("Parse accepted Effect Maybe")
	}
}
