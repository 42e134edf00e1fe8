package handle

import (
	"errors"
	"testing"
)

var sample = Handle{Table: "queues", PK: "orders|t1|0", SK: "m#0000000000000001aaaaaaaa", Group: "", Token: NewToken()}

func TestEncodeParseRoundTrip(t *testing.T) {
	s := NewSigner(nil)
	for _, h := range []Handle{sample, {Table: "t", PK: "q|c|3", SK: "g#Zw#x", Group: "G#Zw", Token: NewToken()}} {
		got, err := s.Parse(s.Encode(h))
		if err != nil || got != h {
			t.Fatalf("round trip: got %+v, %v; want %+v", got, err, h)
		}
	}
}

func TestParseRejects(t *testing.T) {
	s := NewSigner(nil)
	enc := s.Encode(sample)
	tampered := []byte(enc)
	tampered[10] ^= 1
	cases := map[string]string{
		"empty":        "",
		"not base64":   "!!!",
		"short":        "AQ",
		"tampered":     string(tampered),
		"other key":    NewSigner([]byte("another key")).Encode(sample),
		"extra suffix": enc + "AA",
	}
	for name, h := range cases {
		if _, err := s.Parse(h); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse = %v, want ErrInvalid", name, err)
		}
	}
}

func TestTokensAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok := NewToken()
		if len(tok) != 2*TokenLen || seen[tok] {
			t.Fatalf("token %q repeated or malformed", tok)
		}
		seen[tok] = true
	}
}

func FuzzParse(f *testing.F) {
	s := NewSigner(nil)
	f.Add(s.Encode(sample))
	f.Add("")
	f.Add("AQAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := s.Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", in, err)
			}
			return
		}
		// Whatever parses was signed by us: it re-encodes to itself.
		if s.Encode(h) != in {
			t.Fatalf("Parse(%q) accepted a handle that does not re-encode identically", in)
		}
	})
}

func TestDeleteFactsRoundTrip(t *testing.T) {
	s := NewSigner(nil)
	for _, h := range []Handle{
		{Table: "t", PK: "q|c|0", SK: "m#1", Token: NewToken(), Chunks: 3},
		{Table: "t", PK: "q|c|0", SK: "m#1", Token: NewToken(), Dedup: true},
		{Table: "t", PK: "q|c|0", SK: "m#1", Token: NewToken(), Chunks: 0xffff, Dedup: true},
	} {
		got, err := s.Parse(s.Encode(h))
		if err != nil || got != h {
			t.Fatalf("round trip: got %+v, %v; want %+v", got, err, h)
		}
	}
}

// TestVersion1HandlesStillParse: a handle issued before handles carried the chunk count and the
// deduplication flag (encoded by that code, default key) parses, marked Legacy, and re-encodes
// to itself.
func TestVersion1HandlesStillParse(t *testing.T) {
	const v1 = "AQAGcXVldWVzAAtvcmRlcnN8dDF8MAAabSMwMDAwMDAwMDAwMDAwMDAxYWFhYWFhYWEAAAARIjNEVWZ3iJmqu8zd7v8ltzLMXlVMpTt2p7Y"
	s := NewSigner(nil)
	h, err := s.Parse(v1)
	want := Handle{Table: "queues", PK: "orders|t1|0", SK: "m#0000000000000001aaaaaaaa", Token: "00112233445566778899aabbccddeeff", Legacy: true}
	if err != nil || h != want {
		t.Fatalf("Parse(v1) = %+v, %v; want %+v", h, err, want)
	}
	if s.Encode(h) != v1 {
		t.Fatalf("a version 1 handle does not re-encode to itself")
	}
}

// TestParseRejectsLineBreaks: the base64 decoder skips '\r' and '\n', so a handle with one
// inserted would decode to the same claim; it must be refused (a found fuzz case).
func TestParseRejectsLineBreaks(t *testing.T) {
	s := NewSigner(nil)
	enc := s.Encode(sample)
	for _, in := range []string{enc[:10] + "\n" + enc[10:], enc[:10] + "\r" + enc[10:], enc + "\n", "\r\n" + enc} {
		if _, err := s.Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", in, err)
		}
	}
}
