// Package testkeys holds the access keys of the SQS endpoint's client tests: an admin key and
// one key each for the tenants TenantA and TenantB. It depends on nothing, so the test module
// sqsserver/compat/sdkv1260 (which pins an old AWS SDK) can use it as well as the main module.
package testkeys

import "encoding/json"

// Key is an access key of the tests.
type Key struct {
	AccessKeyID string
	Secret      string
	Admin       bool
	ClientIDs   []string
}

// The tenants' client IDs.
const (
	TenantA = "tenant-a"
	TenantB = "tenant-b"
)

// The keys. Secrets hold '/' and '+', which SigV4 clients must not mangle.
var (
	Admin = Key{AccessKeyID: "ADMINKEY00000001", Secret: "admin-secret-0123456789abcdef", Admin: true}
	A     = Key{AccessKeyID: "TENANTAKEY000001", Secret: "tenant-a/secret+0123456789", ClientIDs: []string{TenantA}}
	B     = Key{AccessKeyID: "TENANTBKEY000001", Secret: "tenant-b/secret+0123456789", ClientIDs: []string{TenantB}}
)

// All lists the keys.
func All() []Key { return []Key{Admin, A, B} }

// KeyFile is the three keys in the key-file format of `ddbq serve --keys` (internal/keyfile).
func KeyFile() []byte {
	type entry struct {
		AccessKeyID string   `json:"access_key_id"`
		Secret      string   `json:"secret_access_key"`
		Admin       bool     `json:"admin,omitempty"`
		ClientIDs   []string `json:"client_ids,omitempty"`
	}
	var f struct {
		Keys []entry `json:"keys"`
	}
	for _, k := range All() {
		f.Keys = append(f.Keys, entry(k))
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic(err) // cannot happen: plain strings
	}
	return b
}
