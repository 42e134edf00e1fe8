package webui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// Every action is a POST that passed authed (login, CSRF token, not read-only), is confirmed
// (see confirm), and then redirects to a page that shows its outcome.

// formInt reads an optional non-negative integer field.
func formInt(r *http.Request, name string) (int, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q is not a non-negative number", dynamodbqueue.ErrInvalidArgument, name, v)
	}
	return n, nil
}

// formAttributes reads the queue attributes of the create and edit forms into attrs.
func formAttributes(r *http.Request, attrs *dynamodbqueue.QueueAttributes) error {
	secs := func(name string, dst *time.Duration) error {
		if r.PostForm.Get(name) == "" {
			return nil
		}
		n, err := formInt(r, name)
		*dst = time.Duration(n) * time.Second
		return err
	}
	if err := secs("visibility", &attrs.VisibilityTimeout); err != nil {
		return err
	}
	if err := secs("delay", &attrs.Delay); err != nil {
		return err
	}
	if err := secs("retention", &attrs.Retention); err != nil {
		return err
	}
	if r.PostForm.Get("shards") != "" {
		n, err := formInt(r, "shards")
		if err != nil {
			return err
		}
		attrs.Shards = n
	}
	dlq := strings.TrimSpace(r.PostForm.Get("dlq"))
	maxReceives, err := formInt(r, "max_receives")
	if err != nil {
		return err
	}
	switch {
	case dlq == "" && maxReceives == 0:
		attrs.RedrivePolicy = nil
	case maxReceives == 0:
		return fmt.Errorf("%w: a dead-letter queue needs a max receive count", dynamodbqueue.ErrInvalidArgument)
	default:
		attrs.RedrivePolicy = &dynamodbqueue.RedrivePolicy{DeadLetterQueue: dlq, MaxReceiveCount: maxReceives}
	}
	return nil
}

func (h *Handler) adminOnly(w http.ResponseWriter, r *http.Request, who *principal) bool {
	if !who.admin {
		h.fail(w, r, http.StatusForbidden, "only an administrator may create, change or delete queue definitions: they apply to every tenant")
		return false
	}
	return true
}

func (h *Handler) createQueue(w http.ResponseWriter, r *http.Request, who *principal) {
	if !h.adminOnly(w, r, who) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var attrs dynamodbqueue.QueueAttributes
	if err := formAttributes(r, &attrs); err != nil {
		h.failErr(w, r, err)
		return
	}
	if err := dynamodbqueue.ValidateName(name); err != nil {
		h.failErr(w, r, err)
		return
	}
	if !h.confirm(w, r, who, "Create queue "+name+"?") {
		return
	}
	if _, err := h.client.CreateQueue(r.Context(), name, attrs); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.redirect(w, r, h.link("queues", name), "created queue "+name)
}

func (h *Handler) updateQueue(w http.ResponseWriter, r *http.Request, who *principal) {
	if !h.adminOnly(w, r, who) {
		return
	}
	name := r.PathValue("queue")
	def, err := h.client.GetQueue(r.Context(), name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	version, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "missing definition version")
		return
	}
	attrs := def.QueueAttributes
	if err := formAttributes(r, &attrs); err != nil {
		h.failErr(w, r, err)
		return
	}
	if !h.confirm(w, r, who, "Change the definition of queue "+name+" (every tenant)?") {
		return
	}
	// Conditional on the version the form showed: a concurrent edit is a conflict, not lost.
	if _, err := h.client.UpdateQueue(r.Context(), name, attrs, version); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.redirect(w, r, h.link("queues", name), "saved the definition of "+name)
}

func (h *Handler) deleteQueue(w http.ResponseWriter, r *http.Request, who *principal) {
	if !h.adminOnly(w, r, who) {
		return
	}
	name := r.PathValue("queue")
	if !h.confirm(w, r, who, "Delete queue "+name+" and the messages of all its tenants?") {
		return
	}
	if err := h.client.DeleteQueue(r.Context(), name); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.opts.Prefix+"/", "deleted queue "+name)
}

func (h *Handler) tenantLink(q *dynamodbqueue.DynamoDBQueue) string {
	return h.link("queues", q.QueueName(), "tenants", q.ClientID())
}

func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	m := events.SQSMessage{Body: r.PostForm.Get("body")}
	if g := strings.TrimSpace(r.PostForm.Get("group")); g != "" {
		m.Attributes = map[string]string{dynamodbqueue.AttributeMessageGroupID: g}
	}
	delay, err := formInt(r, "delay")
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	if err := dynamodbqueue.ValidateMessage(m); err != nil {
		h.failErr(w, r, err)
		return
	}
	if !h.confirm(w, r, who, fmt.Sprintf("Send a test message to %s / %s?", q.QueueName(), q.ClientID())) {
		return
	}
	res, err := q.SendMessages(r.Context(), dynamodbqueue.PushOptions{Delay: time.Duration(delay) * time.Second}, m)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.tenantLink(q), "sent message "+res[0].MessageID)
}

func (h *Handler) purge(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	if !h.confirm(w, r, who, fmt.Sprintf("Purge every message of %s / %s (not its dead letters)?", q.QueueName(), q.ClientID())) {
		return
	}
	if err := q.Purge(r.Context()); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.tenantLink(q), "purged "+q.QueueName()+" / "+q.ClientID())
}

func (h *Handler) redrive(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	if _, has := q.DeadLetterTarget(r.Context()); !has {
		h.failErr(w, r, dynamodbqueue.ErrNoDeadLetterQueue)
		return
	}
	ids := r.PostForm["id"]
	question := fmt.Sprintf("Send every dead letter of %s / %s back to the queue?", q.QueueName(), q.ClientID())
	if r.PostForm.Get("mode") == "selected" {
		if len(ids) == 0 {
			h.fail(w, r, http.StatusBadRequest, "no dead letter selected")
			return
		}
		question = fmt.Sprintf("Send %s of %s / %s back to the queue?", plural(len(ids), "dead letter"), q.QueueName(), q.ClientID())
	} else {
		ids = nil
	}
	if !h.confirm(w, r, who, question) {
		return
	}
	total := 0
	if len(ids) == 0 {
		st, err := q.Stats(r.Context())
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		total = st.DeadLettered
	}
	j := h.startRedrive(q, ids, total)
	http.Redirect(w, r, h.link("jobs", j.id), http.StatusSeeOther)
}

func (h *Handler) deleteMessage(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !h.confirm(w, r, who, "Delete message "+id+"?") {
		return
	}
	if err := q.Inspector().DeleteMessage(r.Context(), id); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.tenantLink(q), "deleted message "+id)
}

func (h *Handler) changeVisibility(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	id := r.PathValue("id")
	secs, err := formInt(r, "seconds")
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	if !h.confirm(w, r, who, fmt.Sprintf("Make message %s visible in %d s?", id, secs)) {
		return
	}
	if err := q.Inspector().ChangeVisibility(r.Context(), id, time.Duration(secs)*time.Second); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.link("queues", q.QueueName(), "tenants", q.ClientID(), "messages", id), "visibility changed")
}

func (h *Handler) redriveMessage(w http.ResponseWriter, r *http.Request, who *principal) {
	q, ok := h.pair(w, r, who)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !h.confirm(w, r, who, "Send dead letter "+id+" back to the queue?") {
		return
	}
	if err := q.Inspector().RedriveMessage(r.Context(), id); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.sampler.poke()
	h.redirect(w, r, h.tenantLink(q), "redrove message "+id)
}
