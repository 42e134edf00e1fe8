// Package keyfile loads the access keys that `ddbq serve` (the SQS-compatible endpoint) and
// the web UI accept: from a JSON key file, or a single key from environment variables.
//
// A key file is one JSON object with a "keys" array. Each key has an access key ID, its secret
// access key, and either "admin": true (every client ID) or "client_ids", the client IDs
// (tenants) the key may use:
//
//	{
//	  "keys": [
//	    {"access_key_id": "ADMINKEY0000000001", "secret_access_key": "…at least 16 characters…", "admin": true},
//	    {"access_key_id": "TENANTAKEY00000001", "secret_access_key": "…", "client_ids": ["tenant-a"]},
//	    {"access_key_id": "TENANTBKEY00000001", "secret_access_key": "…", "client_ids": ["tenant-b", "tenant-b-staging"]}
//	  ]
//	}
//
// Access key IDs are 16..128 characters from A-Z a-z 0-9 (as AWS issues them) and unique in
// the file; secrets are at least 16 printable ASCII characters without spaces (as SigV4 signs
// them); client IDs follow the rules of the root package (1..80 of A-Z a-z 0-9 _ . -). Unknown
// fields are rejected, so a misspelt "client_id" is an error, not a key without tenants.
//
// Secrets never reach a log: Key's String, GoString, LogValue and MarshalJSON leave them out.
package keyfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// Environment variables of the single key that FromEnv reads.
const (
	EnvAccessKeyID     = "DDBQ_ACCESS_KEY_ID"     // the key's access key ID
	EnvSecretAccessKey = "DDBQ_SECRET_ACCESS_KEY" // its secret
	EnvClientIDs       = "DDBQ_CLIENT_IDS"        // comma-separated client IDs it may use
	EnvAdmin           = "DDBQ_ADMIN"             // "true" (or 1, yes): the key may use every client ID
)

// Lengths accepted.
const (
	MinAccessKeyIDLen = 16
	MaxAccessKeyIDLen = 128
	MinSecretLen      = 16
)

// ErrInvalid is wrapped by every validation error of a key file or of the environment.
var ErrInvalid = errors.New("invalid access keys")

// ErrNoEnvKey is returned by FromEnv when none of its variables is set.
var ErrNoEnvKey = errors.New("no access key in the environment (" + EnvAccessKeyID + " is unset)")

// Key is one access key: its ID, its secret, and what it may use.
type Key struct {
	AccessKeyID string
	// Secret is the secret access key. It is never printed or logged by this package.
	Secret string
	// Admin keys may use every client ID.
	Admin bool
	// ClientIDs are the client IDs a non-admin key may use.
	ClientIDs []string
}

// Allows reports whether the key may act for clientID.
func (k Key) Allows(clientID string) bool {
	return k.Admin || slices.Contains(k.ClientIDs, clientID)
}

// String describes the key without its secret.
func (k Key) String() string {
	if k.Admin {
		return fmt.Sprintf("key %s (admin)", k.AccessKeyID)
	}
	return fmt.Sprintf("key %s (client IDs %s)", k.AccessKeyID, strings.Join(k.ClientIDs, ","))
}

// GoString is String, so %#v does not print the secret either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb, so no fmt verb (%v, %+v, %s, %q) reveals the secret.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// LogValue makes slog log the key's ID and scope, never its secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", k.AccessKeyID),
		slog.Bool("admin", k.Admin),
		slog.Any("client_ids", k.ClientIDs),
	)
}

// MarshalJSON leaves the secret out, so a key encoded by accident (a debug dump, an API
// response) does not leak it.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID string   `json:"access_key_id"`
		Admin       bool     `json:"admin,omitempty"`
		ClientIDs   []string `json:"client_ids,omitempty"`
	}{k.AccessKeyID, k.Admin, k.ClientIDs})
}

// Keys is a validated set of access keys, looked up by access key ID. It is read-only after
// Load, Parse or FromEnv, so it is safe for concurrent use.
type Keys struct {
	byID map[string]Key
	ids  []string // in file order
}

// Lookup returns the key with the access key ID id.
func (ks *Keys) Lookup(id string) (Key, bool) {
	if ks == nil {
		return Key{}, false
	}
	k, ok := ks.byID[id]
	return k, ok
}

// Len is the number of keys.
func (ks *Keys) Len() int {
	if ks == nil {
		return 0
	}
	return len(ks.ids)
}

// All returns the keys in the order they were given.
func (ks *Keys) All() []Key {
	if ks == nil {
		return nil
	}
	out := make([]Key, 0, len(ks.ids))
	for _, id := range ks.ids {
		out = append(out, ks.byID[id])
	}
	return out
}

// String lists the keys without their secrets.
func (ks *Keys) String() string {
	parts := make([]string, 0, ks.Len())
	for _, k := range ks.All() {
		parts = append(parts, k.String())
	}
	return fmt.Sprintf("%d access keys [%s]", ks.Len(), strings.Join(parts, "; "))
}

// LogValue logs the number of keys and their IDs.
func (ks *Keys) LogValue() slog.Value {
	ids := []string{}
	if ks != nil {
		ids = ks.ids
	}
	return slog.GroupValue(slog.Int("count", ks.Len()), slog.Any("access_key_ids", ids))
}

// New validates keys and indexes them. An empty list is an error: an endpoint without keys
// would refuse every request.
func New(list ...Key) (*Keys, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalid)
	}
	ks := &Keys{byID: make(map[string]Key, len(list))}
	for i, k := range list {
		if err := validate(k); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrInvalid, i+1, err)
		}
		if _, dup := ks.byID[k.AccessKeyID]; dup {
			return nil, fmt.Errorf("%w: key %d: access key ID %s is given twice", ErrInvalid, i+1, k.AccessKeyID)
		}
		k.ClientIDs = slices.Clone(k.ClientIDs)
		ks.byID[k.AccessKeyID] = k
		ks.ids = append(ks.ids, k.AccessKeyID)
	}
	return ks, nil
}

func validate(k Key) error {
	id := k.AccessKeyID
	if n := len(id); n < MinAccessKeyIDLen || n > MaxAccessKeyIDLen {
		return fmt.Errorf("access key ID %q is %d characters long, must be %d..%d", id, n, MinAccessKeyIDLen, MaxAccessKeyIDLen)
	}
	if bad := keys.FirstInvalid(id, alnum); bad != "" {
		return fmt.Errorf("access key ID %q has %s; allowed are A-Z a-z 0-9", id, bad)
	}
	// The secret itself is never part of a message, only what is wrong with it.
	if n := len(k.Secret); n < MinSecretLen {
		return fmt.Errorf("the secret of %s is %d characters long, at least %d are required", id, n, MinSecretLen)
	}
	for i := 0; i < len(k.Secret); i++ {
		if c := k.Secret[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("the secret of %s has a character that is not printable ASCII (or a space) at byte %d", id, i+1)
		}
	}
	switch {
	case k.Admin && len(k.ClientIDs) > 0:
		return fmt.Errorf("%s is admin and also lists client IDs; give one or the other", id)
	case !k.Admin && len(k.ClientIDs) == 0:
		return fmt.Errorf("%s has no client IDs and is not admin; give \"client_ids\" or \"admin\": true", id)
	}
	for _, c := range k.ClientIDs {
		if err := keys.ValidateName("client ID", c); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// fileKey is one entry of the file format.
type fileKey struct {
	AccessKeyID     string   `json:"access_key_id"`
	SecretAccessKey string   `json:"secret_access_key"`
	Admin           bool     `json:"admin"`
	ClientIDs       []string `json:"client_ids"`
}

type file struct {
	Keys []fileKey `json:"keys"`
}

// Parse reads a key file's content (the format in the package doc).
func Parse(data []byte) (*Keys, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: not a key file (a JSON object with a \"keys\" array): %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrInvalid)
	}
	list := make([]Key, 0, len(f.Keys))
	for _, k := range f.Keys {
		list = append(list, Key{AccessKeyID: k.AccessKeyID, Secret: k.SecretAccessKey, Admin: k.Admin, ClientIDs: k.ClientIDs})
	}
	return New(list...)
}

// Load reads the key file at path. A file that others can read is accepted (deployments mount
// secrets in many ways), but its content is never logged.
func Load(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	ks, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return ks, nil
}

// FromEnv reads a single key from DDBQ_ACCESS_KEY_ID, DDBQ_SECRET_ACCESS_KEY and either
// DDBQ_CLIENT_IDS (comma-separated) or DDBQ_ADMIN=true. It returns ErrNoEnvKey when
// DDBQ_ACCESS_KEY_ID is unset, and an ErrInvalid error when the variables are incomplete.
func FromEnv() (*Keys, error) { return FromEnvLookup(os.LookupEnv) }

// FromEnvLookup is FromEnv reading the variables with lookup (os.LookupEnv's signature), for
// callers that keep their own environment.
func FromEnvLookup(lookup func(string) (string, bool)) (*Keys, error) {
	id, ok := lookup(EnvAccessKeyID)
	if !ok || id == "" {
		for _, v := range []string{EnvSecretAccessKey, EnvClientIDs, EnvAdmin} {
			if s, ok := lookup(v); ok && s != "" {
				return nil, fmt.Errorf("%w: %s is set but %s is not", ErrInvalid, v, EnvAccessKeyID)
			}
		}
		return nil, ErrNoEnvKey
	}
	secret, _ := lookup(EnvSecretAccessKey)
	k := Key{AccessKeyID: id, Secret: secret}
	if s, _ := lookup(EnvAdmin); s != "" {
		switch strings.ToLower(s) {
		case "1", "true", "yes":
			k.Admin = true
		case "0", "false", "no":
		default:
			return nil, fmt.Errorf("%w: %s=%q, want true or false", ErrInvalid, EnvAdmin, s)
		}
	}
	if s, _ := lookup(EnvClientIDs); s != "" {
		for c := range strings.SplitSeq(s, ",") {
			if c = strings.TrimSpace(c); c != "" {
				k.ClientIDs = append(k.ClientIDs, c)
			}
		}
	}
	ks, err := New(k)
	if err != nil {
		return nil, fmt.Errorf("environment (%s, %s, %s or %s): %w", EnvAccessKeyID, EnvSecretAccessKey, EnvClientIDs, EnvAdmin, err)
	}
	return ks, nil
}
