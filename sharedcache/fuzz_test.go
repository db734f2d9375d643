package sharedcache

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeRevocation feeds the channel parser bodies that carry a valid
// MAC (so the fuzzer gets past authentication): it never panics, and what
// it accepts is a valid revocation that survives a round trip.
func FuzzDecodeRevocation(f *testing.F) {
	c := offline(f, strings.Repeat("f", 32))
	for _, seed := range []string{
		`{"v":1,"kind":"token","fp":"0123456789abcdef","id":"` + strings.Repeat("0a", 16) + `"}`,
		`{"v":1,"kind":"user","provider":"corp","user":"` + strings.Repeat("ab", 32) + `","id":"` + strings.Repeat("0a", 16) + `"}`,
		`{"v":1,"kind":"token","fp":"0123456789abcdef"}`,
		`{"v":1,"kind":"token","fp":"0123456789abcdef","id":"../../x"}`,
		`{"v":1,"kind":"resync"}`,
		`{"v":2,"kind":"token","fp":"0123456789abcdef"}`,
		`{"v":1,"kind":"token","fp":"0123456789abcdef","extra":1}`,
		`{"v":1,"kind":"user","provider":"","user":"zz"}`,
		`[]`, ``, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		msg := hex.EncodeToString(c.mac([]byte(body))) + "." + body
		r, err := c.decode(msg)
		if err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("accepted an invalid revocation %+v from %q", r, body)
		}
		again, err := c.encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if r2, err := c.decode(again); err != nil || r2 != r {
			t.Fatalf("round trip %+v -> %+v, %v", r, r2, err)
		}
	})
}

// FuzzOpen: no stored bytes make open panic or succeed without the seal.
func FuzzOpen(f *testing.F) {
	c := offline(f, strings.Repeat("f", 32))
	key := keyOf("corp", tokenA)
	now := time.Unix(1_800_000_000, 0)
	good, _ := c.seal(key, tokenA, []byte(resultA), now.Add(time.Hour))
	f.Add(good)
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		v, err := c.open(key, tokenA, blob, now)
		// Only resultA was ever sealed under this key, token and secret
		// (each fuzz worker seals its own copy, with its own nonce).
		if err == nil && string(v) != resultA {
			t.Fatalf("opened forged bytes %x", blob)
		}
	})
}
