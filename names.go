package dynamodbqueue

import (
	"crypto/rand"
)

// RandomPostfix returns prefix followed by "-" and 8 random characters from [a-z0-9], for
// unique table, queue or client names in tests and demos.
func RandomPostfix(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + "-" + string(b[:])
}
