package assertion

import (
	"strings"
	"testing"
)

var knownReasons = map[Reason]bool{
	ReasonMalformed: true, ReasonBadHeader: true, ReasonUnknownKey: true, ReasonBadSignature: true,
	ReasonWrongIssuer: true, ReasonWrongAudience: true, ReasonNoSubject: true, ReasonNotYetValid: true,
	ReasonExpired: true, ReasonLifetimeTooLong: true, ReasonWrongMethod: true, ReasonWrongTarget: true,
	ReasonReplayed: true, ReasonReplayCacheFull: true,
}

// FuzzVerify: the verifier's parser never panics, every refusal is an
// *Error with one of the stable reasons and does not echo the assertion,
// and whatever it accepts is a complete, in-lifetime assertion for the
// request it was checked against.
func FuzzVerify(f *testing.F) {
	es, ed, ks := testKeys(f)
	good := mustSign(f, es, validClaims(f))
	h, p, s := splitToken(good)
	for _, seed := range []string{
		good, mustSign(f, ed, validClaims(f)), h + "." + p, h + "." + p + "." + s + "=", "..", "", "a.b.c",
		b64.EncodeToString([]byte(`{"alg":"none","kid":"x","typ":"`+Type+`"}`)) + "." + p + ".",
	} {
		f.Add(seed, "GET", testPath, "")
	}
	f.Add(good, "GET", "/rest;x/api/2/./myself", "")
	f.Add(good, "POST", "//rest/api/2/myself", "a=b")
	f.Fuzz(func(t *testing.T, token, method, path, query string) {
		v := newTestVerifier(t, ks, nil)
		c, err := v.Verify(token, method, path, query)
		if err != nil {
			r := ReasonOf(err)
			if !knownReasons[r] {
				t.Fatalf("Verify error %v has no known reason", err)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q echoes the assertion", err)
			}
			return
		}
		now := testNow.Unix()
		if c.Subject == "" || c.Issuer != testIssuer || c.Audience != testAudience || c.Method != method ||
			c.IssuedAt > now+5 || c.Expiry <= now-5 || c.Expiry-c.IssuedAt > 60 || c.Expiry <= c.IssuedAt {
			t.Fatalf("Verify accepted %+v for %s %s?%s", c, method, path, query)
		}
		if want, err := Target(method, path, query); err != nil || want != c.Target {
			t.Fatalf("Verify accepted rth %s for %s?%s", c.Target, path, query)
		}
		if _, err := v.Verify(token, method, path, query); ReasonOf(err) != ReasonReplayed {
			t.Fatalf("second Verify = %v, want replayed", err)
		}
	})
}
