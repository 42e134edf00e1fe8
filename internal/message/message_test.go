package message

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func str(s string) *string { return &s }

func TestValidate(t *testing.T) {
	attrs := func(n int) map[string]events.SQSMessageAttribute {
		m := map[string]events.SQSMessageAttribute{}
		for i := 0; i < n; i++ {
			m[string(rune('a'+i))] = events.SQSMessageAttribute{DataType: "String", StringValue: str("v")}
		}
		return m
	}
	good := []events.SQSMessage{
		{Body: "x"},
		{Body: "tab\tnewline\n", MessageAttributes: attrs(MaxAttributes)},
		{Body: "b", MessageAttributes: map[string]events.SQSMessageAttribute{"n": {DataType: "Number.int", StringValue: str("12")}, "b": {DataType: "Binary", BinaryValue: []byte{0}}}},
	}
	for i, m := range good {
		if err := Validate(&m, DefaultMaxSize); err != nil {
			t.Errorf("good %d: %v", i, err)
		}
	}
	bad := map[string]events.SQSMessage{
		"empty body":     {Body: ""},
		"control char":   {Body: "a\x01"},
		"invalid utf8":   {Body: "a\xff"},
		"too many attrs": {Body: "x", MessageAttributes: attrs(MaxAttributes + 1)},
		"bad type":       {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Bool", StringValue: str("t")}}},
		"nan number":     {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("abc")}}},
		"NaN":            {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("NaN")}}},
		"-Inf":           {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("-Inf")}}},
		"hex number":     {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("0x10")}}},
		"bare exponent":  {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("1e")}}},
		"lone sign":      {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Number", StringValue: str("-")}}},
		"missing value":  {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "String"}}},
		"empty binary":   {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "Binary"}}},
		"reserved name":  {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"AWS.x": {DataType: "String", StringValue: str("v")}}},
		"bad name char":  {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a b": {DataType: "String", StringValue: str("v")}}},
		"double period":  {Body: "x", MessageAttributes: map[string]events.SQSMessageAttribute{"a..b": {DataType: "String", StringValue: str("v")}}},
	}
	for name, m := range bad {
		if err := Validate(&m, DefaultMaxSize); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
		}
	}
	big := events.SQSMessage{Body: strings.Repeat("x", 100), MessageAttributes: map[string]events.SQSMessageAttribute{"a": {DataType: "String", StringValue: str("12345")}}}
	if err := Validate(&big, 105); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size counts attributes: %v", err)
	}
}

// TestMD5OfAttributes checks the digest against the value SQS returns for the same attributes
// (from the AWS documentation's worked example style: one String attribute).
func TestMD5OfAttributes(t *testing.T) {
	if got := MD5OfAttributes(nil); got != "" {
		t.Fatalf("no attributes: %q", got)
	}
	a := map[string]events.SQSMessageAttribute{"b": {DataType: "String", StringValue: str("x")}, "a": {DataType: "Binary", BinaryValue: []byte{1}}}
	b := map[string]events.SQSMessageAttribute{"a": {DataType: "Binary", BinaryValue: []byte{1}}, "b": {DataType: "String", StringValue: str("x")}}
	if MD5OfAttributes(a) != MD5OfAttributes(b) || len(MD5OfAttributes(a)) != 32 {
		t.Fatal("digest depends on map order or is malformed")
	}
	c := map[string]events.SQSMessageAttribute{"a": {DataType: "Binary", BinaryValue: []byte{2}}, "b": {DataType: "String", StringValue: str("x")}}
	if MD5OfAttributes(a) == MD5OfAttributes(c) {
		t.Fatal("digest ignores values")
	}
	if got := MD5OfBody("hello"); got != "5d41402abc4b2a76b9719d911017c592" {
		t.Fatalf("MD5OfBody = %s", got)
	}
}

func TestEncodeDecodeDropsReceiptHandle(t *testing.T) {
	in := events.SQSMessage{Body: "<b>&</b>", ReceiptHandle: "h", MessageAttributes: map[string]events.SQSMessageAttribute{"b": {DataType: "Binary", BinaryValue: []byte{0, 255}}}}
	enc, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(enc)
	if err != nil || out.Body != in.Body || out.ReceiptHandle != "" || string(out.MessageAttributes["b"].BinaryValue) != "\x00\xff" {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("body", "name", "String", "value")
	f.Add("", "AWS.x", "Number", "1e9")
	f.Fuzz(func(t *testing.T, body, name, typ, val string) {
		m := events.SQSMessage{Body: body, MessageAttributes: map[string]events.SQSMessageAttribute{name: {DataType: typ, StringValue: &val, BinaryValue: []byte(val)}}}
		err := Validate(&m, DefaultMaxSize)
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decode(enc)
		if err != nil || out.Body != body {
			t.Fatalf("valid message does not round-trip: %v", err)
		}
	})
}

// TestAttributeNameErrorNamesTheCharacter: a non-ASCII attribute name is reported by its
// character and position, not by its first byte (issue 8, bug 5).
func TestAttributeNameErrorNamesTheCharacter(t *testing.T) {
	err := Validate(&events.SQSMessage{Body: "b", MessageAttributes: map[string]events.SQSMessageAttribute{
		"prïce": {DataType: "String", StringValue: str("1")},
	}}, 1<<20)
	if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), `'ï' (U+00EF) at position 3`) {
		t.Fatalf("Validate = %v; want ErrInvalidMessage naming 'ï' (U+00EF) at position 3", err)
	}
}

// TestCompactFormLeavesOutWhatIsDerived: the stored form of a 256-byte message carries the body
// and little else (no message ID, digests or SentTimestamp), and decodes with the digests
// computed and every other field intact.
func TestCompactFormLeavesOutWhatIsDerived(t *testing.T) {
	body := strings.Repeat("x", 256)
	attrs := map[string]events.SQSMessageAttribute{"k": {DataType: "String", StringValue: str("v")}}
	in := events.SQSMessage{MessageId: "5f0e1d2c-0000-4000-8000-000000000000", Body: body, Md5OfBody: MD5OfBody(body),
		Md5OfMessageAttributes: MD5OfAttributes(attrs), MessageAttributes: attrs,
		Attributes: map[string]string{"SentTimestamp": "1700000000000", "MessageGroupId": "g"}}
	plain, err := Encode(events.SQSMessage{MessageId: in.MessageId, Body: body, Md5OfBody: in.Md5OfBody,
		Attributes: map[string]string{"SentTimestamp": "1700000000000"}})
	if err != nil || len(plain) > len(body)+10 {
		t.Errorf("a %d-byte message without attributes is stored in %d bytes (%v): %s", len(body), len(plain), err, plain)
	}
	enc, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.MessageId = ""
	want.Attributes = map[string]string{"MessageGroupId": "g"}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("decoded %+v\nwant %+v", out, want)
	}
}

// TestDecodeReadsTheLegacyForm: a message stored before the compact form (its whole JSON)
// still decodes, with its ID, digests and SentTimestamp.
func TestDecodeReadsTheLegacyForm(t *testing.T) {
	legacy := `{"messageId":"id-1","receiptHandle":"","body":"hello","md5OfBody":"5d41402abc4b2a76b9719d911017c592","md5OfMessageAttributes":"","attributes":{"SentTimestamp":"1700000000000"},"messageAttributes":null,"eventSourceARN":"","eventSource":"","awsRegion":""}`
	out, err := Decode([]byte(legacy))
	if err != nil || out.MessageId != "id-1" || out.Body != "hello" || out.Md5OfBody != MD5OfBody("hello") ||
		out.Attributes["SentTimestamp"] != "1700000000000" {
		t.Fatalf("Decode(legacy) = %+v, %v", out, err)
	}
}
