package sqsserver

// Error is an SQS error: its code as the query protocol spells it, a message, and whether the
// sender is at fault. The JSON protocol's __type is derived from the code (see jsonType).
type Error struct {
	// Code is the query-protocol code, e.g. "AWS.SimpleQueueService.NonExistentQueue".
	Code string
	// Message is the human-readable text.
	Message string
	// Sender is true for the client's faults (4xx), false for the server's (5xx).
	Sender bool
	// Status overrides the HTTP status (0: SQS's status for Code).
	Status int
}

// Error returns the code and message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorCode returns the query-protocol code.
func (e *Error) ErrorCode() string { return e.Code }

// SenderFault reports whether the sender is at fault.
func (e *Error) SenderFault() bool { return e.Sender }

// HTTPStatus returns the status the response carries.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return statusOf(e.Code, e.Sender)
}

// SQS error codes, as the query protocol and the x-amzn-query-error header spell them.
const (
	CodeAccessDenied             = "AccessDenied"
	CodeInvalidClientTokenID     = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch    = "SignatureDoesNotMatch"
	CodeRequestExpired           = "RequestExpired"
	CodeIncompleteSignature      = "IncompleteSignature"
	CodeMissingAuthToken         = "MissingAuthenticationToken"
	CodeUnsupportedOperation     = "AWS.SimpleQueueService.UnsupportedOperation"
	CodeInvalidAction            = "InvalidAction"
	CodeNonExistentQueue         = "AWS.SimpleQueueService.NonExistentQueue"
	CodeQueueAlreadyExists       = "QueueAlreadyExists"
	CodeInvalidParameterValue    = "InvalidParameterValue"
	CodeMissingParameter         = "MissingParameter"
	CodeInvalidAttributeName     = "InvalidAttributeName"
	CodeInvalidAttributeValue    = "InvalidAttributeValue"
	CodeInvalidMessageContents   = "InvalidMessageContents"
	CodeReceiptHandleIsInvalid   = "ReceiptHandleIsInvalid"
	CodeMessageNotInflight       = "AWS.SimpleQueueService.MessageNotInflight"
	CodeEmptyBatchRequest        = "AWS.SimpleQueueService.EmptyBatchRequest"
	CodeTooManyEntriesInBatch    = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
	CodeBatchEntryIdsNotDistinct = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
	CodeInvalidBatchEntryID      = "AWS.SimpleQueueService.InvalidBatchEntryId"
	CodeBatchRequestTooLong      = "AWS.SimpleQueueService.BatchRequestTooLong"
	CodeResourceNotFound         = "ResourceNotFoundException"
	CodePurgeQueueInProgress     = "AWS.SimpleQueueService.PurgeQueueInProgress"
	CodeRequestThrottled         = "RequestThrottled"
	CodeInternalError            = "InternalError"
	CodeServiceUnavailable       = "ServiceUnavailable"
	CodeRequestTooLarge          = "RequestEntityTooLarge"
)

// statusOf is SQS's HTTP status for a code.
func statusOf(code string, sender bool) int {
	switch code {
	case CodeAccessDenied, CodeInvalidClientTokenID, CodeSignatureDoesNotMatch, CodeRequestExpired,
		CodeMissingAuthToken:
		return 403
	case CodeRequestTooLarge:
		return 413
	case CodeServiceUnavailable:
		return 503
	}
	if sender {
		return 400
	}
	return 500
}
