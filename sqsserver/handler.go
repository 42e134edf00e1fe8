package sqsserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dynamodbqueue/dynamodbqueue"
)

// xmlNS is the namespace of the query protocol's responses.
const xmlNS = "http://queue.amazonaws.com/doc/2012-11-05/"

// jsonContentType is the AWS JSON 1.0 media type.
const jsonContentType = "application/x-amz-json-1.0"

// call is one request being served.
type call struct {
	ctx       context.Context
	r         *http.Request
	json      bool // AWS JSON 1.0; else the query protocol
	action    string
	in        params
	principal Principal
	requestID string
}

// actionFunc serves one action: its result members, or an error.
type actionFunc func(s *Server, c *call) (obj, error)

// actions are the served actions. Any other name is UnsupportedOperation.
var actions map[string]actionFunc

// knownActions are SQS's actions that are not served: they get UnsupportedOperation under their
// own name in the metrics, other names are counted as UnknownAction.
var knownActions = map[string]bool{"AddPermission": true, "RemovePermission": true}

func init() {
	actions = map[string]actionFunc{
		"CreateQueue":                  (*Server).createQueue,
		"DeleteQueue":                  (*Server).deleteQueue,
		"GetQueueUrl":                  (*Server).getQueueURL,
		"ListQueues":                   (*Server).listQueues,
		"GetQueueAttributes":           (*Server).getQueueAttributes,
		"SetQueueAttributes":           (*Server).setQueueAttributes,
		"PurgeQueue":                   (*Server).purgeQueue,
		"TagQueue":                     (*Server).tagQueue,
		"UntagQueue":                   (*Server).untagQueue,
		"ListQueueTags":                (*Server).listQueueTags,
		"ListDeadLetterSourceQueues":   (*Server).listDeadLetterSourceQueues,
		"SendMessage":                  (*Server).sendMessage,
		"SendMessageBatch":             (*Server).sendMessageBatch,
		"ReceiveMessage":               (*Server).receiveMessage,
		"DeleteMessage":                (*Server).deleteMessage,
		"DeleteMessageBatch":           (*Server).deleteMessageBatch,
		"ChangeMessageVisibility":      (*Server).changeMessageVisibility,
		"ChangeMessageVisibilityBatch": (*Server).changeMessageVisibilityBatch,
		"StartMessageMoveTask":         (*Server).startMessageMoveTask,
		"CancelMessageMoveTask":        (*Server).cancelMessageMoveTask,
		"ListMessageMoveTasks":         (*Server).listMessageMoveTasks,
	}
}

// ServeHTTP answers one SQS request in the protocol it was sent in.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{ctx: r.Context(), r: r, requestID: uuid.NewString()}
	res, err := s.serve(w, c)
	code := ""
	if err != nil {
		var ec ErrorCoder
		if !errors.As(err, &ec) {
			ec = s.internal(c, err)
		}
		code = ec.ErrorCode()
		s.writeError(w, c, ec)
	} else {
		s.writeResult(w, c, res)
	}
	if s.opts.Metrics != nil {
		name := c.action
		if actions[name] == nil && !knownActions[name] {
			name = UnknownAction
		}
		s.opts.Metrics.Request(name, code, time.Since(start))
	}
}

// serve reads, authenticates and dispatches the request.
func (s *Server) serve(w http.ResponseWriter, c *call) (obj, error) {
	r := c.r
	target := r.Header.Get("X-Amz-Target")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	// The protocol is known from the headers, so even a body refused as too large is answered
	// in the client's protocol.
	c.json = target != "" || ct == jsonContentType
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Code: CodeRequestTooLarge, Message: "The request is larger than the server accepts.", Sender: true}
		}
		return nil, &Error{Code: CodeInvalidParameterValue, Message: "The request body could not be read.", Sender: true}
	}
	switch {
	case c.json:
		name, ok := strings.CutPrefix(target, "AmazonSQS.")
		if !ok {
			return nil, &Error{Code: CodeInvalidAction, Message: "The X-Amz-Target header must name an AmazonSQS action.", Sender: true}
		}
		c.action = name
	default:
		form := r.URL.Query()
		if r.Method == http.MethodPost {
			if ct != "" && ct != "application/x-www-form-urlencoded" {
				return nil, &Error{Code: CodeInvalidParameterValue, Message: "Unsupported Content-Type " + ct + ".", Sender: true}
			}
			bodyForm, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, &Error{Code: CodeInvalidParameterValue, Message: "The request body is not form-encoded.", Sender: true}
			}
			for k, v := range bodyForm {
				form[k] = append(form[k], v...)
			}
		} else if r.Method != http.MethodGet {
			return nil, &Error{Code: CodeInvalidAction, Message: "Only POST (and GET for the query protocol) is served.", Sender: true, Status: http.StatusMethodNotAllowed}
		}
		c.action = form.Get("Action")
		if c.action == "" {
			return nil, &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter Action.", Sender: true}
		}
		in, err := fromForm(form)
		if err != nil {
			return nil, invalidParam("%v", err)
		}
		c.in = in
	}
	// Authentication comes before anything about the action, so an unsigned client learns
	// nothing, not even which actions exist.
	if s.opts.Auth != nil {
		p, err := s.opts.Auth.Authenticate(r, body)
		if err != nil {
			var ec ErrorCoder
			if errors.As(err, &ec) {
				return nil, err
			}
			return nil, &Error{Code: CodeInvalidClientTokenID, Message: "The security token included in the request is invalid.", Sender: true}
		}
		c.principal = p
	} else {
		c.principal = Principal{Admin: true}
	}
	fn := actions[c.action]
	if fn == nil {
		return nil, &Error{Code: CodeUnsupportedOperation, Message: "The action " + c.action + " is not supported by this endpoint.", Sender: true}
	}
	if c.json {
		in, err := fromJSON(body)
		if err != nil {
			return nil, &Error{Code: "SerializationException", Message: err.Error(), Sender: true}
		}
		c.in = in
	}
	return fn(s, c)
}

// internal logs an unexpected error and turns it into SQS's error, classified by the root
// package: a sender fault keeps its message, anything else is an InternalError that reveals
// nothing of the cause.
func (s *Server) internal(c *call, err error) *Error {
	if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		return &Error{Code: "RequestCanceled", Message: "The request was canceled.", Sender: true, Status: 499}
	}
	if errors.Is(err, dynamodbqueue.ErrQueueDoesNotExist) {
		return errNoQueue
	}
	switch dynamodbqueue.Classify(err) {
	case dynamodbqueue.ClassTransient:
		s.logger.WarnContext(c.ctx, "sqsserver: DynamoDB is unavailable", "action", c.action, "request_id", c.requestID, "error", err)
		return &Error{Code: CodeServiceUnavailable, Message: "The service is unavailable; try again.", Sender: false}
	case dynamodbqueue.ClassInvalid:
		return invalidParam("%s", trimPrefix(err.Error()))
	}
	s.logger.ErrorContext(c.ctx, "sqsserver: internal error", "action", c.action, "request_id", c.requestID, "error", err)
	return &Error{Code: CodeInternalError, Message: "We encountered an internal error. Please try again.", Sender: false}
}

// trimPrefix drops the library's "dynamodbqueue: " prefixes from a message shown to clients.
func trimPrefix(s string) string { return strings.ReplaceAll(s, "dynamodbqueue: ", "") }

func (s *Server) writeResult(w http.ResponseWriter, c *call, res obj) {
	var b bytes.Buffer
	h := w.Header()
	h.Set("x-amzn-RequestId", c.requestID)
	if c.json {
		h.Set("Content-Type", jsonContentType)
		writeJSON(&b, res)
	} else {
		h.Set("Content-Type", "text/xml")
		b.WriteString(`<?xml version="1.0"?><` + c.action + `Response xmlns="` + xmlNS + `">`)
		if len(res) > 0 || !noResult[c.action] {
			// An action with an output always has its Result element, even empty: clients
			// read their members from it.
			b.WriteString("<" + c.action + "Result>")
			writeXML(&b, res)
			b.WriteString("</" + c.action + "Result>")
		}
		b.WriteString("<ResponseMetadata><RequestId>" + c.requestID + "</RequestId></ResponseMetadata></" + c.action + "Response>")
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) writeError(w http.ResponseWriter, c *call, e ErrorCoder) {
	status := 0
	if hs, ok := e.(interface{ HTTPStatus() int }); ok {
		status = hs.HTTPStatus()
	}
	if status == 0 {
		status = statusOf(e.ErrorCode(), e.SenderFault())
	}
	msg := e.Error()
	if se, ok := e.(*Error); ok {
		msg = se.Message
	}
	fault := "Sender"
	if !e.SenderFault() {
		fault = "Receiver"
	}
	if e.SenderFault() {
		s.logger.DebugContext(c.ctx, "sqsserver: request refused", "action", c.action, "code", e.ErrorCode(), "request_id", c.requestID, "message", msg)
	}
	var b bytes.Buffer
	h := w.Header()
	h.Set("x-amzn-RequestId", c.requestID)
	if c.json {
		h.Set("Content-Type", jsonContentType)
		h.Set("x-amzn-query-error", e.ErrorCode()+";"+fault)
		writeJSON(&b, obj{}.add("__type", "com.amazonaws.sqs#"+jsonShape(e.ErrorCode())).add("message", msg))
	} else {
		h.Set("Content-Type", "text/xml")
		b.WriteString(`<?xml version="1.0"?><ErrorResponse xmlns="` + xmlNS + `">`)
		writeXMLElem(&b, "Error", obj{}.add("Type", fault).add("Code", e.ErrorCode()).add("Message", msg).add("Detail", ""))
		b.WriteString("<RequestId>" + c.requestID + "</RequestId></ErrorResponse>")
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// noResult are the actions without an output: their query-protocol response has only the
// ResponseMetadata.
var noResult = map[string]bool{
	"DeleteMessage": true, "DeleteQueue": true, "SetQueueAttributes": true, "PurgeQueue": true,
	"TagQueue": true, "UntagQueue": true, "ChangeMessageVisibility": true,
}

// jsonShape is the JSON protocol's error shape for a query-protocol code: the modelled SQS
// errors drop the legacy prefix (two are renamed), the common AWS errors keep their code.
func jsonShape(code string) string {
	switch code {
	case CodeNonExistentQueue:
		return "QueueDoesNotExist"
	case CodeQueueAlreadyExists:
		return "QueueNameExists"
	}
	return strings.TrimPrefix(code, "AWS.SimpleQueueService.")
}
