package main

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credential kinds of the token mix.
const (
	kindValid   = "valid"   // a signed JWT the server should accept
	kindBadSig  = "badsig"  // a valid JWT with one signature byte changed
	kindExpired = "expired" // a correctly signed JWT whose exp is an hour ago
	kindBasic   = "basic"   // HTTP Basic (blocked by restguard)
	kindOpaque  = "opaque"  // an opaque token the IdP's introspection knows
	kindNone    = "none"    // no credentials at all
)

var kinds = []string{kindValid, kindBadSig, kindExpired, kindBasic, kindOpaque, kindNone}

// maxDistinctInvalid bounds the distinct expired tokens minted (each is a
// signature); bad signatures are derived from valid tokens for free.
const maxDistinctInvalid = 256

// mix is the share of each credential kind, as weights.
type mix map[string]float64

// parseMix reads "valid=90,badsig=5,basic=5" (weights, any scale).
func parseMix(s string) (mix, error) {
	m := mix{}
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			val = "1"
		}
		name = strings.TrimSpace(name)
		known := false
		for _, k := range kinds {
			known = known || k == name
		}
		if !known {
			return nil, fmt.Errorf("mix: unknown kind %q (have %s)", name, strings.Join(kinds, ", "))
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("mix: weight of %s: %q is not a non-negative number", name, val)
		}
		m[name] += w
		total += w
	}
	if total == 0 {
		return nil, fmt.Errorf("mix: %q has no positive weight", s)
	}
	for k := range m {
		m[k] /= total
	}
	return m, nil
}

func (m mix) String() string {
	var parts []string
	for _, k := range kinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%.3g%%", k, 100*m[k]))
		}
	}
	return strings.Join(parts, ",")
}

// slot is one prepared request: the credential and the source address.
type slot struct {
	kind   string
	auth   string // the Authorization header value ("" for none)
	source string // Envoy's peer address
}

// tokenSet holds the credentials minted for a run.
type tokenSet struct {
	valid   []string
	rs, es  int // how many valid tokens are RS256 and ES256
	badsig  []string
	expired []string
	opaque  []string
}

// mintTokens prepares distinct credentials: n valid JWTs (a share es256 of
// them ES256), and what the mix needs of the other kinds. Signing runs on
// every core.
func mintTokens(p *idp, m mix, n int, es256 float64, ttl time.Duration) (*tokenSet, error) {
	ts := &tokenSet{}
	now := time.Now()
	nValid := 0
	if m[kindValid] > 0 || m[kindBadSig] > 0 {
		nValid = n
	}
	ts.es = int(float64(nValid)*es256 + 0.5)
	ts.rs = nValid - ts.es
	ts.valid = make([]string, nValid)
	nExpired := 0
	if m[kindExpired] > 0 {
		nExpired = min(n, maxDistinctInvalid)
	}
	ts.expired = make([]string, nExpired)

	type job struct {
		out   *string
		n     int
		es    bool
		start time.Time
		ttl   time.Duration
	}
	var jobs []job
	for i := range ts.valid {
		// Interleave the algorithms so that any prefix has both.
		es := ts.es > 0 && (i*ts.es)/nValid != ((i+1)*ts.es)/nValid
		jobs = append(jobs, job{&ts.valid[i], i, es, now, ttl})
	}
	for i := range ts.expired {
		jobs = append(jobs, job{&ts.expired[i], n + i, i%2 == 1, now.Add(-2 * time.Hour), time.Hour})
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(jobs); i += workers {
				j := jobs[i]
				tok, err := p.mint(p.claims(j.n, j.start, j.ttl), j.es)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				*j.out = tok
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("mint: %w", firstErr)
	}
	if m[kindBadSig] > 0 {
		for _, tok := range ts.valid[:min(len(ts.valid), maxDistinctInvalid)] {
			ts.badsig = append(ts.badsig, corruptSignature(tok))
		}
	}
	if m[kindOpaque] > 0 {
		for i := range n {
			ts.opaque = append(ts.opaque, p.issueOpaque(i))
		}
	}
	return ts, nil
}

// corruptSignature changes one byte in the middle of the signature and
// re-encodes it, so the token stays canonical base64url and only the
// signature check fails.
func corruptSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) == 0 {
		return tok + "x"
	}
	sig[len(sig)/2] ^= 0x5a
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// buildSlots lays the mix out over a cycle of requests: each kind gets its
// share of the slots, interleaved evenly, every valid token once per cycle
// (so with a cache, each is seen again after one cycle), and the source
// addresses round-robin.
func buildSlots(m mix, ts *tokenSet, sources []string) []slot {
	n := 1000
	if m[kindValid] > 0 && len(ts.valid) > 0 {
		n = int(float64(len(ts.valid))/m[kindValid] + 0.5)
	}
	n = max(1, min(n, 1_000_000))
	// Largest-remainder interleaving: at slot i pick the kind furthest
	// behind its share.
	names := make([]string, 0, len(m))
	for k, w := range m {
		if w > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	given := map[string]int{}
	next := map[string]int{}
	out := make([]slot, n)
	for i := range out {
		best, bestDef := "", -1.0
		for _, k := range names {
			if def := m[k]*float64(i+1) - float64(given[k]); def > bestDef {
				best, bestDef = k, def
			}
		}
		given[best]++
		s := slot{kind: best, source: sources[i%len(sources)]}
		pick := func(list []string) string {
			if len(list) == 0 {
				return ""
			}
			v := list[next[best]%len(list)]
			next[best]++
			return v
		}
		switch best {
		case kindValid:
			s.auth = "Bearer " + pick(ts.valid)
		case kindBadSig:
			s.auth = "Bearer " + pick(ts.badsig)
		case kindExpired:
			s.auth = "Bearer " + pick(ts.expired)
		case kindOpaque:
			s.auth = "Bearer " + pick(ts.opaque)
		case kindBasic:
			u := "svc-user" + strconv.Itoa(given[best]%64)
			s.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":correct-horse"))
		}
		out[i] = s
	}
	return out
}

// parseSources expands "10.1.0.0/24,192.0.2.7" into addresses: a CIDR
// gives up to limit addresses from its start.
func parseSources(s string, limit int) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("sources: %q is not an address or CIDR", part)
			}
			out = append(out, a.String())
			continue
		}
		pfx, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("sources: %q is not an address or CIDR", part)
		}
		a := pfx.Masked().Addr()
		for range limit {
			if !pfx.Contains(a) {
				break
			}
			out = append(out, a.String())
			a = a.Next()
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sources: %q gives no address", s)
	}
	return out, nil
}
