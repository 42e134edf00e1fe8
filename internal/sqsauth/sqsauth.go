// Package sqsauth is the sqsserver.Authenticator of `ddbq serve`: it verifies each request's
// SigV4 signature (internal/sigv4) against the access keys of a key file (internal/keyfile),
// and returns the key's principal, an admin or a key confined to its client IDs.
package sqsauth

import (
	"net/http"
	"slices"
	"time"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sigv4"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver"
)

// Service is the service name SQS clients sign for.
const Service = "sqs"

// Authenticator verifies SigV4 signatures against a fixed set of keys.
type Authenticator struct {
	keys     *keyfile.Keys
	verifier sigv4.Verifier
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithClock sets the clock signing times are checked against (tests; default time.Now).
func WithClock(now func() time.Time) Option {
	return func(a *Authenticator) { a.verifier.Now = now }
}

// New returns an Authenticator for keys.
func New(keys *keyfile.Keys, opts ...Option) *Authenticator {
	a := &Authenticator{keys: keys}
	a.verifier = sigv4.Verifier{
		Service: Service,
		Secret: func(id string) (string, bool) {
			k, ok := keys.Lookup(id)
			return k.Secret, ok
		},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Authenticate implements sqsserver.Authenticator. Its errors are *sigv4.Error, which carry
// SQS's codes (InvalidClientTokenId, SignatureDoesNotMatch, RequestExpired,
// IncompleteSignature, MissingAuthenticationToken).
func (a *Authenticator) Authenticate(r *http.Request, body []byte) (sqsserver.Principal, error) {
	res, err := a.verifier.Verify(r, body)
	if err != nil {
		return sqsserver.Principal{}, err
	}
	k, ok := a.keys.Lookup(res.AccessKeyID)
	if !ok { // cannot happen: Verify found its secret
		return sqsserver.Principal{}, &sigv4.Error{Code: sigv4.CodeInvalidClientTokenID, Message: "The security token included in the request is invalid."}
	}
	return sqsserver.Principal{AccessKeyID: k.AccessKeyID, Admin: k.Admin, ClientIDs: slices.Clone(k.ClientIDs)}, nil
}

var _ sqsserver.Authenticator = (*Authenticator)(nil)
