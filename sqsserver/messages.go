package sqsserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Attribute names the server keeps in a message's Attributes besides the library's own.
const (
	// fairGroupAttr holds the MessageGroupId of a message on a standard queue: SQS's fair
	// queues use it to name a tenant within the queue, without FIFO ordering, so it is the
	// library's fair group (placed by group over the pair's shards), not its MessageGroupId
	// (which would make a FIFO group of it).
	fairGroupAttr = dynamodbqueue.AttributeFairGroupID
	traceAttr     = "AWSTraceHeader"
)

const maxBatch = 10

// message is one message to send, parsed and checked.
type outMessage struct {
	id  string // batch entry ID
	msg events.SQSMessage
}

// parseMessage reads one SendMessage (or batch entry) and checks it as SQS does.
func (s *Server) parseMessage(c *call, ref *queueRef, in params) (events.SQSMessage, error) {
	var m events.SQSMessage
	body, err := in.str("MessageBody")
	if err != nil {
		return m, err
	}
	if body == "" {
		return m, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter MessageBody.", Sender: true}
	}
	if err := dynamodbqueue.ValidateMessage(events.SQSMessage{Body: body}); err != nil {
		if errors.Is(err, dynamodbqueue.ErrMessageTooLarge) {
			return m, tooLong(ref)
		}
		return m, &Error{Code: CodeInvalidMessageContents, Message: "Invalid characters found. Deleted message body contains characters outside the allowed set.", Sender: true}
	}
	m.Body = body
	m.Attributes = map[string]string{}
	attrs, err := in.objectMap("MessageAttributes")
	if err != nil {
		return m, err
	}
	if len(attrs) > 0 {
		m.MessageAttributes = make(map[string]events.SQSMessageAttribute, len(attrs))
		for name, a := range attrs {
			v, err := parseMessageAttribute(name, a)
			if err != nil {
				return m, err
			}
			m.MessageAttributes[name] = v
		}
	}
	sys, err := in.objectMap("MessageSystemAttributes")
	if err != nil {
		return m, err
	}
	for name, a := range sys {
		if name != traceAttr {
			return m, invalidParam("Message system attribute name %s is invalid.", name)
		}
		v, err := parseMessageAttribute(name, a)
		if err != nil || v.DataType != "String" {
			return m, invalidParam("Message system attribute %s must be a String.", name)
		}
		m.Attributes[traceAttr] = *v.StringValue
	}
	if err := dynamodbqueue.ValidateMessage(m); err != nil {
		if errors.Is(err, dynamodbqueue.ErrMessageTooLarge) {
			return m, tooLong(ref)
		}
		return m, invalidParam("%s", trimPrefix(err.Error()))
	}
	if size := messageSize(m); size > effectiveOf(*ref.def, ref.ovr).maxSize {
		return m, tooLong(ref)
	}
	delay, hasDelay, err := in.integer("DelaySeconds")
	if err != nil {
		return m, err
	}
	if hasDelay {
		if delay < 0 || delay > 900 {
			return m, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", delay)
		}
		if ref.fifo() {
			return m, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", delay)
		}
		m.Attributes[dynamodbqueue.AttributeDelaySeconds] = strconv.FormatInt(delay, 10)
	}
	group, err := in.str("MessageGroupId")
	if err != nil {
		return m, err
	}
	dedup, err := in.str("MessageDeduplicationId")
	if err != nil {
		return m, err
	}
	for name, v := range map[string]string{"MessageGroupId": group, "MessageDeduplicationId": dedup} {
		if in.has(name) && !validGroupID(v) {
			return m, invalidParam("Value %s for parameter %s is invalid. Reason: must be 1..128 characters of alphanumerics and punctuation.", v, name)
		}
	}
	if ref.fifo() {
		if group == "" {
			return m, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter MessageGroupId.", Sender: true}
		}
		if dedup == "" && !effectiveOf(*ref.def, ref.ovr).contentDedup {
			return m, invalidParam("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		m.Attributes[dynamodbqueue.AttributeMessageGroupID] = group
		if dedup != "" {
			m.Attributes[dynamodbqueue.AttributeMessageDeduplicationID] = dedup
		}
	} else {
		if dedup != "" {
			return m, invalidParam("The request include parameter MessageDeduplicationId that is not valid for this queue type")
		}
		if group != "" {
			m.Attributes[fairGroupAttr] = group
		}
	}
	return m, nil
}

func tooLong(ref *queueRef) *Error {
	return invalidParam("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", effectiveOf(*ref.def, ref.ovr).maxSize)
}

// messageSize counts a message as SQS does: the body and each attribute's name, type and value.
func messageSize(m events.SQSMessage) int {
	n := len(m.Body)
	for name, a := range m.MessageAttributes {
		n += len(name) + len(a.DataType) + len(a.BinaryValue)
		if a.StringValue != nil {
			n += len(*a.StringValue)
		}
	}
	return n
}

// validGroupID: 1..128 characters of alphanumerics and punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~).
func validGroupID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

func parseMessageAttribute(name string, a params) (events.SQSMessageAttribute, error) {
	var v events.SQSMessageAttribute
	dt, err := a.str("DataType")
	if err != nil {
		return v, err
	}
	if dt == "" {
		return v, invalidParam("The message attribute '%s' must contain a non-empty message attribute type.", name)
	}
	v.DataType = dt
	if a.has("StringValue") {
		sv, err := a.str("StringValue")
		if err != nil {
			return v, err
		}
		v.StringValue = &sv
	}
	if b, ok, err := a.binary("BinaryValue"); err != nil {
		return v, err
	} else if ok {
		v.BinaryValue = b
	}
	if a.has("StringListValues") || a.has("BinaryListValues") {
		return v, invalidParam("Message attribute list values are not supported.")
	}
	if v.StringValue == nil && v.BinaryValue == nil {
		return v, invalidParam("The message attribute '%s' must contain a non-empty message attribute value.", name)
	}
	return v, nil
}

func (s *Server) sendMessage(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	m, err := s.parseMessage(c, ref, c.in)
	if err != nil {
		return nil, err
	}
	ctx, endSpans := s.traceSends(c.ctx, ref, []*events.SQSMessage{&m})
	res, err := ref.q.SendMessages(ctx, dynamodbqueue.PushOptions{}, m)
	endSpans()
	if err != nil {
		if len(res) == 1 && res[0].Err != nil {
			err = res[0].Err
		}
		return nil, err
	}
	return sendResult(ref, res[0]), nil
}

// sendResult is the members SQS returns for one sent message.
func sendResult(ref *queueRef, r dynamodbqueue.SendResult) obj {
	o := obj{}.add("MessageId", r.MessageID).add("MD5OfMessageBody", r.Message.Md5OfBody)
	if r.Message.Md5OfMessageAttributes != "" {
		o = o.add("MD5OfMessageAttributes", r.Message.Md5OfMessageAttributes)
	}
	if ref.fifo() {
		o = o.add("SequenceNumber", sequenceNumber(r.Message))
	}
	return o
}

// sequenceNumber is a FIFO message's SequenceNumber: its send time in nanoseconds is not kept,
// so the millisecond send time, padded as SQS's 20 digits.
func sequenceNumber(m events.SQSMessage) string {
	ms, _ := strconv.ParseInt(m.Attributes[dynamodbqueue.AttributeSentTimestamp], 10, 64)
	return fmt.Sprintf("%020d", ms*1000000)
}

// batchEntries reads and checks a batch's entries: count, distinct and well-formed IDs.
func batchEntries(c *call) ([]params, []string, error) {
	entries, err := c.in.objects("Entries")
	if err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, &Error{Code: CodeEmptyBatchRequest, Message: "There should be at least one entry in the request.", Sender: true}
	}
	if len(entries) > maxBatch {
		return nil, nil, &Error{Code: CodeTooManyEntriesInBatch, Message: fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", maxBatch, len(entries)), Sender: true}
	}
	ids := make([]string, len(entries))
	seen := map[string]bool{}
	for i, e := range entries {
		id, err := e.str("Id")
		if err != nil {
			return nil, nil, err
		}
		if !validEntryID(id) {
			return nil, nil, &Error{Code: CodeInvalidBatchEntryID, Message: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.", Sender: true}
		}
		if seen[id] {
			return nil, nil, &Error{Code: CodeBatchEntryIdsNotDistinct, Message: "Id " + id + " repeated.", Sender: true}
		}
		seen[id] = true
		ids[i] = id
	}
	return entries, ids, nil
}

func validEntryID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// failedEntry is a batch's BatchResultErrorEntry.
func failedEntry(id string, err error, s *Server, c *call) obj {
	var ec ErrorCoder
	if !errors.As(err, &ec) {
		ec = s.internal(c, err)
	}
	msg := ec.Error()
	if se, ok := ec.(*Error); ok {
		msg = se.Message
	}
	return obj{}.add("Id", id).add("SenderFault", ec.SenderFault()).add("Code", ec.ErrorCode()).add("Message", msg)
}

func (s *Server) sendMessageBatch(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	entries, ids, err := batchEntries(c)
	if err != nil {
		return nil, err
	}
	var failed list
	var todo []outMessage
	total := 0
	for i, e := range entries {
		m, err := s.parseMessage(c, ref, e)
		if err != nil {
			failed = append(failed, failedEntry(ids[i], err, s, c))
			continue
		}
		total += messageSize(m)
		todo = append(todo, outMessage{id: ids[i], msg: m})
	}
	if total > dynamodbqueue.DefaultMaxMessageSize {
		return nil, &Error{Code: CodeBatchRequestTooLong, Message: fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", dynamodbqueue.DefaultMaxMessageSize, total), Sender: true}
	}
	var ok list
	// A call with an invalid message writes nothing (ErrNotAttempted for the others); the
	// entries were checked above, so a second round sends the rest should one slip through.
	for round := 0; len(todo) > 0 && round < 2; round++ {
		msgs := make([]events.SQSMessage, len(todo))
		traced := make([]*events.SQSMessage, len(todo))
		for i := range todo {
			msgs[i] = todo[i].msg
			traced[i] = &msgs[i]
		}
		_, endSpans := s.traceSends(c.ctx, ref, traced)
		res, err := ref.q.SendMessages(c.ctx, dynamodbqueue.PushOptions{}, msgs...)
		endSpans()
		var partial *dynamodbqueue.PartialError
		if err != nil && !errors.As(err, &partial) && len(res) != len(todo) {
			return nil, err
		}
		var again []outMessage
		for i, r := range res {
			switch {
			case r.Err == nil:
				ok = append(ok, sendResult(ref, r).add("Id", todo[i].id))
			case errors.Is(r.Err, dynamodbqueue.ErrNotAttempted):
				again = append(again, todo[i])
			default:
				failed = append(failed, failedEntry(todo[i].id, r.Err, s, c))
			}
		}
		todo = again
	}
	for _, t := range todo {
		failed = append(failed, failedEntry(t.id, dynamodbqueue.ErrNotAttempted, s, c))
	}
	return batchResult("SendMessageBatchResultEntry", ok, failed), nil
}

func batchResult(okName string, ok, failed list) obj {
	if ok == nil {
		ok = list{}
	}
	if failed == nil {
		failed = list{}
	}
	return obj{}.addx("Successful", okName, ok).addx("Failed", "BatchResultErrorEntry", failed)
}

// handleError maps the library's per-handle errors to SQS's.
func handleError(err error, deleting bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dynamodbqueue.ErrInvalidReceiptHandle), errors.Is(err, dynamodbqueue.ErrForeignReceiptHandle):
		return &Error{Code: CodeReceiptHandleIsInvalid, Message: "The input receipt handle is invalid.", Sender: true}
	case errors.Is(err, dynamodbqueue.ErrStaleReceiptHandle):
		if deleting {
			return nil // SQS: deleting with an older handle succeeds without deleting
		}
		return &Error{Code: CodeMessageNotInflight, Message: "The message referred to is not in flight.", Sender: true}
	}
	return err
}

// checkHandle refuses a receipt handle of another client with AccessDenied, and one of another
// queue of the same client as invalid, before anything is sent.
func (s *Server) checkHandle(ref *queueRef, h string) error {
	if h == "" {
		return &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter ReceiptHandle.", Sender: true}
	}
	table, pair, err := s.opts.Client.ReceiptHandleOwner(h)
	if err != nil {
		return &Error{Code: CodeReceiptHandleIsInvalid, Message: "The input receipt handle \"" + h + "\" is not a valid receipt handle.", Sender: true}
	}
	if pair.ClientID != ref.client {
		return accessDenied("of this receipt handle")
	}
	if table != s.opts.Client.Table() || pair.QueueName != ref.name {
		return &Error{Code: CodeReceiptHandleIsInvalid, Message: "The input receipt handle belongs to another queue.", Sender: true}
	}
	return nil
}

func (s *Server) deleteMessage(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	h, err := c.in.str("ReceiptHandle")
	if err != nil {
		return nil, err
	}
	if err := s.checkHandle(ref, h); err != nil {
		return nil, err
	}
	res, err := ref.q.DeleteEntries(c.ctx, h)
	if len(res) == 1 {
		err = res[0].Err
	}
	return obj{}, handleError(err, true)
}

func (s *Server) changeMessageVisibility(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	h, err := c.in.str("ReceiptHandle")
	if err != nil {
		return nil, err
	}
	d, err := visibilityParam(c.in, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkHandle(ref, h); err != nil {
		return nil, err
	}
	res, err := ref.q.ChangeVisibilityEntries(c.ctx, d, h)
	if len(res) == 1 {
		err = res[0].Err
	}
	return obj{}, handleError(err, false)
}

// visibilityParam reads VisibilityTimeout (0..43200 s); required for visibility changes.
func visibilityParam(in params, required bool) (time.Duration, error) {
	n, ok, err := in.integer("VisibilityTimeout")
	if err != nil {
		return 0, err
	}
	if !ok {
		if required {
			return 0, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter VisibilityTimeout.", Sender: true}
		}
		return -1, nil
	}
	if n < 0 || n > 43200 {
		return 0, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", n)
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) deleteMessageBatch(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	entries, ids, err := batchEntries(c)
	if err != nil {
		return nil, err
	}
	var ok, failed list
	var handles, hids []string
	for i, e := range entries {
		h, err := e.str("ReceiptHandle")
		if err == nil {
			err = s.checkHandle(ref, h)
		}
		if err != nil {
			failed = append(failed, failedEntry(ids[i], err, s, c))
			continue
		}
		handles, hids = append(handles, h), append(hids, ids[i])
	}
	if len(handles) > 0 {
		res, err := ref.q.DeleteEntries(c.ctx, handles...)
		if len(res) != len(handles) {
			return nil, err
		}
		for i, r := range res {
			if e := handleError(r.Err, true); e != nil {
				failed = append(failed, failedEntry(hids[i], e, s, c))
			} else {
				ok = append(ok, obj{}.add("Id", hids[i]))
			}
		}
	}
	return batchResult("DeleteMessageBatchResultEntry", ok, failed), nil
}

func (s *Server) changeMessageVisibilityBatch(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	entries, ids, err := batchEntries(c)
	if err != nil {
		return nil, err
	}
	var ok, failed list
	// The library changes many handles to one timeout per call: group the entries by theirs.
	type item struct{ id, handle string }
	groups := map[time.Duration][]item{}
	var order []time.Duration
	for i, e := range entries {
		h, err := e.str("ReceiptHandle")
		var d time.Duration
		if err == nil {
			d, err = visibilityParam(e, true)
		}
		if err == nil {
			err = s.checkHandle(ref, h)
		}
		if err != nil {
			failed = append(failed, failedEntry(ids[i], err, s, c))
			continue
		}
		if _, seen := groups[d]; !seen {
			order = append(order, d)
		}
		groups[d] = append(groups[d], item{ids[i], h})
	}
	for _, d := range order {
		items := groups[d]
		handles := make([]string, len(items))
		for i, it := range items {
			handles[i] = it.handle
		}
		res, err := ref.q.ChangeVisibilityEntries(c.ctx, d, handles...)
		if len(res) != len(items) {
			return nil, err
		}
		for i, r := range res {
			if e := handleError(r.Err, false); e != nil {
				failed = append(failed, failedEntry(items[i].id, e, s, c))
			} else {
				ok = append(ok, obj{}.add("Id", items[i].id))
			}
		}
	}
	return batchResult("ChangeMessageVisibilityBatchResultEntry", ok, failed), nil
}

// systemAttributeNames are the names ReceiveMessage's AttributeNames and
// MessageSystemAttributeNames take.
var systemAttributeNames = map[string]bool{
	"All": true, "SenderId": true, "SentTimestamp": true, "ApproximateReceiveCount": true,
	"ApproximateFirstReceiveTimestamp": true, "SequenceNumber": true, "MessageDeduplicationId": true,
	"MessageGroupId": true, "AWSTraceHeader": true, "DeadLetterQueueSourceArn": true,
}

func (s *Server) receiveMessage(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	max := int64(1)
	if n, ok, err := c.in.integer("MaxNumberOfMessages"); err != nil {
		return nil, err
	} else if ok {
		if n < 1 || n > 10 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n)
		}
		max = n
	}
	vis, err := visibilityParam(c.in, false)
	if err != nil {
		return nil, err
	}
	wait := effectiveOf(*ref.def, ref.ovr).wait
	if n, ok, err := c.in.integer("WaitTimeSeconds"); err != nil {
		return nil, err
	} else if ok {
		if n < 0 || n > 20 {
			return nil, invalidParam("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", n)
		}
		wait = time.Duration(n) * time.Second
	}
	want := map[string]bool{}
	for _, member := range []string{"AttributeNames", "MessageSystemAttributeNames"} {
		names, err := c.in.strings(member)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !systemAttributeNames[n] {
				return nil, badAttrName(n)
			}
			want[n] = true
		}
	}
	attrNames, err := c.in.strings("MessageAttributeNames")
	if err != nil {
		return nil, err
	}
	attemptID, err := c.in.str("ReceiveRequestAttemptId")
	if err != nil {
		return nil, err
	}
	if c.in.has("ReceiveRequestAttemptId") && !validGroupID(attemptID) {
		return nil, invalidParam("Value %s for parameter ReceiveRequestAttemptId is invalid.", attemptID)
	}
	if !ref.fifo() {
		attemptID = "" // SQS honours it on FIFO queues only
	}
	if attemptID != "" {
		if out, ok := s.attempts.get(attemptKey(ref, attemptID), time.Now()); ok {
			return receiveResult(out), nil
		}
	}
	msgs, err := s.receive(c, ref, int(max), vis, wait)
	if err != nil {
		return nil, err
	}
	out := make(list, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, s.receivedMessage(ref, m, want, attrNames))
	}
	if attemptID != "" && len(out) > 0 {
		v := vis
		if v < 0 {
			v = effectiveOf(*ref.def, ref.ovr).vis
		}
		s.attempts.put(attemptKey(ref, attemptID), out, time.Now(), v)
	}
	return receiveResult(out), nil
}

// receiveResult is ReceiveMessage's result: no Messages member when there are none, as SQS.
func receiveResult(out list) obj {
	if len(out) == 0 {
		return obj{}
	}
	return obj{}.addx("Messages", "Message", out)
}

// receive claims up to max messages, waiting up to wait. A waiting receive is registered so
// that Drain can end it; messages claimed for a client that went away are released at once, so
// nothing stays hidden for nobody.
func (s *Server) receive(c *call, ref *queueRef, max int, vis, wait time.Duration) ([]events.SQSMessage, error) {
	if vis == 0 {
		vis = time.Millisecond // SQS's 0: visible again at once; the library's 0 means the default
	} else if vis < 0 {
		vis = 0
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	if wait > 0 {
		p := &longPoll{cancel: cancel}
		s.mu.Lock()
		if s.draining {
			wait = 0
		} else {
			s.polls[p] = struct{}{}
			s.pollsWG.Add(1)
		}
		s.mu.Unlock()
		if wait > 0 {
			if s.opts.Metrics != nil {
				s.opts.Metrics.LongPolls(1)
			}
			defer func() {
				s.mu.Lock()
				delete(s.polls, p)
				s.mu.Unlock()
				if s.opts.Metrics != nil {
					s.opts.Metrics.LongPolls(-1)
				}
				s.pollsWG.Done()
			}()
		}
	}
	var msgs []events.SQSMessage
	var err error
	if wait > 0 {
		msgs, err = ref.q.ReceiveMessages(ctx, dynamodbqueue.ReceiveOptions{MaxMessages: max, WaitTime: wait, VisibilityTimeout: vis})
	} else {
		msgs, err = ref.q.PollMessages(ctx, 0, vis, max)
	}
	if c.ctx.Err() != nil {
		// The client is gone: whatever was claimed for it goes back at once.
		if len(msgs) > 0 {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
			_, _ = ref.q.ReleaseEntries(rctx, dynamodbqueue.ToReceiptHandles(msgs)...)
			rcancel()
		}
		return nil, c.ctx.Err()
	}
	if err != nil && ctx.Err() != nil && len(msgs) == 0 {
		return nil, nil // ended by Drain: an empty result
	}
	if err != nil && len(msgs) > 0 {
		// Claimed messages are returned; the error is logged, not lost with them.
		s.logger.WarnContext(c.ctx, "sqsserver: receive stopped early", "request_id", c.requestID, "error", err)
		err = nil
	}
	return msgs, err
}

// receivedMessage renders one message with the attributes asked for.
func (s *Server) receivedMessage(ref *queueRef, m events.SQSMessage, want map[string]bool, attrNames []string) obj {
	o := obj{}.add("MessageId", m.MessageId).add("ReceiptHandle", m.ReceiptHandle).add("MD5OfBody", m.Md5OfBody).add("Body", m.Body)
	sys := map[string]string{}
	all := want["All"]
	put := func(name, v string) {
		if (all || want[name]) && v != "" {
			sys[name] = v
		}
	}
	put("SentTimestamp", m.Attributes[dynamodbqueue.AttributeSentTimestamp])
	put("ApproximateReceiveCount", m.Attributes[dynamodbqueue.AttributeApproximateReceiveCount])
	put("ApproximateFirstReceiveTimestamp", m.Attributes[dynamodbqueue.AttributeApproximateFirstReceiveTimestamp])
	put("SenderId", ref.client) // the client ID stands for SQS's account; nothing per message is stored for it
	put("AWSTraceHeader", m.Attributes[traceAttr])
	if ref.fifo() {
		put("MessageGroupId", m.Attributes[dynamodbqueue.AttributeMessageGroupID])
		put("MessageDeduplicationId", m.Attributes[dynamodbqueue.AttributeMessageDeduplicationID])
		put("SequenceNumber", sequenceNumber(m))
	} else {
		put("MessageGroupId", m.Attributes[fairGroupAttr])
	}
	if src := m.Attributes[dynamodbqueue.AttributeDeadLetterSource]; src != "" {
		if parts := strings.Split(src, "|"); len(parts) >= 2 {
			put("DeadLetterQueueSourceArn", s.queueARN(parts[1], parts[0]))
		}
	}
	if len(sys) > 0 {
		o = o.addx("Attributes", "Attribute", kvMap{m: sys, key: "Name", value: "Value"})
	}
	picked := map[string]events.SQSMessageAttribute{}
	for name, a := range m.MessageAttributes {
		if attributeWanted(name, attrNames) {
			picked[name] = a
		}
	}
	if len(picked) > 0 {
		am := attrMap{}
		for name, a := range picked {
			v := obj{}
			if a.StringValue != nil {
				v = v.add("StringValue", *a.StringValue)
			}
			if a.BinaryValue != nil {
				v = v.add("BinaryValue", base64String(a.BinaryValue))
			}
			am[name] = v.add("DataType", a.DataType)
		}
		o = o.add("MD5OfMessageAttributes", dynamodbqueue.MD5OfMessageAttributes(picked))
		o = o.addx("MessageAttributes", "MessageAttribute", am)
	}
	return o
}

// attributeWanted: "All" or ".*" select every attribute, "prefix.*" those under prefix, other
// names themselves.
func attributeWanted(name string, names []string) bool {
	for _, n := range names {
		switch {
		case n == "All" || n == ".*":
			return true
		case strings.HasSuffix(n, ".*"):
			if strings.HasPrefix(name, strings.TrimSuffix(n, "*")) {
				return true
			}
		case n == name:
			return true
		}
	}
	return false
}

// traceSends starts the send span of each message (Options.Tracer), which may write the span's
// context into the message, and returns the context of the first span (the push's context when
// there is one message) and a func that ends them all. Without a Tracer it changes nothing.
func (s *Server) traceSends(ctx context.Context, ref *queueRef, msgs []*events.SQSMessage) (context.Context, func()) {
	if s.opts.Tracer == nil || len(msgs) == 0 {
		return ctx, func() {}
	}
	spans := make([]trace.Span, len(msgs))
	first := ctx
	for i, m := range msgs {
		var sctx context.Context
		sctx, spans[i] = s.opts.Tracer.StartSend(ctx, ref.name, m)
		if i == 0 {
			first = sctx
		}
	}
	return first, func() {
		for _, sp := range spans {
			sp.End()
		}
	}
}
