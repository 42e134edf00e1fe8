package keyfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretA = "secretAsecretAsecretA"

const good = `{"keys": [
  {"access_key_id": "ADMINKEY00000001", "secret_access_key": "adminsecretadminsecret", "admin": true},
  {"access_key_id": "TENANTAKEY000001", "secret_access_key": "` + secretA + `", "client_ids": ["tenant-a", "tenant-a2"]}
]}`

func TestParseAndLookup(t *testing.T) {
	ks, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Len() != 2 {
		t.Fatalf("Len = %d, want 2", ks.Len())
	}
	admin, ok := ks.Lookup("ADMINKEY00000001")
	if !ok || !admin.Admin || !admin.Allows("anyone") {
		t.Fatalf("admin key = %v, %v; want an admin that allows every client", admin, ok)
	}
	a, ok := ks.Lookup("TENANTAKEY000001")
	if !ok || a.Secret != secretA {
		t.Fatalf("tenant key = %v, %v", a, ok)
	}
	if !a.Allows("tenant-a") || !a.Allows("tenant-a2") || a.Allows("tenant-b") || a.Allows("") {
		t.Fatalf("tenant key allows the wrong clients: %v", a)
	}
	if _, ok := ks.Lookup("NOSUCHKEY0000001"); ok {
		t.Fatal("Lookup found a key that is not in the file")
	}
	if got := ks.All(); len(got) != 2 || got[0].AccessKeyID != "ADMINKEY00000001" {
		t.Fatalf("All = %v, want file order", got)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := Load(path)
	if err != nil || ks.Len() != 2 {
		t.Fatalf("Load = %v, %v", ks, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want ErrNotExist", err)
	}
}

func TestParseRejects(t *testing.T) {
	key := func(fields string) string { return `{"keys":[{` + fields + `}]}` }
	cases := map[string]struct{ data, want string }{
		"not JSON":        {`keys: []`, "not a key file"},
		"no keys":         {`{"keys": []}`, "no keys"},
		"unknown field":   {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `","client_id":["a"]`), "unknown field"},
		"short ID":        {key(`"access_key_id":"SHORT","secret_access_key":"` + secretA + `","admin":true`), "5 characters long"},
		"bad ID char":     {key(`"access_key_id":"TENANT-KEY-00001","secret_access_key":"` + secretA + `","admin":true`), "'-'"},
		"short secret":    {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"tooshort","admin":true`), "at least 16"},
		"space in secret": {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"has a space in it!!","admin":true`), "printable ASCII"},
		"neither":         {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `"`), "no client IDs and is not admin"},
		"both":            {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `","admin":true,"client_ids":["a"]`), "one or the other"},
		"bad client":      {key(`"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `","client_ids":["a|b"]`), "invalid name"},
		"two values":      {good + good, "more than one"},
		"duplicate ID": {`{"keys":[{"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `","admin":true},` +
			`{"access_key_id":"TENANTAKEY000001","secret_access_key":"` + secretA + `","admin":true}]}`, "given twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ks, err := Parse([]byte(c.data))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, %v; want an ErrInvalid error containing %q", ks, err, c.want)
			}
			if strings.Contains(err.Error(), secretA) {
				t.Fatalf("the error reveals the secret: %v", err)
			}
		})
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnv(t *testing.T) {
	ks, err := FromEnvLookup(env(map[string]string{
		EnvAccessKeyID: "TENANTAKEY000001", EnvSecretAccessKey: secretA, EnvClientIDs: "tenant-a, tenant-b",
	}))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ks.Lookup("TENANTAKEY000001")
	if !k.Allows("tenant-a") || !k.Allows("tenant-b") || k.Allows("tenant-c") || k.Admin {
		t.Fatalf("key from the environment = %v", k)
	}
	ks, err = FromEnvLookup(env(map[string]string{EnvAccessKeyID: "ADMINKEY00000001", EnvSecretAccessKey: secretA, EnvAdmin: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := ks.Lookup("ADMINKEY00000001"); !k.Admin {
		t.Fatalf("DDBQ_ADMIN=true gave %v", k)
	}
	if _, err := FromEnvLookup(env(nil)); !errors.Is(err, ErrNoEnvKey) {
		t.Fatalf("empty environment: %v, want ErrNoEnvKey", err)
	}
	for name, m := range map[string]map[string]string{
		"secret without ID": {EnvSecretAccessKey: secretA},
		"no secret":         {EnvAccessKeyID: "ADMINKEY00000001", EnvAdmin: "1"},
		"bad admin":         {EnvAccessKeyID: "ADMINKEY00000001", EnvSecretAccessKey: secretA, EnvAdmin: "maybe"},
		"no scope":          {EnvAccessKeyID: "ADMINKEY00000001", EnvSecretAccessKey: secretA},
	} {
		if _, err := FromEnvLookup(env(m)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// Every way a key is usually printed leaves its secret out.
func TestSecretNeverPrinted(t *testing.T) {
	ks, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ks.Lookup("TENANTAKEY000001")
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("key", "key", k, "keys", ks)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "key", k, "keys", ks)
	js, _ := json.Marshal(k)
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q", k, k, k, k, k), fmt.Sprint(ks), fmt.Sprintf("%+v", ks),
		fmt.Sprintf("%+v", []Key{k}), string(js), logs.String(),
	}
	for _, s := range outs {
		if strings.Contains(s, secretA) {
			t.Fatalf("printed the secret: %s", s)
		}
		if !strings.Contains(s, "TENANTAKEY000001") {
			t.Fatalf("printed without the access key ID: %s", s)
		}
	}
}
