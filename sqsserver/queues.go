package sqsserver

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// queueRef is a queue a request acts on: its pair, its handle and what the definition cache
// says about it.
type queueRef struct {
	client, name string
	q            *dynamodbqueue.DynamoDBQueue
	def          *dynamodbqueue.QueueDefinition
	ovr          *dynamodbqueue.ClientOverride
}

func (r *queueRef) fifo() bool { return strings.HasSuffix(r.name, ".fifo") }

// baseURL is the scheme and host queue URLs are built on.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != nil {
		return strings.TrimSuffix(s.opts.BaseURL(r), "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) queueURL(c *call, client, name string) string {
	return s.baseURL(c.r) + "/" + url.PathEscape(client) + "/" + url.PathEscape(name)
}

func (s *Server) queueARN(client, name string) string {
	return "arn:aws:sqs:" + s.opts.Region + ":" + client + ":" + name
}

var errNoQueue = &Error{Code: CodeNonExistentQueue, Message: "The specified queue does not exist.", Sender: true}

func accessDenied(what string) *Error {
	return &Error{Code: CodeAccessDenied, Message: "Access to the resource " + what + " is denied.", Sender: true}
}

// parseQueueURL splits a queue URL into client ID and queue name: its last two path segments.
func parseQueueURL(raw string) (client, name string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", "", false
	}
	client, name = segs[len(segs)-2], segs[len(segs)-1]
	if dynamodbqueue.ValidateName(client) != nil || dynamodbqueue.ValidateName(name) != nil {
		return "", "", false
	}
	return client, name, true
}

// parseQueueARN splits arn:aws:sqs:<region>:<clientID>:<queueName>.
func parseQueueARN(arn string) (client, name string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return "", "", false
	}
	if dynamodbqueue.ValidateName(parts[4]) != nil || dynamodbqueue.ValidateName(parts[5]) != nil {
		return "", "", false
	}
	return parts[4], parts[5], true
}

// queue resolves the request's QueueUrl: the principal must be allowed the client ID (checked
// before anything is read, so another tenant's queue is AccessDenied whether it exists or
// not), and the queue must exist for that client.
func (s *Server) queue(c *call) (*queueRef, error) {
	if !c.json && !c.in.has("QueueUrl") && strings.Count(strings.Trim(c.r.URL.Path, "/"), "/") == 1 {
		// Older query-protocol clients post to the queue URL itself instead of naming it.
		c.in["QueueUrl"] = s.baseURL(c.r) + c.r.URL.Path
	}
	raw, err := c.in.required("QueueUrl")
	if err != nil {
		return nil, err
	}
	client, name, ok := parseQueueURL(raw)
	if !ok {
		return nil, &Error{Code: CodeNonExistentQueue, Message: "The specified queue does not exist.", Sender: true}
	}
	return s.openQueue(c, client, name, raw)
}

func (s *Server) openQueue(c *call, client, name, what string) (*queueRef, error) {
	if !c.principal.Allows(client) {
		return nil, accessDenied(what)
	}
	q, err := s.opts.Client.Queue(name, client)
	if err != nil {
		return nil, errNoQueue
	}
	def, ovr, err := q.Definition(c.ctx)
	if err != nil {
		return nil, err
	}
	// A queue exists for a client when its name is defined and the client joined it
	// (CreateQueue through this endpoint stores the client's override, possibly empty).
	if def == nil || ovr == nil {
		// The cache may predate a CreateQueue served by another process: a "no" is read
		// again from the table before it is answered (a "yes" may be stale by the cache's
		// staleness, as in SQS, where a deleted queue lingers for a while).
		if def, ovr, err = s.readMembership(c.ctx, name, client); err != nil {
			return nil, err
		}
		if def == nil || ovr == nil {
			return nil, errNoQueue
		}
	}
	return &queueRef{client: client, name: name, q: q, def: def, ovr: ovr}, nil
}

// readMembership reads the definition of name and client's override from the table (strongly
// consistent), bypassing the cache; nil when absent.
func (s *Server) readMembership(ctx context.Context, name, client string) (*dynamodbqueue.QueueDefinition, *dynamodbqueue.ClientOverride, error) {
	d, err := s.opts.Client.GetQueue(ctx, name)
	if errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	ovr, err := s.opts.Client.ClientOverride(ctx, name, client)
	if err != nil {
		return nil, nil, err
	}
	return &d, ovr, nil
}

// ownerClient is the client ID CreateQueue, GetQueueUrl and ListQueues act for.
func (s *Server) ownerClient(c *call) (string, error) {
	owner, err := c.in.str("QueueOwnerAWSAccountId")
	if err != nil {
		return "", err
	}
	if owner == "" {
		switch {
		case len(c.principal.ClientIDs) > 0:
			owner = c.principal.ClientIDs[0]
		case s.opts.DefaultClientID != "":
			owner = s.opts.DefaultClientID
		default:
			owner = "default"
		}
	}
	if dynamodbqueue.ValidateName(owner) != nil {
		return "", invalidParam("QueueOwnerAWSAccountId %q is not a valid client ID.", owner)
	}
	if !c.principal.Allows(owner) {
		return "", accessDenied("of client " + owner)
	}
	return owner, nil
}

// validQueueName checks SQS's rule: 1..80 of A-Z a-z 0-9 - _, a FIFO queue's name ending in
// .fifo (counted in the 80).
func validQueueName(name string) bool {
	base := strings.TrimSuffix(name, ".fifo")
	if base == "" || len(name) > 80 {
		return false
	}
	for i := 0; i < len(base); i++ {
		ch := base[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

func (s *Server) createQueue(c *call) (obj, error) {
	client, err := s.ownerClient(c)
	if err != nil {
		return nil, err
	}
	name, err := c.in.required("QueueName")
	if err != nil {
		return nil, err
	}
	if !validQueueName(name) {
		return nil, invalidParam("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	fifo := strings.HasSuffix(name, ".fifo")
	given, err := c.in.stringMap("Attributes")
	if err != nil {
		return nil, err
	}
	tags, err := c.in.stringMap("Tags")
	if err != nil {
		return nil, err
	}
	if tags == nil { // CreateQueue's JSON member is lower case
		if tags, err = c.in.stringMap("tags"); err != nil {
			return nil, err
		}
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	set, err := parseQueueAttributes(given, fifo, true, client)
	if err != nil {
		return nil, err
	}
	if err := s.checkRedriveAllowed(c.ctx, client, name, set.redrive); err != nil {
		return nil, err
	}
	// Read from the table, not the cache: another process may have just deleted or created it.
	def, ovr, err := s.readMembership(c.ctx, name, client)
	if err != nil {
		return nil, err
	}
	url := obj{}.add("QueueUrl", s.queueURL(c, client, name))
	if def == nil {
		attrs := set.apply(dynamodbqueue.QueueAttributes{})
		attrs.Tags = tags
		_, err := s.opts.Client.CreateQueue(c.ctx, name, attrs)
		if err != nil && !errors.Is(err, dynamodbqueue.ErrQueueAttributesMismatch) {
			return nil, err
		}
		if err == nil {
			if err := s.opts.Client.SetClientOverride(c.ctx, name, client, &dynamodbqueue.ClientOverride{}); err != nil {
				return nil, err
			}
			return url, s.setAllowPolicy(c, name, client, set)
		}
		// Another request defined the name meanwhile: join it like an existing one.
		if d, err := s.opts.Client.GetQueue(c.ctx, name); err == nil {
			def = &d
		} else {
			return nil, err
		}
		ovr = nil
	}
	if diff := set.differs(*def, ovr, ovr == nil); diff != "" {
		return nil, &Error{Code: CodeQueueAlreadyExists, Message: "A queue already exists with the same name and a different value for attribute " + diff + ".", Sender: true}
	}
	if ovr == nil {
		o := set.override(*def)
		if err := s.opts.Client.SetClientOverride(c.ctx, name, client, &o); err != nil {
			return nil, err
		}
		return url, s.setAllowPolicy(c, name, client, set)
	}
	return url, nil
}

// setAllowPolicy stores the RedriveAllowPolicy a CreateQueue gave, for the client that joined.
func (s *Server) setAllowPolicy(c *call, name, client string, set attrSet) error {
	if !set.allowGiven {
		return nil
	}
	return s.opts.Client.SetRedriveAllowPolicy(c.ctx, name, client, set.allow)
}

func (s *Server) deleteQueue(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	// The client leaves the queue: its messages go, then its membership. The definition stays
	// for the name's other clients.
	if err := ref.q.Purge(c.ctx); err != nil {
		return nil, err
	}
	if err := s.opts.Client.SetRedriveAllowPolicy(c.ctx, ref.name, ref.client, nil); err != nil {
		return nil, err
	}
	if err := s.opts.Client.SetClientOverride(c.ctx, ref.name, ref.client, nil); err != nil {
		return nil, err
	}
	return obj{}, nil
}

func (s *Server) getQueueURL(c *call) (obj, error) {
	client, err := s.ownerClient(c)
	if err != nil {
		return nil, err
	}
	name, err := c.in.required("QueueName")
	if err != nil {
		return nil, err
	}
	if dynamodbqueue.ValidateName(name) != nil {
		return nil, errNoQueue
	}
	if _, err := s.openQueue(c, client, name, name); err != nil {
		return nil, err
	}
	return obj{}.add("QueueUrl", s.queueURL(c, client, name)), nil
}

// pageSize reads MaxResults (1..1000); 0 when not given.
func pageSize(c *call) (int, error) {
	n, ok, err := c.in.integer("MaxResults")
	if err != nil || !ok {
		return 0, err
	}
	if n < 1 || n > 1000 {
		return 0, invalidParam("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 1000.", n)
	}
	return int(n), nil
}

func (s *Server) listQueues(c *call) (obj, error) {
	client, err := s.ownerClient(c)
	if err != nil {
		return nil, err
	}
	prefix, err := c.in.str("QueueNamePrefix")
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(c)
	if err != nil {
		return nil, err
	}
	cursor, err := c.in.str("NextToken")
	if err != nil {
		return nil, err
	}
	want := limit
	if want == 0 {
		want = 1000
	}
	var urls list
	for len(urls) < want {
		page, err := s.opts.Client.ListQueues(c.ctx, dynamodbqueue.ListQueuesOptions{Prefix: prefix, Limit: want - len(urls), Cursor: cursor})
		if err != nil {
			if errors.Is(err, dynamodbqueue.ErrInvalidArgument) {
				return nil, invalidParam("Invalid NextToken.")
			}
			return nil, err
		}
		for _, d := range page.Queues {
			if _, err := s.openQueue(c, client, d.Name, d.Name); err == nil {
				urls = append(urls, s.queueURL(c, client, d.Name))
			} else if !isCode(err, CodeNonExistentQueue) {
				return nil, err
			}
		}
		cursor = page.Cursor
		if cursor == "" {
			break
		}
	}
	out := obj{}.addx("QueueUrls", "QueueUrl", urls)
	if limit > 0 && cursor != "" {
		out = out.add("NextToken", cursor)
	}
	return out, nil
}

func isCode(err error, code string) bool {
	var ec ErrorCoder
	return errors.As(err, &ec) && ec.ErrorCode() == code
}

func (s *Server) purgeQueue(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	var now time.Time
	if s.opts.Now != nil {
		now = s.opts.Now()
	}
	err = ref.q.PurgeAtMostEvery(c.ctx, purgeInterval, now)
	if errors.Is(err, dynamodbqueue.ErrPurgeInProgress) {
		return nil, &Error{Code: CodePurgeQueueInProgress, Sender: true,
			Message: "Only one PurgeQueue operation on " + ref.name + " is allowed every 60 seconds."}
	}
	return obj{}, err
}

// purgeInterval is how often SQS lets a queue be purged.
const purgeInterval = 60 * time.Second

func (s *Server) listDeadLetterSourceQueues(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(c)
	if err != nil {
		return nil, err
	}
	start := 0
	if tok, _ := c.in.str("NextToken"); tok != "" {
		if start, err = strconv.Atoi(tok); err != nil || start < 0 {
			return nil, invalidParam("Invalid NextToken.")
		}
	}
	names, err := s.opts.Client.ListDeadLetterSourceQueues(c.ctx, ref.name)
	if err != nil {
		return nil, err
	}
	var urls list
	next := ""
	for i := start; i < len(names); i++ {
		if limit > 0 && len(urls) == limit {
			next = strconv.Itoa(i)
			break
		}
		if _, err := s.openQueue(c, ref.client, names[i], names[i]); err == nil {
			urls = append(urls, s.queueURL(c, ref.client, names[i]))
		}
	}
	out := obj{}.addx("queueUrls", "QueueUrl", urls)
	if next != "" {
		out = out.add("NextToken", next)
	}
	return out, nil
}

// Tags belong to the queue name's definition, shared by its clients.
func validateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return invalidParam("Too many tags: at most 50 are allowed.")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return invalidParam("Tag keys must be 1..128 characters and values at most 256.")
		}
	}
	return nil
}

// updateDefinition applies fn to the stored definition, conditional on its version, and
// retries when another writer got in between.
func (s *Server) updateDefinition(ctx context.Context, name string, fn func(*dynamodbqueue.QueueAttributes) error) error {
	for {
		d, err := s.opts.Client.GetQueue(ctx, name)
		if err != nil {
			return err
		}
		attrs := d.QueueAttributes
		if err := fn(&attrs); err != nil {
			return err
		}
		_, err = s.opts.Client.UpdateQueue(ctx, name, attrs, d.Version)
		if !errors.Is(err, dynamodbqueue.ErrVersionConflict) {
			return err
		}
	}
}

func (s *Server) tagQueue(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	tags, err := c.in.stringMap("Tags")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter Tags.", Sender: true}
	}
	return obj{}, s.updateDefinition(c.ctx, ref.name, func(a *dynamodbqueue.QueueAttributes) error {
		merged := maps.Clone(a.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if err := validateTags(merged); err != nil {
			return err
		}
		a.Tags = merged
		return nil
	})
}

func (s *Server) untagQueue(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	keys, err := c.in.strings("TagKeys")
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter TagKeys.", Sender: true}
	}
	return obj{}, s.updateDefinition(c.ctx, ref.name, func(a *dynamodbqueue.QueueAttributes) error {
		merged := maps.Clone(a.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		for _, k := range keys {
			delete(merged, k)
		}
		a.Tags = merged
		return nil
	})
}

func (s *Server) listQueueTags(c *call) (obj, error) {
	ref, err := s.queue(c)
	if err != nil {
		return nil, err
	}
	d, err := s.opts.Client.GetQueue(c.ctx, ref.name)
	if err != nil {
		return nil, err
	}
	if len(d.Tags) == 0 {
		return obj{}, nil
	}
	return obj{}.addx("Tags", "Tag", kvMap{m: d.Tags, key: "Key", value: "Value"}), nil
}
