package catalogue

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/internal/idptest"
)

// anyInvalid is 401 invalid_token for whatever reason the validator gives.
var anyInvalid = want{status: 401, err: "invalid_token"}

// malformedOrInvalid: 401 invalid_token, or 400 invalid_request when the
// credential already breaks the b64token grammar (catalogue §0.1).
var malformedOrInvalid = want{any: []int{400, 401}, err: "?"}

func sigOf(tok string) string { return tok[strings.LastIndexByte(tok, '.')+1:] }
func hpOf(tok string) string  { return tok[:strings.LastIndexByte(tok, '.')] }

// flipMiddle changes a character in the middle of s (never the last one,
// whose padding bits may not matter).
func flipMiddle(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func stdB64(seg string) string {
	raw, _ := base64.RawURLEncoding.DecodeString(seg)
	return base64.StdEncoding.EncodeToString(raw)
}

var entriesB = []entry{
	{"B1_segment_count", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.table(t, []cs{
			{name: "one", r: in{headers: hdrs(bearer("a"))}, w: invalidToken("token_malformed")},
			{name: "two", r: in{headers: hdrs(bearer("a.b"))}, w: invalidToken("token_malformed")},
			{name: "four", r: in{headers: hdrs(bearer(tok + "."))}, w: invalidToken("token_malformed")},
			{name: "abcd", r: in{headers: hdrs(bearer("a.b.c.d"))}, w: invalidToken("token_malformed")},
			{name: "dots2", r: in{headers: hdrs(bearer(".."))}, w: invalidToken("token_malformed")},
			{name: "dots3", r: in{headers: hdrs(bearer("..."))}, w: invalidToken("token_malformed")},
			{name: "dot", r: in{headers: hdrs(bearer("."))}, w: invalidToken("token_malformed")},
			{name: "empty_payload", r: in{headers: hdrs(bearer(b64u(h0) + "..sig"))}, w: invalidToken("token_malformed")},
			// 60 000 dots: over the 16 KiB cap, refused before any split;
			// also over Envoy's 60 KiB header limit, so gRPC only.
			{name: "dots60000", r: in{headers: hdrs(bearer(repeat(".", 60000)))}, w: invalidToken("token_malformed")},
		})
	}},
	{"B2_base64_malleability", func(t *testing.T, s *suite) {
		// A token whose header, payload and signature all change when
		// re-encoded as standard base64 (padding or + and /).
		var tok string
		var parts []string
		for i := 0; ; i++ {
			tok = s.t0(t, map[string]any{"pad": repeat("x", i%3)})
			parts = strings.Split(tok, ".")
			if stdB64(parts[1]) != parts[1] && stdB64(parts[2]) != parts[2] || i > 50 {
				break
			}
		}
		s.table(t, []cs{
			{name: "sig_std_base64_padded", r: in{headers: hdrs(bearer(hpOf(tok) + "." + stdB64(parts[2])))}, w: invalidToken("token_malformed")},
			{name: "header_std_base64", r: in{headers: hdrs(bearer(stdB64(parts[0]) + "." + parts[1] + "." + parts[2]))}, w: malformedOrInvalid},
			{name: "payload_std_base64", r: in{headers: hdrs(bearer(parts[0] + "." + stdB64(parts[1]) + "." + parts[2]))}, w: malformedOrInvalid},
			{name: "sig_padding_only", r: in{headers: hdrs(bearer(tok + "=="))}, w: invalidToken("token_malformed")},
			{name: "star", r: in{headers: hdrs(bearer(parts[0] + "." + parts[1][:10] + "*" + parts[1][10:] + "." + parts[2]))}, w: malformedOrInvalid},
			{name: "bang", r: in{headers: hdrs(bearer(parts[0] + "!." + parts[1] + "." + parts[2]))}, w: malformedOrInvalid},
			{name: "space", r: in{headers: hdrs(bearer(parts[0] + " ." + parts[1] + "." + parts[2]))}, w: malformedOrInvalid},
			{name: "sig_middle_char", r: in{headers: hdrs(bearer(hpOf(tok) + "." + flipMiddle(parts[2])))}, w: invalidToken("token_invalid")},
			{name: "sig_last_char", r: in{headers: hdrs(bearer(tok[:len(tok)-1] + map[bool]string{true: "B", false: "A"}[tok[len(tok)-1] == 'A']))}, w: anyInvalid},
		})
	}},
	{"B3_jws_json_serialisation", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		p := strings.Split(tok, ".")
		flat := fmt.Sprintf(`{"payload":%q,"signatures":[{"protected":%q,"signature":%q}]}`, p[1], p[0], p[2])
		two := fmt.Sprintf(`{"payload":%q,"signatures":[{"protected":%q,"signature":"AAAA"},{"protected":%q,"signature":%q}]}`, p[1], b64u(`{"alg":"RS256","kid":"k1","typ":"at+jwt","crit":["x"]}`), p[0], p[2])
		noProt := fmt.Sprintf(`{"payload":%q,"signatures":[{"signature":%q,"header":{"kid":"k1","alg":"RS256"}}]}`, p[1], p[2])
		s.table(t, []cs{
			{name: "general", r: in{headers: hdrs(bearer(flat))}, w: malformedOrInvalid},
			{name: "garbage_first", r: in{headers: hdrs(bearer(two))}, w: malformedOrInvalid},
			{name: "unprotected_header", r: in{headers: hdrs(bearer(noProt))}, w: malformedOrInvalid},
			{name: "base64_of_json", r: in{headers: hdrs(bearer(b64u(flat)))}, w: invalidToken("token_malformed")},
		})
	}},
	{"B4_jwe", func(t *testing.T, s *suite) {
		jwe := func(h string) string {
			return b64u(h) + "." + b64u("enckey") + "." + b64u("iv-iv-iv-iv") + "." + b64u(repeat("c", 1024)) + "." + b64u("tag-tag-tag-tag")
		}
		s.table(t, []cs{
			{name: "rsa_oaep", r: in{headers: hdrs(bearer(jwe(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1"}`)))}, w: invalidToken("token_malformed")},
			{name: "pbes2_p2c", r: in{headers: hdrs(bearer(jwe(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":2147483647,"p2s":"c2FsdA"}`)))}, w: invalidToken("token_malformed")},
			{name: "zip_bomb", r: in{headers: hdrs(bearer(jwe(`{"alg":"dir","enc":"A128GCM","zip":"DEF"}`)))}, w: invalidToken("token_malformed")},
			{name: "empty_encrypted_key", r: in{headers: hdrs(bearer(b64u(`{"alg":"A128KW","enc":"A128GCM"}`) + ".." + b64u("iv") + "." + b64u("c") + "." + b64u("t")))}, w: invalidToken("token_malformed")},
			{name: "zip_on_jws", r: in{headers: hdrs(bearer(s.raw(t, `{"alg":"RS256","kid":"k1","zip":"DEF"}`, s.payload(nil, ""))))}, w: invalidToken("token_invalid")},
		})
	}},
	{"B5_huge_tokens_and_headers", func(t *testing.T, s *suite) {
		many := make([]string, 100000)
		for i := range many {
			many[i] = fmt.Sprintf("g%d", i)
		}
		auds := make([]string, 10000)
		for i := range auds {
			auds[i] = fmt.Sprintf("https://a%d.example", i)
		}
		auds = append(auds, jiraAud)
		big := func(n int) string { return repeat("A", n/2) + "." + repeat("B", n/2-2) + ".C" }
		s.table(t, []cs{
			{name: "64KiB", r: in{headers: hdrs(bearer(big(64 << 10)))}, w: invalidToken("token_malformed")},
			{name: "1MiB", r: in{headers: hdrs(bearer(big(1 << 20)))}, w: invalidToken("token_malformed")},
			{name: "3.9MiB", r: in{headers: hdrs(bearer(big(3900 << 10)))}, w: invalidToken("token_malformed")},
			{name: "groups_100000", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": many})))}, w: invalidToken("token_malformed")},
			{name: "aud_10000", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"aud": auds})))}, w: invalidToken("token_malformed")},
			{name: "kid_1MiB", r: in{headers: hdrs(bearer(s.raw(t, `{"alg":"RS256","kid":"`+repeat("k", 1<<20)+`"}`, s.payload(nil, ""))))}, w: invalidToken("token_malformed")},
		})
		t.Run("10000_extra_headers", func(t *testing.T) {
			t.Parallel()
			extra := map[string]string{"authorization": "Bearer " + s.t0(t, nil)}
			for i := range 10000 {
				extra[fmt.Sprintf("x-extra-%d", i)] = "v"
			}
			start := time.Now()
			s.runRaw(t, rawFlat(t, extra), allow("alice"))
			t.Logf("10 000 headers decided in %s", time.Since(start))
		})
	}},
	{"B6_json_oddities", func(t *testing.T, s *suite) {
		nested := repeat("[", 5000) + repeat("]", 5000)
		sign := func(h, p string) string { return s.raw(t, h, p) }
		s.table(t, []cs{
			{name: "array", r: in{headers: hdrs(bearer(sign(h0, `[]`)))}, w: invalidToken("token_malformed")},
			{name: "string", r: in{headers: hdrs(bearer(sign(h0, `"x"`)))}, w: invalidToken("token_malformed")},
			{name: "null", r: in{headers: hdrs(bearer(sign(h0, `null`)))}, w: invalidToken("token_malformed")},
			{name: "trailing_garbage", r: in{headers: hdrs(bearer(sign(h0, s.payload(nil, "")+`}x`)))}, w: invalidToken("token_malformed")},
			{name: "bom", r: in{headers: hdrs(bearer(sign(h0, "\ufeff"+s.payload(nil, ""))))}, w: invalidToken("token_malformed")},
			{name: "utf16", r: in{headers: hdrs(bearer(sign(h0, "\xff\xfe{\x00}\x00")))}, w: invalidToken("token_malformed")},
			{name: "nested_arrays", r: in{headers: hdrs(bearer(sign(h0, s.payload(nil, `"deep":`+nested))))}, w: invalidToken("token_malformed")},
			{name: "invalid_utf8_username", r: in{headers: hdrs(bearer(sign(h0, strings.Replace(s.payload(nil, ""), `"alice"`, "\"al\xffice\"", 1))))}, w: deny(401, 403)},
			{name: "nul_in_username", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"preferred_username": "bob\u0000admin"})))}, w: invalidToken("username_missing")},
			{name: "nul_in_sub", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"sub": "x\u0000y", "preferred_username": nil})))}, w: invalidToken("username_missing")},
			{name: "header_not_json", r: in{headers: hdrs(bearer(sign(`alg=RS256`, s.payload(nil, ""))))}, w: invalidToken("token_malformed")},
		})
	}},
	{"B7_nested_jwt_cty", func(t *testing.T, s *suite) {
		inner := s.kx.Mint(t, p0(s.a.Issuer, map[string]any{"preferred_username": "admin", "groups": []string{"jira-administrators"}}))
		s.table(t, []cs{
			{name: "cty_jwt_payload_jws", r: in{headers: hdrs(bearer(s.raw(t, `{"alg":"RS256","kid":"k1","cty":"JWT"}`, inner)))}, w: anyInvalid},
			{name: "cty_jwt_claims", r: in{headers: hdrs(bearer(s.raw(t, `{"alg":"RS256","kid":"k1","cty":"JWT"}`, s.payload(nil, ""))))}, w: invalidToken("token_invalid")},
		})
	}},
}

var entriesC = []entry{
	{"C1_alg_none", func(t *testing.T, s *suite) {
		p := b64u(s.payload(nil, ""))
		none := func(h string) string { return b64u(h) + "." + p + "." }
		junk := func(h string) string { return b64u(h) + "." + p + "." + b64u("junk-signature") }
		hdr := func(alg string) string { return `{"alg":` + alg + `,"kid":"k1","typ":"at+jwt"}` }
		cases := []cs{
			{name: "null_signature_real_header", r: in{headers: hdrs(bearer(b64u(h0) + "." + p + "."))}, w: anyInvalid},
		}
		for _, alg := range []string{`"none"`, `"None"`, `"NONE"`, `"nOnE"`, `""`, `null`, `["RS256"]`, `"RS256 "`, `"rs256"`} {
			cases = append(cases,
				cs{name: "empty_sig_" + alg, r: in{headers: hdrs(bearer(none(hdr(alg))))}, w: anyInvalid},
				cs{name: "junk_sig_" + alg, r: in{headers: hdrs(bearer(junk(hdr(alg))))}, w: invalidToken("algorithm_rejected")})
		}
		cases = append(cases,
			cs{name: "none_without_kid", r: in{headers: hdrs(bearer(junk(`{"alg":"none"}`)))}, w: invalidToken("algorithm_rejected")},
			cs{name: "alg_missing", r: in{headers: hdrs(bearer(junk(`{"kid":"k1"}`)))}, w: invalidToken("algorithm_rejected")})
		s.table(t, cases)
	}},
	{"C2_rs_hs_key_confusion", func(t *testing.T, s *suite) {
		pub := &s.a.RSAKey().PublicKey
		spki, _ := x509.MarshalPKIXPublicKey(pub)
		pemSPKI := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
		pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
		jwkText, _ := json.Marshal(s.a.JWKS()["keys"].([]any)[0])
		secrets := map[string][]byte{
			"spki_pem": pemSPKI, "spki_pem_no_newline": pemSPKI[:len(pemSPKI)-1], "pkcs1_pem": pkcs1,
			"der": spki, "jwk_json": jwkText, "modulus": pub.N.Bytes(),
		}
		var cases []cs
		for name, secret := range secrets {
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				tok := s.a.MintRaw(t, map[string]any{"alg": alg, "kid": "k1", "typ": "at+jwt"}, []byte(s.payload(nil, "")), alg, secret)
				cases = append(cases, cs{name: name + "_" + alg, r: in{headers: hdrs(bearer(tok))}, w: invalidToken("algorithm_rejected")})
			}
		}
		s.table(t, cases)
	}},
	{"C3_weak_hmac_secrets", func(t *testing.T, s *suite) {
		var cases []cs
		for _, secret := range []string{"", "secret", "changeme", "password", "jwt", "your-256-bit-secret"} {
			tok := s.a.MintRaw(t, map[string]any{"alg": "HS256", "typ": "at+jwt"}, []byte(s.payload(nil, "")), "HS256", []byte(secret))
			cases = append(cases, cs{name: "secret_" + fmt.Sprint(len(secret)) + "_" + secret, r: in{headers: hdrs(bearer(tok))}, w: invalidToken("algorithm_rejected")})
		}
		s.table(t, cases)
	}},
	{"C4_unsuitable_keys_in_jwks", func(t *testing.T, s *suite) { s.unsuitableKeys(t) }},
	{"C5_unknown_kid_refresh_storm", func(t *testing.T, s *suite) { s.unknownKidStorm(t) }},
	{"C6_kid_injection", func(t *testing.T, s *suite) {
		var cases []cs
		hs := func(kid any, key string) string {
			return s.a.MintRaw(t, map[string]any{"alg": "HS256", "kid": kid, "typ": "at+jwt"}, []byte(s.payload(nil, "")), "HS256", []byte(key))
		}
		rs := func(kid any) string {
			return s.kx.MintRaw(t, map[string]any{"alg": "RS256", "kid": kid, "typ": "at+jwt"}, []byte(s.payload(nil, "")), "RS256", s.kx.RSAKey())
		}
		kids := map[string]any{
			"empty": "", "devnull_traversal": "../../../../../../dev/null", "devnull": "/dev/null", "invalid_path": "/invalid_path",
			"sleep": "|sleep 10", "curl_canary": "| curl " + s.canary.URL + "/RCE_in_kid", "sqli": "x' UNION SELECT '1';--",
			"nul": "k1\u0000", "crlf": "k1\r\nX-Injected: 1", "quote": `k1"`, "number": 2, "object": map[string]any{"a": 1},
		}
		for name, kid := range kids {
			cases = append(cases,
				cs{name: "hs256_" + name, r: in{headers: hdrs(bearer(hs(kid, "")))}, w: invalidToken("algorithm_rejected")},
				cs{name: "rs256_" + name, r: in{headers: hdrs(bearer(rs(kid)))}, w: anyInvalid})
		}
		cases = append(cases, cs{name: "kid_100KiB", r: in{headers: hdrs(bearer(rs(repeat("k", 100<<10))))}, w: invalidToken("token_malformed")})
		t.Run("variants", func(t *testing.T) { s.table(t, cases) })
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("canary received %d requests", n)
		}
	}},
	{"C7_key_bearing_header_parameters", func(t *testing.T, s *suite) {
		kxJWK := s.kx.JWKS()["keys"].([]any)[0]
		cert := selfSigned(t, s.kx.RSAKey())
		attack := func(extra map[string]any) string {
			h := map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}
			for k, v := range extra {
				h[k] = v
			}
			return s.kx.MintRaw(t, h, []byte(s.payload(nil, "")), "RS256", s.kx.RSAKey())
		}
		valid := s.a.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt", "jku": s.canary.URL + "/jwks.json", "x5u": s.canary.URL + "/x5u"}, []byte(s.payload(nil, "")), "RS256", s.a.RSAKey())
		t.Run("variants", func(t *testing.T) {
			s.table(t, []cs{
				{name: "embedded_jwk", r: in{headers: hdrs(bearer(attack(map[string]any{"jwk": kxJWK})))}, w: invalidToken("token_invalid")},
				{name: "jku_canary", r: in{headers: hdrs(bearer(attack(map[string]any{"jku": s.canary.URL + "/jwks.json"})))}, w: invalidToken("token_invalid")},
				{name: "x5u_canary", r: in{headers: hdrs(bearer(attack(map[string]any{"x5u": s.canary.URL + "/cert.pem"})))}, w: invalidToken("token_invalid")},
				{name: "x5c_self_signed", r: in{headers: hdrs(bearer(attack(map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}})))}, w: invalidToken("token_invalid")},
				{name: "jwk_without_kid", r: in{headers: hdrs(bearer(s.kx.MintRaw(t, map[string]any{"alg": "RS256", "jwk": kxJWK}, []byte(s.payload(nil, "")), "RS256", s.kx.RSAKey())))}, w: anyInvalid},
				{name: "valid_k1_with_jku_ignored", r: in{headers: hdrs(bearer(valid))}, w: allow("alice")},
			})
		})
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("canary received %d requests: a token-supplied URL was fetched", n)
		}
	}},
	{"C8_crit_and_b64", func(t *testing.T, s *suite) {
		p := s.payload(nil, "")
		var cases []cs
		for name, h := range map[string]string{
			"unknown":        `{"alg":"RS256","kid":"k1","crit":["x-unknown"],"x-unknown":1}`,
			"empty":          `{"alg":"RS256","kid":"k1","crit":[]}`,
			"exp":            `{"alg":"RS256","kid":"k1","crit":["exp"]}`,
			"alg":            `{"alg":"RS256","kid":"k1","crit":["alg"]}`,
			"string":         `{"alg":"RS256","kid":"k1","crit":"b64"}`,
			"b64_false_crit": `{"alg":"RS256","kid":"k1","b64":false,"crit":["b64"]}`,
			"b64_false":      `{"alg":"RS256","kid":"k1","b64":false}`,
		} {
			cases = append(cases, cs{name: name, r: in{headers: hdrs(bearer(s.raw(t, h, p)))}, w: invalidToken("token_invalid")})
		}
		s.table(t, cases)
	}},
	{"C9_ecdsa_malformed_signatures", func(t *testing.T, s *suite) {
		hp := b64u(`{"alg":"ES256","kid":"k2","typ":"at+jwt"}`) + "." + b64u(s.payload(nil, ""))
		n := elliptic.P256().Params().N.Bytes()
		valid := s.a.MintES256(t, p0(s.a.Issuer, nil))
		validSig, _ := base64.RawURLEncoding.DecodeString(sigOf(valid))
		der, _ := ecdsa.SignASN1(rand.Reader, s.a.ECKey(), make([]byte, 32))
		s.table(t, []cs{
			{name: "zero_r_s", r: in{headers: hdrs(bearer(hp + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))))}, w: invalidToken("token_invalid")},
			{name: "r_equals_n", r: in{headers: hdrs(bearer(hp + "." + base64.RawURLEncoding.EncodeToString(append(append([]byte{}, n...), n...))))}, w: invalidToken("token_invalid")},
			{name: "der_encoded", r: in{headers: hdrs(bearer(hp + "." + base64.RawURLEncoding.EncodeToString(der)))}, w: invalidToken("token_invalid")},
			{name: "63_bytes", r: in{headers: hdrs(bearer(hpOf(valid) + "." + base64.RawURLEncoding.EncodeToString(validSig[:63])))}, w: invalidToken("token_invalid")},
			{name: "valid_es256", r: in{headers: hdrs(bearer(valid))}, w: allow("alice")},
		})
	}},
	{"C10_issuer_key_scoping", func(t *testing.T, s *suite) {
		// B's k1 signs a token that claims A: A's k1 does not verify it.
		crossed := s.b.MintWithKey(t, "k1", s.b.RSAKey(), p0(s.a.Issuer, nil))
		s.table(t, []cs{
			{name: "iss_a_signed_by_b_colliding_kid", r: in{headers: hdrs(bearer(crossed))}, w: invalidToken("token_invalid")},
			{name: "iss_canary", r: in{headers: hdrs(bearer(s.kx.Mint(t, p0(s.canary.URL+"/", nil))))}, w: invalidToken("issuer_unknown")},
			{name: "iss_b_valid", r: in{headers: hdrs(bearer(s.b.Mint(t, p0(s.b.Issuer, nil))))}, w: allow("alice")},
		})
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("canary received %d requests: an unknown issuer was contacted", n)
		}
	}},
}

func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

var _ = idptest.Audience

func bigOne() *big.Int { return big.NewInt(1) }
