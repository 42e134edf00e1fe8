package sqsauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keyfile"
	"github.com/dynamodbqueue/dynamodbqueue/internal/sigv4"
)

func signedRequest(t *testing.T, id, secret string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	body := []byte(`{"QueueName":"orders"}`)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9324/", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueUrl")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sqs", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return req, body
}

func TestPrincipals(t *testing.T) {
	ks, err := keyfile.New(
		keyfile.Key{AccessKeyID: "ADMINKEY00000001", Secret: "adminsecretadminsecret", Admin: true},
		keyfile.Key{AccessKeyID: "TENANTAKEY000001", Secret: "tenantsecrettenantsecret", ClientIDs: []string{"tenant-a", "tenant-a2"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	auth := New(ks, WithClock(func() time.Time { return now }))

	req, body := signedRequest(t, "TENANTAKEY000001", "tenantsecrettenantsecret", now)
	p, err := auth.Authenticate(req, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.AccessKeyID != "TENANTAKEY000001" || p.Admin || !slices.Equal(p.ClientIDs, []string{"tenant-a", "tenant-a2"}) ||
		!p.Allows("tenant-a") || p.Allows("tenant-b") {
		t.Fatalf("tenant principal = %+v", p)
	}
	req, body = signedRequest(t, "ADMINKEY00000001", "adminsecretadminsecret", now)
	if p, err := auth.Authenticate(req, body); err != nil || !p.Admin || !p.Allows("tenant-b") {
		t.Fatalf("admin principal = %+v, %v", p, err)
	}

	// The tenant key's secret does not sign for the admin key, and an unknown key is refused as such.
	req, body = signedRequest(t, "ADMINKEY00000001", "tenantsecrettenantsecret", now)
	if _, err := auth.Authenticate(req, body); !errors.Is(err, &sigv4.Error{Code: sigv4.CodeSignatureDoesNotMatch}) {
		t.Fatalf("admin key with another secret: %v", err)
	}
	req, body = signedRequest(t, "UNKNOWNKEY000001", "tenantsecrettenantsecret", now)
	if _, err := auth.Authenticate(req, body); !errors.Is(err, &sigv4.Error{Code: sigv4.CodeInvalidClientTokenID}) {
		t.Fatalf("unknown key: %v", err)
	}
}
