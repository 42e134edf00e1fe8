package sqsserver

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Queue attributes are split as the library splits them: VisibilityTimeout, DelaySeconds,
// MessageRetentionPeriod, ReceiveMessageWaitTimeSeconds and the RedrivePolicy's
// maxReceiveCount are the client's own (its ClientOverride); MaximumMessageSize,
// ContentBasedDeduplication, the RedrivePolicy's target and the tags belong to the queue name's
// definition, shared by its clients. The creator's values of all of them become the
// definition's.

// attrSet is the queue attributes a request gave, parsed and checked.
type attrSet struct {
	vis, delay, retention, wait *time.Duration
	maxSize                     *int
	contentDedup                *bool
	redriveGiven                bool
	redrive                     *dynamodbqueue.RedrivePolicy // nil with redriveGiven: remove
	allowGiven                  bool
	allow                       *dynamodbqueue.RedriveAllowPolicy // nil with allowGiven: remove
	dedupScope, throughput      *string
}

// settableAttributes are the names CreateQueue and SetQueueAttributes take.
var settableAttributes = map[string]bool{
	"VisibilityTimeout": true, "DelaySeconds": true, "MessageRetentionPeriod": true,
	"MaximumMessageSize": true, "ReceiveMessageWaitTimeSeconds": true, "RedrivePolicy": true,
	"RedriveAllowPolicy": true, "FifoQueue": true, "ContentBasedDeduplication": true,
	"DeduplicationScope": true, "FifoThroughputLimit": true, "SqsManagedSseEnabled": true,
}

func badAttrValue(name, reason string) *Error {
	return &Error{Code: CodeInvalidAttributeValue, Message: "Invalid value for the parameter " + name + ". Reason: " + reason, Sender: true}
}

func badAttrName(name string) *Error {
	return &Error{Code: CodeInvalidAttributeName, Message: "Unknown Attribute " + name + ".", Sender: true}
}

// parseQueueAttributes checks the attributes of CreateQueue (create) or SetQueueAttributes.
func parseQueueAttributes(given map[string]string, fifo, create bool, client string) (attrSet, error) {
	var a attrSet
	seconds := func(name, v string, lo, hi int) (*time.Duration, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return nil, badAttrValue(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+".")
		}
		d := time.Duration(n) * time.Second
		return &d, nil
	}
	boolean := func(name, v string) (bool, error) {
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, badAttrValue(name, "must be true or false.")
	}
	if create && fifo {
		if given["FifoQueue"] != "true" {
			return a, badAttrValue("FifoQueue", "the name of a FIFO queue ends in .fifo and needs FifoQueue set to true.")
		}
	}
	var err error
	for name, v := range given {
		if !settableAttributes[name] {
			return a, badAttrName(name)
		}
		switch name {
		case "VisibilityTimeout":
			a.vis, err = seconds(name, v, 0, 43200)
		case "DelaySeconds":
			a.delay, err = seconds(name, v, 0, 900)
		case "MessageRetentionPeriod":
			a.retention, err = seconds(name, v, 60, 1209600)
		case "ReceiveMessageWaitTimeSeconds":
			a.wait, err = seconds(name, v, 0, 20)
		case "MaximumMessageSize":
			n, e := strconv.Atoi(v)
			if e != nil || n < 1024 || n > dynamodbqueue.DefaultMaxMessageSize {
				err = badAttrValue(name, "must be an integer from 1024 to "+strconv.Itoa(dynamodbqueue.DefaultMaxMessageSize)+".")
			}
			a.maxSize = &n
		case "RedrivePolicy":
			a.redriveGiven = true
			a.redrive, err = parseRedrivePolicy(v, client)
		case "RedriveAllowPolicy":
			a.allowGiven = true
			a.allow, err = parseRedriveAllowPolicy(v)
		case "FifoQueue":
			var b bool
			if b, err = boolean(name, v); err == nil && b != fifo {
				if create {
					err = badAttrValue(name, "a FIFO queue's name ends in .fifo, and only a FIFO queue's.")
				} else {
					err = badAttrName(name) // fixed at creation
				}
			}
		case "ContentBasedDeduplication":
			if !fifo {
				return a, badAttrName(name)
			}
			var b bool
			b, err = boolean(name, v)
			a.contentDedup = &b
		case "DeduplicationScope":
			if !fifo {
				return a, badAttrName(name)
			}
			// Deduplication is per (queue, client) pair, which is SQS's "queue" scope.
			if v != "queue" && v != "messageGroup" {
				err = badAttrValue(name, "must be queue or messageGroup.")
			}
			a.dedupScope = &v
		case "FifoThroughputLimit":
			if !fifo {
				return a, badAttrName(name)
			}
			if v != "perQueue" && v != "perMessageGroupId" {
				err = badAttrValue(name, "must be perQueue or perMessageGroupId.")
			}
			a.throughput = &v
		case "SqsManagedSseEnabled":
			_, err = boolean(name, v)
		}
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

// parseRedrivePolicy reads {"deadLetterTargetArn": ..., "maxReceiveCount": n}; "" removes the
// policy. The dead-letter queue must be the same client's: each client's dead letters go to
// the same client ID of the target.
func parseRedrivePolicy(v, client string) (*dynamodbqueue.RedrivePolicy, error) {
	if v == "" {
		return nil, nil
	}
	var raw struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, badAttrValue("RedrivePolicy", "not a JSON object.")
	}
	tc, tn, ok := parseQueueARN(raw.Target)
	if !ok {
		return nil, badAttrValue("RedrivePolicy", "deadLetterTargetArn is not a queue ARN.")
	}
	if tc != client {
		return nil, badAttrValue("RedrivePolicy", "the dead-letter queue must belong to the same client ID.")
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.Max), `"`))
	if err != nil || n < 1 || n > 1000 {
		return nil, badAttrValue("RedrivePolicy", "maxReceiveCount must be an integer from 1 to 1000.")
	}
	return &dynamodbqueue.RedrivePolicy{DeadLetterQueue: tn, MaxReceiveCount: n}, nil
}

// parseRedriveAllowPolicy reads {"redrivePermission": allowAll|denyAll|byQueue,
// "sourceQueueArns": [...]} ("" removes the policy): byQueue lists 1 to 10 queue ARNs, the
// others none. The policy is the client's own, like the queue's other per-client attributes.
func parseRedriveAllowPolicy(v string) (*dynamodbqueue.RedriveAllowPolicy, error) {
	if v == "" {
		return nil, nil
	}
	var raw struct {
		Permission string   `json:"redrivePermission"`
		Sources    []string `json:"sourceQueueArns"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, badAttrValue("RedriveAllowPolicy", "not a JSON object.")
	}
	p := &dynamodbqueue.RedriveAllowPolicy{Permission: dynamodbqueue.RedrivePermission(raw.Permission), Sources: raw.Sources}
	switch p.Permission {
	case dynamodbqueue.RedriveAllowAll, dynamodbqueue.RedriveDenyAll:
		if len(p.Sources) > 0 {
			return nil, badAttrValue("RedriveAllowPolicy", "sourceQueueArns is only allowed with redrivePermission byQueue.")
		}
		return p, nil
	case dynamodbqueue.RedriveByQueue:
		if len(p.Sources) == 0 || len(p.Sources) > dynamodbqueue.MaxRedriveAllowSources {
			return nil, badAttrValue("RedriveAllowPolicy", "byQueue needs 1 to 10 sourceQueueArns.")
		}
		for _, arn := range p.Sources {
			if _, _, ok := parseQueueARN(arn); !ok {
				return nil, badAttrValue("RedriveAllowPolicy", arn+" is not a queue ARN.")
			}
		}
		return p, nil
	}
	return nil, badAttrValue("RedriveAllowPolicy", "redrivePermission must be allowAll, denyAll or byQueue.")
}

// redriveAllowJSON renders a policy as GetQueueAttributes returns it.
func redriveAllowJSON(p *dynamodbqueue.RedriveAllowPolicy) string {
	m := map[string]any{"redrivePermission": string(p.Permission)}
	if len(p.Sources) > 0 {
		m["sourceQueueArns"] = p.Sources
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// checkRedriveAllowed refuses a redrive policy of client's queue source whose dead-letter queue
// does not allow it as a source (its RedriveAllowPolicy), as SQS does.
func (s *Server) checkRedriveAllowed(ctx context.Context, client, source string, rp *dynamodbqueue.RedrivePolicy) error {
	if rp == nil {
		return nil
	}
	p, err := s.opts.Client.RedriveAllowPolicy(ctx, rp.DeadLetterQueue, client)
	if err != nil {
		return err
	}
	if !p.Allows(s.queueARN(client, source)) {
		return invalidParam("Value %s for parameter RedrivePolicy is invalid. Reason: the RedriveAllowPolicy of the dead-letter queue %s does not allow this queue as a source queue.",
			s.queueARN(client, rp.DeadLetterQueue), s.queueARN(client, rp.DeadLetterQueue))
	}
	return nil
}

// apply sets the given attributes on a (new queue's) attributes.
func (a attrSet) apply(q dynamodbqueue.QueueAttributes) dynamodbqueue.QueueAttributes {
	set := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	set(&q.VisibilityTimeout, a.vis)
	set(&q.Delay, a.delay)
	set(&q.Retention, a.retention)
	set(&q.ReceiveWaitTime, a.wait)
	if a.maxSize != nil {
		q.MaxMessageSize = *a.maxSize
	}
	if a.contentDedup != nil {
		q.ContentBasedDeduplication = *a.contentDedup
	}
	if a.redriveGiven {
		q.RedrivePolicy = a.redrive
	}
	return q
}

// effective is a client's view of a queue: the definition under its override.
type effective struct {
	vis, delay, retention, wait time.Duration
	maxSize                     int
	contentDedup                bool
	redrive                     *dynamodbqueue.RedrivePolicy
}

func effectiveOf(def dynamodbqueue.QueueDefinition, ovr *dynamodbqueue.ClientOverride) effective {
	e := effective{
		vis: def.VisibilityTimeout, delay: def.Delay, retention: def.Retention, wait: def.ReceiveWaitTime,
		maxSize: def.MaxMessageSize, contentDedup: def.ContentBasedDeduplication,
	}
	if e.vis == 0 {
		e.vis = dynamodbqueue.DefaultVisibilityTimeout
	}
	if e.retention == 0 {
		e.retention = dynamodbqueue.DefaultTTL
	}
	if e.maxSize == 0 {
		e.maxSize = dynamodbqueue.DefaultMaxMessageSize
	}
	if def.RedrivePolicy != nil {
		r := *def.RedrivePolicy
		e.redrive = &r
	}
	if ovr != nil {
		pick := func(dst *time.Duration, v time.Duration) {
			if v != 0 {
				*dst = v
			}
		}
		pick(&e.vis, ovr.VisibilityTimeout)
		pick(&e.delay, ovr.Delay)
		pick(&e.retention, ovr.Retention)
		pick(&e.wait, ovr.ReceiveWaitTime)
		if ovr.MaxReceiveCount != 0 && e.redrive != nil {
			e.redrive.MaxReceiveCount = ovr.MaxReceiveCount
		}
	}
	return e
}

// differs names the first given attribute whose value differs from the queue's: every given
// one for a client of the queue, only the queue-wide ones for a client joining it (its own
// values go into its override).
func (a attrSet) differs(def dynamodbqueue.QueueDefinition, ovr *dynamodbqueue.ClientOverride, joining bool) string {
	e := effectiveOf(def, ovr)
	if !joining {
		switch {
		case a.vis != nil && *a.vis != e.vis:
			return "VisibilityTimeout"
		case a.delay != nil && *a.delay != e.delay:
			return "DelaySeconds"
		case a.retention != nil && *a.retention != e.retention:
			return "MessageRetentionPeriod"
		case a.wait != nil && *a.wait != e.wait:
			return "ReceiveMessageWaitTimeSeconds"
		case a.redriveGiven && a.redrive != nil && e.redrive != nil && a.redrive.MaxReceiveCount != e.redrive.MaxReceiveCount:
			return "RedrivePolicy"
		}
	}
	switch {
	case a.maxSize != nil && *a.maxSize != e.maxSize:
		return "MaximumMessageSize"
	case a.contentDedup != nil && *a.contentDedup != e.contentDedup:
		return "ContentBasedDeduplication"
	case a.redriveGiven && (a.redrive == nil) != (e.redrive == nil):
		return "RedrivePolicy"
	case a.redriveGiven && a.redrive != nil && a.redrive.DeadLetterQueue != e.redrive.DeadLetterQueue:
		return "RedrivePolicy"
	}
	return ""
}

// override is a joining client's override: its values that differ from the definition's.
func (a attrSet) override(def dynamodbqueue.QueueDefinition) dynamodbqueue.ClientOverride {
	return a.mergeOverride(def, dynamodbqueue.ClientOverride{})
}

// mergeOverride replaces o's values with the given per-client attributes; a value equal to the
// definition's is stored as 0 (follow the queue).
func (a attrSet) mergeOverride(def dynamodbqueue.QueueDefinition, o dynamodbqueue.ClientOverride) dynamodbqueue.ClientOverride {
	base := effectiveOf(def, nil)
	set := func(dst *time.Duration, v *time.Duration, queue time.Duration) {
		if v != nil {
			*dst = *v
			if *v == queue {
				*dst = 0
			}
		}
	}
	set(&o.VisibilityTimeout, a.vis, base.vis)
	set(&o.Delay, a.delay, base.delay)
	set(&o.Retention, a.retention, base.retention)
	set(&o.ReceiveWaitTime, a.wait, base.wait)
	if a.redriveGiven && a.redrive != nil && base.redrive != nil {
		o.MaxReceiveCount = a.redrive.MaxReceiveCount
		if o.MaxReceiveCount == base.redrive.MaxReceiveCount {
			o.MaxReceiveCount = 0
		}
	}
	return o
}

func (s *Server) setQueueAttributes(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	given, err := c.in.stringMap("Attributes")
	if err != nil {
		return nil, err
	}
	if len(given) == 0 {
		return nil, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter Attributes.", Sender: true}
	}
	set, err := parseQueueAttributes(given, ref.fifo(), false, ref.client)
	if err != nil {
		return nil, err
	}
	if err := s.checkRedriveAllowed(c.ctx, ref.client, ref.name, set.redrive); err != nil {
		return nil, err
	}
	if set.allowGiven {
		if err := s.opts.Client.SetRedriveAllowPolicy(c.ctx, ref.name, ref.client, set.allow); err != nil {
			return nil, err
		}
	}
	if set.maxSize != nil || set.contentDedup != nil || set.redriveGiven {
		err := s.updateDefinition(c.ctx, ref.name, func(q *dynamodbqueue.QueueAttributes) error {
			if set.maxSize != nil {
				q.MaxMessageSize = *set.maxSize
			}
			if set.contentDedup != nil {
				q.ContentBasedDeduplication = *set.contentDedup
			}
			if set.redriveGiven {
				if set.redrive == nil {
					q.RedrivePolicy = nil
				} else {
					// The target is the name's; the count becomes the client's own below
					// when the queue already had a policy.
					r := *set.redrive
					if q.RedrivePolicy != nil {
						r.MaxReceiveCount = q.RedrivePolicy.MaxReceiveCount
					}
					q.RedrivePolicy = &r
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		d, err := s.opts.Client.GetQueue(c.ctx, ref.name)
		if err != nil {
			return nil, err
		}
		ref.def = &d
	}
	o := set.mergeOverride(*ref.def, *ref.ovr)
	if err := s.opts.Client.SetClientOverride(c.ctx, ref.name, ref.client, &o); err != nil {
		return nil, err
	}
	return obj{}, nil
}

// readableAttributes are the names GetQueueAttributes takes (besides All).
var readableAttributes = []string{
	"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
	"ContentBasedDeduplication", "CreatedTimestamp", "DeduplicationScope", "DelaySeconds", "FifoQueue",
	"FifoThroughputLimit", "LastModifiedTimestamp", "MaximumMessageSize", "MessageRetentionPeriod", "QueueArn",
	"ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "VisibilityTimeout",
}

func (s *Server) getQueueAttributes(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	names, err := c.in.strings("AttributeNames")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		if n == "All" {
			for _, r := range readableAttributes {
				want[r] = true
			}
			continue
		}
		known := false
		for _, r := range readableAttributes {
			known = known || r == n
		}
		if !known {
			return nil, badAttrName(n)
		}
		want[n] = true
	}
	out := map[string]string{}
	e := effectiveOf(*ref.def, ref.ovr)
	secs := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	put := func(name, v string) {
		if want[name] {
			out[name] = v
		}
	}
	if want["ApproximateNumberOfMessages"] || want["ApproximateNumberOfMessagesNotVisible"] || want["ApproximateNumberOfMessagesDelayed"] {
		st, err := ref.q.Stats(c.ctx)
		if err != nil {
			return nil, err
		}
		put("ApproximateNumberOfMessages", strconv.Itoa(st.Visible))
		put("ApproximateNumberOfMessagesNotVisible", strconv.Itoa(st.InFlight))
		put("ApproximateNumberOfMessagesDelayed", strconv.Itoa(st.Delayed))
	}
	put("CreatedTimestamp", strconv.FormatInt(ref.def.Created.Unix(), 10))
	put("LastModifiedTimestamp", strconv.FormatInt(ref.def.Modified.Unix(), 10))
	put("DelaySeconds", secs(e.delay))
	put("MaximumMessageSize", strconv.Itoa(e.maxSize))
	put("MessageRetentionPeriod", secs(e.retention))
	put("ReceiveMessageWaitTimeSeconds", secs(e.wait))
	put("VisibilityTimeout", secs(e.vis))
	put("QueueArn", s.queueARN(ref.client, ref.name))
	put("SqsManagedSseEnabled", "false")
	if want["RedriveAllowPolicy"] {
		p, err := s.opts.Client.RedriveAllowPolicy(c.ctx, ref.name, ref.client)
		if err != nil {
			return nil, err
		}
		if p != nil {
			put("RedriveAllowPolicy", redriveAllowJSON(p))
		}
	}
	if e.redrive != nil {
		b, _ := json.Marshal(map[string]any{"deadLetterTargetArn": s.queueARN(ref.client, e.redrive.DeadLetterQueue), "maxReceiveCount": e.redrive.MaxReceiveCount})
		put("RedrivePolicy", string(b))
	}
	if ref.fifo() {
		put("FifoQueue", "true")
		put("ContentBasedDeduplication", strconv.FormatBool(e.contentDedup))
		put("DeduplicationScope", "queue")
		put("FifoThroughputLimit", "perQueue")
	}
	if len(out) == 0 {
		return obj{}, nil
	}
	return obj{}.addx("Attributes", "Attribute", kvMap{m: out, key: "Name", value: "Value"}), nil
}
