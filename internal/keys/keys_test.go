package keys

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	ok := []string{"a", "Queue_1.v2-x", strings.Repeat("z", MaxNameLen)}
	bad := []string{"", "a|b", "a b", "a*", "a?", "ü", "a#b", strings.Repeat("z", MaxNameLen+1)}
	for _, s := range ok {
		if err := ValidateName("queue name", s); err != nil {
			t.Errorf("ValidateName(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if err := ValidateName("queue name", s); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", s, err)
		}
	}
}

func TestValidateGroup(t *testing.T) {
	for _, g := range []string{"a", "a#b|c!~", strings.Repeat("g", MaxGroupLen)} {
		if err := ValidateGroup(g); err != nil {
			t.Errorf("ValidateGroup(%q) = %v", g, err)
		}
	}
	for _, g := range []string{"", "a b", "tab\t", "é", strings.Repeat("g", MaxGroupLen+1)} {
		if err := ValidateGroup(g); !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("ValidateGroup(%q) = %v, want ErrInvalidGroup", g, err)
		}
	}
}

func TestPartitionKeyRoundTrip(t *testing.T) {
	pk := PartitionKey("orders", "tenant-1", 7)
	q, c, s, ok := SplitPartitionKey(pk)
	if !ok || q != "orders" || c != "tenant-1" || s != 7 {
		t.Fatalf("SplitPartitionKey(%q) = %q %q %d %v", pk, q, c, s, ok)
	}
	if !strings.HasPrefix(pk, PairPrefix("orders", "tenant-1")) || strings.HasPrefix(PartitionKey("orders", "tenant-10", 0), PairPrefix("orders", "tenant-1")) {
		t.Fatal("pair prefix must cover the pair's shards and nothing else")
	}
	for _, bad := range []string{"", "a|b", "a|b|c", "a|b|-1", "a|b|01", "a|b|1|x", RegistryPK} {
		if _, _, _, ok := SplitPartitionKey(bad); ok {
			t.Errorf("SplitPartitionKey(%q) accepted", bad)
		}
	}
}

func TestSequencerStrictlyIncreasingUnderFrozenClock(t *testing.T) {
	frozen := time.Unix(1700000000, 0)
	s := NewSequencer(func() time.Time { return frozen })
	prev := s.Next().String()
	for i := 0; i < 1000; i++ {
		cur := s.Next().String()
		if cur <= prev {
			t.Fatalf("sequence went from %s to %s", prev, cur)
		}
		prev = cur
	}
}

func TestVisOrdersByTimeThenSeq(t *testing.T) {
	t0 := time.Unix(1700000000, 5)
	a, b := Seq{Time: 1, Node: 2}, Seq{Time: 1, Node: 3}
	if !(Vis(t0, a) < Vis(t0, b) && Vis(t0, b) < Vis(t0.Add(time.Nanosecond), a)) {
		t.Fatal("vis keys out of order")
	}
	if !(Vis(t0, b) < VisBound(t0) && VisBound(t0) <= Vis(t0.Add(time.Nanosecond), a)) {
		t.Fatal("VisBound(t) must include keys at t and exclude later ones")
	}
	at, seq, err := ParseVis(Vis(t0, b))
	if err != nil || !at.Equal(t0) || seq != b {
		t.Fatalf("ParseVis = %v %v %v", at, seq, err)
	}
}

func TestGroupKeys(t *testing.T) {
	seq := Seq{Time: 42, Node: 7}
	for _, g := range []string{"a", "a#b", "x/y+z", "~"} {
		sk := GroupMessageSK(g, seq)
		if !strings.HasPrefix(sk, GroupMessagePrefix(g)) {
			t.Fatalf("%q lacks its group prefix", sk)
		}
		if got, ok := GroupFromSK(sk); !ok || got != g {
			t.Fatalf("GroupFromSK(%q) = %q, %v", sk, got, ok)
		}
		if got, ok := GroupFromSK(GroupSK(g)); !ok || got != g {
			t.Fatalf("GroupFromSK(GroupSK(%q)) = %q", g, got)
		}
		if s, ok := SeqFromSK(sk); !ok || s != seq {
			t.Fatalf("SeqFromSK(%q) = %v", sk, s)
		}
	}
	// One group's prefix never matches another group's messages.
	if strings.HasPrefix(GroupMessageSK("a#b", seq), GroupMessagePrefix("a")) {
		t.Fatal("group a's prefix matches group a#b")
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "a|b", "", "queue-1", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName("queue name", s) != nil {
			return
		}
		// A valid name never breaks the key encoding.
		q, c, shard, ok := SplitPartitionKey(PartitionKey(s, s, 3))
		if !ok || q != s || c != s || shard != 3 {
			t.Fatalf("valid name %q does not round-trip through the partition key", s)
		}
		if strings.ContainsAny(s, "|*?#") {
			t.Fatalf("valid name %q contains a key or pattern character", s)
		}
	})
}

func FuzzGroupKeys(f *testing.F) {
	f.Add("g", uint64(1), uint32(2))
	f.Add("a#b", uint64(0), uint32(0))
	f.Fuzz(func(t *testing.T, g string, tm uint64, node uint32) {
		if ValidateGroup(g) != nil {
			return
		}
		seq := Seq{Time: tm, Node: node}
		sk := GroupMessageSK(g, seq)
		got, ok := GroupFromSK(sk)
		s2, ok2 := SeqFromSK(sk)
		if !ok || got != g || !ok2 || s2 != seq {
			t.Fatalf("group key %q does not round-trip (%q, %v)", sk, got, s2)
		}
	})
}

func FuzzParseVis(f *testing.F) {
	f.Add(Vis(time.Unix(1, 2), Seq{Time: 3, Node: 4}))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		at, seq, err := ParseVis(s)
		if err != nil {
			return
		}
		if Vis(at, seq) != s {
			t.Fatalf("ParseVis(%q) does not round-trip", s)
		}
	})
}

// TestValidateNameReportsRunes: a non-ASCII name is reported by the character it has and
// its position counted in characters, not by its first byte ('Ã' at 0 for "ördérs").
func TestValidateNameReportsRunes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ördérs", `queue name "ördérs" has character 'ö' (U+00F6) at position 1;`},
		{"ord€rs", `queue name "ord€rs" has character '€' (U+20AC) at position 4;`},
		{"a b", `queue name "a b" has character ' ' (U+0020) at position 2;`},
		{"ab\xffc", `queue name "ab\xffc" has invalid UTF-8 byte 0xff at position 3;`},
		{strings.Repeat("ö", 50), `has character 'ö' (U+00F6) at position 1;`},
		{strings.Repeat("ö", 81), "queue name is 81 characters long, at most 80 are allowed"},
	} {
		err := ValidateName("queue name", c.in)
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateName(%q) = %v, want %q", c.in, err, c.want)
		}
	}
	err := ValidateGroup("grüppe")
	if want := `"grüppe" has character 'ü' (U+00FC) at position 3;`; !errors.Is(err, ErrInvalidGroup) || !strings.Contains(err.Error(), want) {
		t.Errorf("ValidateGroup(grüppe) = %v, want %q", err, want)
	}
}
