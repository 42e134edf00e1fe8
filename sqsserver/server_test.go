package sqsserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// TestEveryAction drives every served action through both protocols with raw HTTP requests and
// checks what each returns.
func TestEveryAction(t *testing.T) {
	c := newTable(t)
	e := newEndpoint(t, c)
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			a := func(action string, in map[string]any) resp { return e.call(t, proto, "key-a", action, in) }
			name := "orders-" + proto
			r := a("CreateQueue", map[string]any{"QueueName": name,
				"Attributes": map[string]string{"VisibilityTimeout": "40", "MaximumMessageSize": "2048"},
				"tags":       map[string]string{"team": "billing"}}).ok(t, "CreateQueue")
			qurl := r.value("QueueUrl", "QueueUrl")
			if !strings.HasSuffix(qurl, "/tenant-a/"+name) {
				t.Fatalf("QueueUrl %q, want .../tenant-a/%s", qurl, name)
			}
			// Idempotent with the same attributes, refused with others.
			a("CreateQueue", map[string]any{"QueueName": name, "Attributes": map[string]string{"VisibilityTimeout": "40"}}).ok(t, "CreateQueue again")
			a("CreateQueue", map[string]any{"QueueName": name, "Attributes": map[string]string{"VisibilityTimeout": "41"}}).wantCode(t, "CreateQueue other attributes", CodeQueueAlreadyExists)

			if got := a("GetQueueUrl", map[string]any{"QueueName": name}).ok(t, "GetQueueUrl").value("QueueUrl", "QueueUrl"); got != qurl {
				t.Errorf("GetQueueUrl = %q, want %q", got, qurl)
			}
			if got := a("ListQueues", map[string]any{"QueueNamePrefix": "orders-" + proto}).ok(t, "ListQueues").values("QueueUrls", "QueueUrl"); len(got) != 1 || got[0] != qurl {
				t.Errorf("ListQueues = %q, want [%s]", got, qurl)
			}
			q := map[string]any{"QueueUrl": qurl}
			with := func(kv ...any) map[string]any {
				m := map[string]any{"QueueUrl": qurl}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}

			a("SetQueueAttributes", with("Attributes", map[string]string{"DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "1"})).ok(t, "SetQueueAttributes")
			attrs := a("GetQueueAttributes", with("AttributeNames", []string{"All"})).ok(t, "GetQueueAttributes")
			for _, want := range []string{"VisibilityTimeout", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds", "QueueArn", "ApproximateNumberOfMessages", "CreatedTimestamp"} {
				if !strings.Contains(attrs.body, want) {
					t.Errorf("GetQueueAttributes All lacks %s: %s", want, attrs.body)
				}
			}
			if !strings.Contains(attrs.body, "arn:aws:sqs:us-east-1:tenant-a:"+name) {
				t.Errorf("QueueArn missing: %s", attrs.body)
			}

			a("TagQueue", with("Tags", map[string]string{"env": "test"})).ok(t, "TagQueue")
			a("UntagQueue", with("TagKeys", []string{"team"})).ok(t, "UntagQueue")
			tags := a("ListQueueTags", q).ok(t, "ListQueueTags")
			if !strings.Contains(tags.body, "env") || strings.Contains(tags.body, "team") {
				t.Errorf("ListQueueTags = %s, want env only", tags.body)
			}

			sent := a("SendMessage", with("MessageBody", "hello <&> \"world\"\r\n\t'!",
				"MessageAttributes", map[string]map[string]any{"kind": {"DataType": "String", "StringValue": "greeting"}})).ok(t, "SendMessage")
			if sent.value("MessageId", "MessageId") == "" || sent.value("MD5OfMessageBody", "MD5OfMessageBody") == "" || sent.value("MD5OfMessageAttributes", "MD5OfMessageAttributes") == "" {
				t.Errorf("SendMessage result lacks id or digests: %s", sent.body)
			}
			batch := a("SendMessageBatch", with("_entries", "SendMessageBatchRequestEntry", "Entries", []any{
				map[string]any{"Id": "one", "MessageBody": "b1"},
				map[string]any{"Id": "two", "MessageBody": "b2", "DelaySeconds": 0},
				map[string]any{"Id": "bad", "MessageBody": strings.Repeat("x", 3000)},
			})).ok(t, "SendMessageBatch")
			if ids := batch.values("Id", "Id"); len(ids) != 3 {
				t.Errorf("SendMessageBatch entries %q, want 3: %s", ids, batch.body)
			}
			if !strings.Contains(batch.body, "bad") || batch.value("SenderFault", "SenderFault") != "true" {
				t.Errorf("SendMessageBatch: the oversized entry is not a sender-fault failure: %s", batch.body)
			}

			got := a("ReceiveMessage", with("MaxNumberOfMessages", 10, "WaitTimeSeconds", 1, "MessageSystemAttributeNames", []string{"All"},
				"MessageAttributeNames", []string{"All"})).ok(t, "ReceiveMessage")
			bodies := got.values("Body", "Body")
			for len(bodies) < 3 { // a receive returns what it holds; ask again for the rest
				more := a("ReceiveMessage", with("MaxNumberOfMessages", 10, "WaitTimeSeconds", 1, "MessageAttributeNames", []string{"All"})).ok(t, "ReceiveMessage")
				if len(more.values("Body", "Body")) == 0 {
					break
				}
				got.body += more.body
				bodies = append(bodies, more.values("Body", "Body")...)
				if proto == "json" {
					got.json["Messages"] = append(got.json["Messages"].([]any), more.json["Messages"].([]any)...)
				}
			}
			if len(bodies) != 3 || !strings.Contains(strings.Join(bodies, "|"), "hello <&> \"world\"\r\n\t'!") {
				t.Fatalf("received bodies %q, want the 3 sent", bodies)
			}
			if !strings.Contains(got.body, "ApproximateReceiveCount") || !strings.Contains(got.body, "greeting") || got.value("MD5OfMessageAttributes", "MD5OfMessageAttributes") != sent.value("MD5OfMessageAttributes", "MD5OfMessageAttributes") {
				t.Errorf("ReceiveMessage lacks attributes or the attributes' digest: %s", got.body)
			}
			handles := got.values("ReceiptHandle", "ReceiptHandle")
			a("ChangeMessageVisibility", with("ReceiptHandle", handles[0], "VisibilityTimeout", 60)).ok(t, "ChangeMessageVisibility")
			cv := a("ChangeMessageVisibilityBatch", with("_entries", "ChangeMessageVisibilityBatchRequestEntry", "Entries", []any{
				map[string]any{"Id": "h1", "ReceiptHandle": handles[1], "VisibilityTimeout": 30},
				map[string]any{"Id": "h2", "ReceiptHandle": "garbage", "VisibilityTimeout": 30},
			})).ok(t, "ChangeMessageVisibilityBatch")
			if !strings.Contains(cv.body, CodeReceiptHandleIsInvalid) {
				t.Errorf("ChangeMessageVisibilityBatch: a garbage handle is not ReceiptHandleIsInvalid: %s", cv.body)
			}
			a("DeleteMessage", with("ReceiptHandle", handles[0])).ok(t, "DeleteMessage")
			db := a("DeleteMessageBatch", with("_entries", "DeleteMessageBatchRequestEntry", "Entries", []any{
				map[string]any{"Id": "d1", "ReceiptHandle": handles[1]},
				map[string]any{"Id": "d2", "ReceiptHandle": handles[2]},
			})).ok(t, "DeleteMessageBatch")
			if strings.Contains(db.body, "SenderFault") {
				t.Errorf("DeleteMessageBatch failed entries: %s", db.body)
			}
			a("SendMessage", with("MessageBody", "to purge")).ok(t, "SendMessage")
			a("PurgeQueue", q).ok(t, "PurgeQueue")
			empty := a("ReceiveMessage", q).ok(t, "ReceiveMessage after purge")
			if b := empty.values("Body", "Body"); len(b) != 0 {
				t.Errorf("after PurgeQueue received %q", b)
			}
			// Clients read the members of a query response from its Result element, so an empty
			// receive still has one.
			if proto == "query" && !strings.Contains(empty.body, "<ReceiveMessageResult></ReceiveMessageResult>") {
				t.Errorf("empty receive without its Result element: %s", empty.body)
			}

			// Dead letters: a source with a redrive policy, ListDeadLetterSourceQueues, a move task.
			dlqURL := a("CreateQueue", map[string]any{"QueueName": name + "-dlq"}).ok(t, "CreateQueue dlq").value("QueueUrl", "QueueUrl")
			dlqARN := "arn:aws:sqs:us-east-1:tenant-a:" + name + "-dlq"
			srcURL := a("CreateQueue", map[string]any{"QueueName": name + "-src", "Attributes": map[string]string{
				"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`}}).ok(t, "CreateQueue source").value("QueueUrl", "QueueUrl")
			if src := a("ListDeadLetterSourceQueues", map[string]any{"QueueUrl": dlqURL}).ok(t, "ListDeadLetterSourceQueues").values("queueUrls", "QueueUrl"); len(src) != 1 || src[0] != srcURL {
				t.Errorf("ListDeadLetterSourceQueues = %q, want [%s]", src, srcURL)
			}
			a("SendMessage", map[string]any{"QueueUrl": srcURL, "MessageBody": "poison"}).ok(t, "SendMessage source")
			h := a("ReceiveMessage", map[string]any{"QueueUrl": srcURL, "WaitTimeSeconds": 1}).ok(t, "ReceiveMessage source").value("ReceiptHandle", "ReceiptHandle")
			a("ChangeMessageVisibility", map[string]any{"QueueUrl": srcURL, "ReceiptHandle": h, "VisibilityTimeout": 0}).ok(t, "release")
			// The second receive moves it to the dead-letter queue (maxReceiveCount 1).
			if b := a("ReceiveMessage", map[string]any{"QueueUrl": srcURL}).ok(t, "ReceiveMessage source").values("Body", "Body"); len(b) != 0 {
				t.Errorf("message over maxReceiveCount was delivered again: %q", b)
			}
			task := a("StartMessageMoveTask", map[string]any{"SourceArn": dlqARN}).ok(t, "StartMessageMoveTask").value("TaskHandle", "TaskHandle")
			if task == "" {
				t.Fatal("StartMessageMoveTask returned no TaskHandle")
			}
			waitFor(t, "the move task to complete", func() bool {
				return strings.Contains(a("ListMessageMoveTasks", map[string]any{"SourceArn": dlqARN}).ok(t, "ListMessageMoveTasks").body, "COMPLETED")
			})
			a("CancelMessageMoveTask", map[string]any{"TaskHandle": task}).wantCode(t, "CancelMessageMoveTask of a finished task", CodeUnsupportedOperation)
			if b := a("ReceiveMessage", map[string]any{"QueueUrl": srcURL, "WaitTimeSeconds": 1}).ok(t, "ReceiveMessage moved").values("Body", "Body"); len(b) != 1 || b[0] != "poison" {
				t.Errorf("after the move task received %q, want [poison]", b)
			}

			a("DeleteQueue", q).ok(t, "DeleteQueue")
			a("GetQueueUrl", map[string]any{"QueueName": name}).wantCode(t, "GetQueueUrl of a deleted queue", CodeNonExistentQueue)
			a("SendMessage", with("MessageBody", "x")).wantCode(t, "SendMessage to a deleted queue", CodeNonExistentQueue)
			a("AddPermission", q).wantCode(t, "AddPermission", CodeUnsupportedOperation)
			a("NoSuchAction", q).wantCode(t, "an unknown action", CodeUnsupportedOperation)
		})
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := ctxT(t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// TestErrorShapes checks the wire form of an error in each protocol.
func TestErrorShapes(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	r := e.call(t, "json", "key-a", "GetQueueUrl", map[string]any{"QueueName": "missing"})
	if r.status != 400 || r.json["__type"] != "com.amazonaws.sqs#QueueDoesNotExist" || r.header.Get("x-amzn-query-error") != "AWS.SimpleQueueService.NonExistentQueue;Sender" ||
		r.header.Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Errorf("JSON error: status %d, headers %v, body %s", r.status, r.header, r.body)
	}
	r = e.call(t, "query", "key-a", "GetQueueUrl", map[string]any{"QueueName": "missing"})
	if r.status != 400 || !strings.Contains(r.body, "<ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>") ||
		!strings.Contains(r.body, "<RequestId>") {
		t.Errorf("query error: status %d, body %s", r.status, r.body)
	}
	// A body over MaxBodyBytes is refused in the client's protocol, without being read whole.
	small, err := New(Options{Client: e.srv.opts.Client, Auth: keys, MaxBodyBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(small)
	defer hs.Close()
	for _, proto := range protocols {
		r := (&endpoint{srv: small, url: hs.URL}).call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": "x", "MessageBody": strings.Repeat("x", 200)})
		if r.status != 413 {
			t.Errorf("%s: a body over MaxBodyBytes got status %d", proto, r.status)
		}
		r.wantCode(t, "body over MaxBodyBytes", CodeRequestTooLarge)
	}
	// The query protocol may post to the queue URL itself instead of naming it.
	qurl := e.call(t, "query", "key-a", "CreateQueue", map[string]any{"QueueName": "by-path"}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, qurl, strings.NewReader("Action=SendMessage&Version=2012-11-05&MessageBody=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test-Key", "key-a")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Errorf("SendMessage posted to the queue URL: %v, %v", res, err)
	} else {
		res.Body.Close()
	}
	for _, proto := range protocols {
		r := e.call(t, proto, "no-such-key", "ListQueues", nil)
		if r.status != 403 {
			t.Errorf("%s unknown key: status %d", proto, r.status)
		}
		r.wantCode(t, "unknown key", CodeInvalidClientTokenID)
	}
}

// TestValidation checks SQS's limits, each refused with SQS's code in both protocols.
func TestValidation(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			a := func(action string, in map[string]any) resp { return e.call(t, proto, "key-a", action, in) }
			qurl := a("CreateQueue", map[string]any{"QueueName": "v-" + proto, "Attributes": map[string]string{"MaximumMessageSize": "1024"}}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
			furl := a("CreateQueue", map[string]any{"QueueName": "v-" + proto + ".fifo", "Attributes": map[string]string{"FifoQueue": "true"}}).ok(t, "CreateQueue fifo").value("QueueUrl", "QueueUrl")
			entries := func(n int, id func(int) string) []any {
				var out []any
				for i := 0; i < n; i++ {
					out = append(out, map[string]any{"Id": id(i), "MessageBody": "m"})
				}
				return out
			}
			seq := func(i int) string { return "e" + string(rune('a'+i)) }
			cases := []struct {
				what, action string
				in           map[string]any
				code         string
			}{
				{"MaxNumberOfMessages 11", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "MaxNumberOfMessages": 11}, CodeInvalidParameterValue},
				{"WaitTimeSeconds 21", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "WaitTimeSeconds": 21}, CodeInvalidParameterValue},
				{"VisibilityTimeout 43201", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "VisibilityTimeout": 43201}, CodeInvalidParameterValue},
				{"unknown system attribute", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "AttributeNames": []string{"Nope"}}, CodeInvalidAttributeName},
				{"11 entries", "SendMessageBatch", map[string]any{"QueueUrl": qurl, "_entries": "SendMessageBatchRequestEntry", "Entries": entries(11, seq)}, CodeTooManyEntriesInBatch},
				{"no entries", "DeleteMessageBatch", map[string]any{"QueueUrl": qurl}, CodeEmptyBatchRequest},
				{"repeated IDs", "SendMessageBatch", map[string]any{"QueueUrl": qurl, "_entries": "SendMessageBatchRequestEntry", "Entries": entries(2, func(int) string { return "same" })}, CodeBatchEntryIdsNotDistinct},
				{"bad entry ID", "SendMessageBatch", map[string]any{"QueueUrl": qurl, "_entries": "SendMessageBatchRequestEntry", "Entries": entries(1, func(int) string { return "a b" })}, CodeInvalidBatchEntryID},
				{"body character", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "a\x01b"}, CodeInvalidMessageContents},
				{"no body", "SendMessage", map[string]any{"QueueUrl": qurl}, CodeMissingParameter},
				{"over the queue's size", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": strings.Repeat("x", 1025)}, CodeInvalidParameterValue},
				{"delay 901", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "x", "DelaySeconds": 901}, CodeInvalidParameterValue},
				{"attribute type", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "x", "MessageAttributes": map[string]map[string]any{"a": {"DataType": "Float", "StringValue": "1"}}}, CodeInvalidParameterValue},
				{"Number attribute", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "x", "MessageAttributes": map[string]map[string]any{"a": {"DataType": "Number", "StringValue": "NaN"}}}, CodeInvalidParameterValue},
				{"dedup ID on a standard queue", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "x", "MessageDeduplicationId": "d"}, CodeInvalidParameterValue},
				{"FIFO without group", "SendMessage", map[string]any{"QueueUrl": furl, "MessageBody": "x", "MessageDeduplicationId": "d"}, CodeMissingParameter},
				{"FIFO without dedup", "SendMessage", map[string]any{"QueueUrl": furl, "MessageBody": "x", "MessageGroupId": "g"}, CodeInvalidParameterValue},
				{"visibility out of range", "ChangeMessageVisibility", map[string]any{"QueueUrl": qurl, "ReceiptHandle": "x", "VisibilityTimeout": -1}, CodeInvalidParameterValue},
				{"garbage handle", "DeleteMessage", map[string]any{"QueueUrl": qurl, "ReceiptHandle": "garbage"}, CodeReceiptHandleIsInvalid},
				{"unknown queue attribute", "SetQueueAttributes", map[string]any{"QueueUrl": qurl, "Attributes": map[string]string{"Colour": "red"}}, CodeInvalidAttributeName},
				{"attribute value", "SetQueueAttributes", map[string]any{"QueueUrl": qurl, "Attributes": map[string]string{"VisibilityTimeout": "43201"}}, CodeInvalidAttributeValue},
				{"queue name", "CreateQueue", map[string]any{"QueueName": "bad name"}, CodeInvalidParameterValue},
				{"fifo name without FifoQueue", "CreateQueue", map[string]any{"QueueName": "x.fifo"}, CodeInvalidAttributeValue},
				{"missing QueueUrl", "SendMessage", map[string]any{"MessageBody": "x"}, CodeMissingParameter},
			}
			for _, tc := range cases {
				a(tc.action, tc.in).wantCode(t, tc.what, tc.code)
			}
			// A FIFO queue takes a grouped, deduplicated message once.
			for i := 0; i < 2; i++ {
				a("SendMessage", map[string]any{"QueueUrl": furl, "MessageBody": "f", "MessageGroupId": "g", "MessageDeduplicationId": "d"}).ok(t, "SendMessage fifo")
			}
			r := a("ReceiveMessage", map[string]any{"QueueUrl": furl, "MaxNumberOfMessages": 10, "AttributeNames": []string{"MessageGroupId", "SequenceNumber"}}).ok(t, "ReceiveMessage fifo")
			if b := r.values("Body", "Body"); len(b) != 1 || !strings.Contains(r.body, "SequenceNumber") {
				t.Errorf("FIFO receive: bodies %q (want one, deduplicated) in %s", b, r.body)
			}
		})
	}
}

// TestTenancy: a key reaches only its own clients' queues and handles; another tenant's queue is
// AccessDenied whether it exists or not.
func TestTenancy(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			name := "shared-" + proto
			aURL := e.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue a").value("QueueUrl", "QueueUrl")
			bURL := e.call(t, proto, "key-b", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue b").value("QueueUrl", "QueueUrl")
			if aURL == bURL || !strings.Contains(bURL, "/tenant-b/") {
				t.Fatalf("queue URLs %s and %s", aURL, bURL)
			}
			missing := strings.Replace(aURL, name, "never-created", 1)
			for _, u := range []string{aURL, missing} {
				for _, action := range []string{"SendMessage", "ReceiveMessage", "GetQueueAttributes", "PurgeQueue", "DeleteQueue"} {
					e.call(t, proto, "key-b", action, map[string]any{"QueueUrl": u, "MessageBody": "x"}).wantCode(t, "b on "+u+" "+action, CodeAccessDenied)
				}
			}
			e.call(t, proto, "key-b", "GetQueueUrl", map[string]any{"QueueName": name, "QueueOwnerAWSAccountId": "tenant-a"}).wantCode(t, "b asks for a's URL", CodeAccessDenied)
			// Each tenant sees only its own messages.
			e.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": aURL, "MessageBody": "for a"}).ok(t, "send a")
			if b := e.call(t, proto, "key-b", "ReceiveMessage", map[string]any{"QueueUrl": bURL}).ok(t, "receive b").values("Body", "Body"); len(b) != 0 {
				t.Errorf("tenant b received %q from its own queue", b)
			}
			h := e.call(t, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": aURL, "WaitTimeSeconds": 1}).ok(t, "receive a").value("ReceiptHandle", "ReceiptHandle")
			if h == "" {
				t.Fatal("tenant a received nothing")
			}
			// a's handle on b's own queue URL: another client's handle.
			e.call(t, proto, "key-b", "DeleteMessage", map[string]any{"QueueUrl": bURL, "ReceiptHandle": h}).wantCode(t, "b deletes with a's handle", CodeAccessDenied)
			e.call(t, proto, "key-b", "ChangeMessageVisibility", map[string]any{"QueueUrl": bURL, "ReceiptHandle": h, "VisibilityTimeout": 0}).wantCode(t, "b changes a's handle", CodeAccessDenied)
			// The admin key reaches tenant a's queue.
			e.call(t, proto, "key-admin", "DeleteMessage", map[string]any{"QueueUrl": aURL, "ReceiptHandle": h}).ok(t, "admin deletes")
			// b leaving the name does not touch a's queue.
			e.call(t, proto, "key-b", "DeleteQueue", map[string]any{"QueueUrl": bURL}).ok(t, "DeleteQueue b")
			e.call(t, proto, "key-a", "GetQueueUrl", map[string]any{"QueueName": name}).ok(t, "a's queue after b left")
		})
	}
}

// TestDrainEndsLongPolls: Drain answers a waiting ReceiveMessage at once with an empty result
// and leaves nothing claimed, and later receives do not wait.
func TestDrainEndsLongPolls(t *testing.T) {
	e := newEndpoint(t, newTable(t))
	qurl := e.call(t, "json", "key-a", "CreateQueue", map[string]any{"QueueName": "drain"}).ok(t, "CreateQueue").value("QueueUrl", "QueueUrl")
	var wg sync.WaitGroup
	results := make([]resp, 2)
	for i, proto := range protocols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.call(t, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "WaitTimeSeconds": 20})
		}()
	}
	waitFor(t, "two long polls", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.polls) == 2
	})
	start := time.Now()
	if err := e.srv.Drain(ctxT(t)); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	wg.Wait()
	for _, r := range results {
		r.ok(t, "drained ReceiveMessage")
		if b := r.values("Body", "Body"); len(b) != 0 {
			t.Errorf("%s drained poll returned %q", r.proto, b)
		}
	}
	if waited := time.Since(start); waited >= 20*time.Second {
		t.Errorf("the drained polls waited out their 20 s (%v)", waited)
	}
	// Nothing is left hidden: a message sent now is received by a short poll at once.
	e.call(t, "json", "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "after"}).ok(t, "SendMessage")
	r := e.call(t, "json", "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "WaitTimeSeconds": 20}).ok(t, "ReceiveMessage after Drain")
	if b := r.values("Body", "Body"); len(b) != 1 {
		t.Errorf("after Drain received %q, want [after]", b)
	}
	q, _ := e.srv.opts.Client.Queue("drain", "tenant-a")
	st, err := q.Stats(ctxT(t))
	if err != nil || st.InFlight != 1 || st.Visible != 0 {
		t.Errorf("Stats = %+v, %v; want only the one message just received in flight", st, err)
	}
}

// TestTwoServersShareQueuesAndHandles: two Servers with their own Clients on one table serve the
// same queues, and a receipt handle from one works on the other.
func TestTwoServersShareQueuesAndHandles(t *testing.T) {
	c1 := newTable(t)
	c2, err := dynamodbqueue.New(dynamodbqueue.Options{API: c1.API(), Table: c1.Table(), SigningKey: []byte("test-signing-key")})
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := newEndpoint(t, c1), newEndpoint(t, c2)
	for _, proto := range protocols {
		name := "two-" + proto
		qurl := e1.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": name}).ok(t, "CreateQueue on 1").value("QueueUrl", "QueueUrl")
		e2.call(t, proto, "key-a", "GetQueueUrl", map[string]any{"QueueName": name}).ok(t, "GetQueueUrl on 2")
		e1.call(t, proto, "key-a", "SendMessage", map[string]any{"QueueUrl": qurl, "MessageBody": "m"}).ok(t, "send on 1")
		h := e2.call(t, proto, "key-a", "ReceiveMessage", map[string]any{"QueueUrl": qurl, "WaitTimeSeconds": 5}).ok(t, "receive on 2").value("ReceiptHandle", "ReceiptHandle")
		if h == "" {
			t.Fatalf("%s: server 2 received nothing", proto)
		}
		e1.call(t, proto, "key-a", "ChangeMessageVisibility", map[string]any{"QueueUrl": qurl, "ReceiptHandle": h, "VisibilityTimeout": 100}).ok(t, "change on 1")
		e1.call(t, proto, "key-a", "DeleteMessage", map[string]any{"QueueUrl": qurl, "ReceiptHandle": h}).ok(t, "delete on 1")
		q, _ := c1.Queue(name, "tenant-a")
		if n, err := q.Count(ctxT(t)); err != nil || n != 0 {
			t.Errorf("%s: %d messages left (%v) after the delete on the other server", proto, n, err)
		}
		// Neither server's cache hides the other's CreateQueue or DeleteQueue: a queue server 2
		// just found missing exists as soon as server 1 created it, and one server 2 still
		// remembers is created again after server 1 deleted it.
		late := "late-" + proto
		e2.call(t, proto, "key-a", "GetQueueUrl", map[string]any{"QueueName": late}).wantCode(t, "GetQueueUrl before", CodeNonExistentQueue)
		lateURL := e1.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": late}).ok(t, "CreateQueue on 1").value("QueueUrl", "QueueUrl")
		e2.call(t, proto, "key-a", "GetQueueUrl", map[string]any{"QueueName": late}).ok(t, "GetQueueUrl on 2 right after")
		e1.call(t, proto, "key-a", "DeleteQueue", map[string]any{"QueueUrl": lateURL}).ok(t, "DeleteQueue on 1")
		e2.call(t, proto, "key-a", "CreateQueue", map[string]any{"QueueName": late}).ok(t, "CreateQueue on 2")
		if o, err := c1.ClientOverride(ctxT(t), late, "tenant-a"); err != nil || o == nil {
			t.Errorf("%s: after delete on 1 and create on 2 the client is not on the queue: %v, %v", proto, o, err)
		}
	}
}

// TestNewValidates: New refuses a missing client, and a nil Auth unless Insecure.
func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without Client succeeded")
	}
	c := newTable(t)
	if _, err := New(Options{Client: c}); err == nil {
		t.Error("New without Auth succeeded")
	}
	if _, err := New(Options{Client: c, Insecure: true}); err != nil {
		t.Errorf("New Insecure: %v", err)
	}
}
