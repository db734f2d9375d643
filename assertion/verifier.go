package assertion

import (
	"container/heap"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restguard/restguard/policy"
)

// DefaultReplayCapacity bounds the jtis a Verifier remembers at once. An
// entry lives for at most 60 s + 2 × leeway, so the default holds about
// 1,400 verified assertions a second.
const DefaultReplayCapacity = 100_000

// VerifierConfig configures a Verifier. Issuer and Audience are required.
type VerifierConfig struct {
	Keys           *KeySet          // the published keys; see Verifier.SetKeys to swap them
	Issuer         string           // the expected iss
	Audience       string           // the expected aud: this product's base URL
	Leeway         time.Duration    // clock skew on iat and exp, whole seconds; 0 means DefaultLeeway
	ReplayCapacity int              // 0 means DefaultReplayCapacity
	Header         string           // request header for VerifyRequest; "" means HeaderName
	Now            func() time.Time // nil means time.Now
}

// Verifier applies the verification rules of the format, in this order
// (the first failure is the Reason; docs/identity-assertion.md):
//
//  1. at most MaxTokenBytes, three segments of canonical unpadded base64url (malformed);
//  2. the header is a JSON object (malformed) with exactly alg, kid and typ,
//     typ "restguard-assertion+jwt" and alg ES256 or EdDSA (bad_header);
//  3. kid is in the key set (unknown_key), and alg is the one bound to that
//     key's type: EC P-256 ↔ ES256, OKP Ed25519 ↔ EdDSA (bad_header);
//  4. the signature verifies; ES256 signatures are 64 bytes r||s (bad_signature);
//  5. the claims are a strict JSON object with the stated types: iss, aud,
//     jti, htm, rth strings, iat and exp integers with exp > iat, jti 16
//     bytes of base64url, optional sub, email strings and groups array of
//     strings; unknown members ignored (malformed);
//  6. iss (wrong_issuer), aud (wrong_audience), sub non-empty (no_subject);
//  7. iat <= now + leeway (not_yet_valid), exp > now - leeway (expired),
//     exp - iat <= 60 (lifetime_too_long);
//  8. htm equals the request's method (wrong_method), rth equals Target of
//     the request (wrong_target);
//  9. jti not seen within exp + leeway (replayed), then remembered.
//
// A Verifier is safe for concurrent use. Its replay cache is per process:
// verifiers on several nodes do not share it.
type Verifier struct {
	keys     atomic.Pointer[KeySet]
	issuer   string
	audience string
	header   string
	leeway   int64 // seconds
	now      func() time.Time
	replay   *replayCache
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("assertion: verifier needs an issuer")
	case cfg.Audience == "":
		return nil, errors.New("assertion: verifier needs an audience")
	case cfg.Leeway < 0 || cfg.Leeway%time.Second != 0:
		return nil, errors.New("assertion: leeway must be a non-negative whole number of seconds")
	case cfg.ReplayCapacity < 0:
		return nil, errors.New("assertion: replay capacity must not be negative")
	}
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		header:   cfg.Header,
		leeway:   int64(cfg.Leeway / time.Second),
		now:      cfg.Now,
		replay:   newReplayCache(cfg.ReplayCapacity),
	}
	if cfg.Leeway == 0 {
		v.leeway = int64(DefaultLeeway / time.Second)
	}
	if v.header == "" {
		v.header = HeaderName
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.keys.Store(cfg.Keys)
	return v, nil
}

// SetKeys replaces the key set, for a reload after rotation.
func (v *Verifier) SetKeys(ks *KeySet) { v.keys.Store(ks) }

// VerifyRequest verifies the assertion header of a request as the server
// received it: the method, and the path and query from the request line
// (r.RequestURI), which is what Tomcat's getRequestURI() and
// getQueryString() return. It returns ErrNoAssertion when the header is
// absent and a malformed *Error when it appears more than once.
func (v *Verifier) VerifyRequest(r *http.Request) (Claims, error) {
	vals := r.Header.Values(v.header)
	switch len(vals) {
	case 0:
		return Claims{}, ErrNoAssertion
	case 1:
	default:
		return Claims{}, refuse(ReasonMalformed, "more than one assertion header")
	}
	path, query := r.RequestURI, ""
	if path == "" { // a request built in process, not read from the wire
		path, query = r.URL.EscapedPath(), r.URL.RawQuery
	} else if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	return v.Verify(vals[0], r.Method, path, query)
}

// Verify checks token against the request it arrived with: its method and
// its raw path and raw query (no '?'). On success it returns the claims and
// remembers the jti; otherwise the error is an *Error.
func (v *Verifier) Verify(token, method, rawPath, rawQuery string) (Claims, error) {
	c, err := v.verify(token, method, rawPath, rawQuery)
	if err != nil {
		return Claims{}, err
	}
	return c, nil
}

func (v *Verifier) verify(token, method, rawPath, rawQuery string) (Claims, *Error) {
	// 1. Shape.
	if len(token) > MaxTokenBytes {
		return Claims{}, refuse(ReasonMalformed, "too long")
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return Claims{}, refuse(ReasonMalformed, "not three segments")
	}
	hb, okh := decodeSegment(h)
	pb, okp := decodeSegment(p)
	sig, oks := decodeSegment(s)
	if !okh || !okp || !oks {
		return Claims{}, refuse(ReasonMalformed, "segment is not canonical base64url")
	}

	// 2. Header.
	header, err := parseJSONObject(hb)
	if err != nil {
		return Claims{}, refuse(ReasonMalformed, "header is not a JSON object")
	}
	alg, _ := header["alg"].(string)
	kid, okKid := header["kid"].(string)
	typ, _ := header["typ"].(string)
	if len(header) != 3 || !okKid || typ != Type || alg != AlgES256 && alg != AlgEdDSA {
		return Claims{}, refuse(ReasonBadHeader, "header is not alg, kid and typ of the format")
	}

	// 3. Key.
	key, ok := v.keys.Load().lookup(kid)
	if !ok {
		return Claims{}, refuse(ReasonUnknownKey, "kid not in the key set")
	}
	if key.alg != alg {
		return Claims{}, refuse(ReasonBadHeader, "alg is not the one bound to the key type")
	}

	// 4. Signature over header.payload.
	signed := token[:len(h)+1+len(p)]
	if key.ec != nil {
		digest := sha256.Sum256([]byte(signed))
		if len(sig) != 64 || !ecdsa.VerifyASN1(key.ec, digest[:], rawToDER(sig)) {
			return Claims{}, refuse(ReasonBadSignature, "")
		}
	} else if len(sig) != ed25519.SignatureSize || !ed25519.Verify(key.ed, []byte(signed), sig) {
		return Claims{}, refuse(ReasonBadSignature, "")
	}

	// 5. Claims.
	m, err := parseJSONObject(pb)
	if err != nil {
		return Claims{}, refuse(ReasonMalformed, "claims are not a JSON object")
	}
	c, bad := decodeClaims(m)
	if bad != "" {
		return Claims{}, refuse(ReasonMalformed, bad)
	}

	// 6. Who.
	switch {
	case c.Issuer != v.issuer:
		return Claims{}, refuse(ReasonWrongIssuer, "")
	case c.Audience != v.audience:
		return Claims{}, refuse(ReasonWrongAudience, "")
	case c.Subject == "":
		return Claims{}, refuse(ReasonNoSubject, "")
	}

	// 7. When.
	now := v.now().Unix()
	switch {
	case c.IssuedAt > now+v.leeway:
		return Claims{}, refuse(ReasonNotYetValid, "")
	case c.Expiry <= now-v.leeway:
		return Claims{}, refuse(ReasonExpired, "")
	case c.Expiry-c.IssuedAt > int64(MaxLifetime/time.Second):
		return Claims{}, refuse(ReasonLifetimeTooLong, "")
	}

	// 8. Which request.
	if c.Method != method {
		return Claims{}, refuse(ReasonWrongMethod, "")
	}
	clean, _, err := policy.NormalizePath(rawPath)
	if err != nil || hashTarget(clean, rawQuery) != c.Target {
		return Claims{}, refuse(ReasonWrongTarget, "")
	}

	// 9. Once.
	if r := v.replay.remember(c.ID, c.Expiry+v.leeway, now); r != "" {
		return Claims{}, refuse(r, "")
	}
	return c, nil
}

// decodeClaims checks the claim types and returns what is wrong, or "".
func decodeClaims(m map[string]any) (Claims, string) {
	var c Claims
	str := func(name string, dst *string, required bool) bool {
		v, present := m[name]
		if !present {
			return !required
		}
		s, ok := v.(string)
		*dst = s
		return ok
	}
	switch {
	case !str("iss", &c.Issuer, true):
		return c, "iss is not a string"
	case !str("aud", &c.Audience, true):
		return c, "aud is not a string"
	case !str("sub", &c.Subject, false):
		return c, "sub is not a string"
	case !str("email", &c.Email, false):
		return c, "email is not a string"
	case !str("jti", &c.ID, true):
		return c, "jti is not a string"
	case !str("htm", &c.Method, true):
		return c, "htm is not a string"
	case !str("rth", &c.Target, true):
		return c, "rth is not a string"
	}
	var ok bool
	if c.IssuedAt, ok = jsonInt(m["iat"]); !ok {
		return c, "iat is not a non-negative integer"
	}
	if c.Expiry, ok = jsonInt(m["exp"]); !ok {
		return c, "exp is not a non-negative integer"
	}
	if c.Expiry <= c.IssuedAt {
		return c, "exp is not after iat"
	}
	if raw, ok := decodeSegment(c.ID); !ok || len(raw) != jtiBytes {
		return c, "jti is not 16 bytes of base64url"
	}
	if g, present := m["groups"]; present {
		arr, ok := g.([]any)
		if !ok {
			return c, "groups is not an array"
		}
		c.Groups = make([]string, len(arr))
		for i, e := range arr {
			if c.Groups[i], ok = e.(string); !ok {
				return c, "groups holds a non-string"
			}
		}
	}
	return c, ""
}

// replayCache remembers verified jtis until exp + leeway, when the
// assertion would be refused as expired anyway. It holds at most max
// entries; when full of unexpired entries it refuses new ones
// (replay_cache_full) instead of forgetting one early.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]int64
	q    expiryHeap
}

func newReplayCache(max int) *replayCache {
	if max == 0 {
		max = DefaultReplayCapacity
	}
	return &replayCache{max: max, seen: make(map[string]int64)}
}

// remember records jti until forgetAt (Unix seconds) and returns "" if it
// was not already there.
func (c *replayCache) remember(jti string, forgetAt, now int64) Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.q) > 0 && c.q[0].at <= now {
		e := heap.Pop(&c.q).(expiry)
		delete(c.seen, e.jti)
	}
	if _, dup := c.seen[jti]; dup {
		return ReasonReplayed
	}
	if len(c.seen) >= c.max {
		return ReasonReplayCacheFull
	}
	c.seen[jti] = forgetAt
	heap.Push(&c.q, expiry{at: forgetAt, jti: jti})
	return ""
}

type expiry struct {
	at  int64
	jti string
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
