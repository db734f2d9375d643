package policy

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPathBytes bounds the raw path NormalizePath accepts.
const MaxPathBytes = 8 << 10

// Path errors. Each one makes the router answer 400 malformed_request.
var (
	errPathNotAbsolute = errors.New("policy: path does not start with '/'")
	errPathTooLong     = errors.New("policy: path longer than 8 KiB")
	errPathControl     = errors.New("policy: control character in path")
	errPathEscape      = errors.New("policy: invalid percent-escape in path")
	errPathAboveRoot   = errors.New("policy: '..' above the root")
)

// NormalizePath normalises a raw request path (no query) the way Tomcat
// resolves it before a servlet sees it (security catalogue G1,
// atlassian.md §2.6):
//
//   - ";params" are stripped from every segment, up to the next '/'
//     (so "..;" counts as "..", Tomcat CoyoteAdapter.parsePathParameters);
//   - %XX escapes of unreserved characters (ALPHA DIGIT - . _ ~) are
//     decoded ("%72" → "r", "%2e" → "."); every other escape is kept
//     encoded with upper-case hex digits ("%2f" → "%2F");
//   - '\' is treated as '/', "//" is merged, "." and ".." segments are
//     resolved;
//   - a trailing '/' is kept.
//
// ambiguous is true when any of those steps changed something, or when the
// path holds something Tomcat, Envoy and restguard may read differently:
// an encoded '/', '\', '%', control or non-ASCII byte (%2F, %5C, %25,
// %00-%1F, %7F, %80-%FF), a segment ending in '.', a raw non-ASCII byte, or
// a raw '#' or '?'. The router refuses ambiguous paths on pass rules only.
//
// err is non-nil when the path cannot be made safe: it does not start with
// '/' (including absolute-form "http://..."), holds a raw control character
// or NUL, a ".." above the root, an invalid %-escape, or is longer than
// MaxPathBytes.
//
// NormalizePath is idempotent: NormalizePath(clean) returns clean again,
// and is ambiguous again only for the intrinsic reasons above (an escape
// that stays encoded, a trailing dot, non-ASCII), never because something
// changed.
func NormalizePath(raw string) (clean string, ambiguous bool, err error) {
	clean, changed, suspicious, err := normalize(raw)
	return clean, changed || suspicious, err
}

// normalize is NormalizePath with the two kinds of ambiguity apart:
// changed (a transformation altered the path) and suspicious (the clean
// path itself holds something ambiguous).
//
// It stays one function on purpose: it is one pass over the bytes on the
// request path (after fastPath, which clean paths never leave), and each
// branch mirrors one step of Tomcat's CoyoteAdapter.postParseRequest,
// which runs parsePathParameters, then UDecoder.convert (%XX decoding),
// then CoyoteAdapter.normalize:
//
//   - longer than MaxPathBytes: errPathTooLong (Tomcat bounds the request
//     line by maxHttpHeaderSize, 8 KiB by default);
//   - not starting with '/': errPathNotAbsolute (normalize: "The URL must
//     start with '/'");
//   - ';' in a segment: everything up to the next '/' is dropped, changed
//     (parsePathParameters strips ";name=value" parameters, up to ';' or
//     '/', before any decoding, so "..;" is "..");
//   - a raw control byte or DEL, in a segment or a parameter:
//     errPathControl (Tomcat's request-target parser refuses them with
//     400, and normalize refuses NUL);
//   - '%' not followed by two hex digits: errPathEscape (UDecoder.convert
//     throws, 400 "Invalid URI");
//   - %XX of an unreserved character: decoded, changed (UDecoder decodes
//     every escape);
//   - %XX of anything else: kept encoded, upper-case; suspicious when it
//     is '/', '\', '%', a control or a non-ASCII byte, which Tomcat
//     refuses, decodes or passes on depending on encodedSolidusHandling
//     and allowBackslash (and a decoded '%' can be decoded again
//     downstream), so restguard never guesses which;
//   - a raw non-ASCII byte, '#' or '?': kept, suspicious (the request
//     target parser refuses or relaxes them by configuration,
//     relaxedPathChars);
//   - an empty segment: "//" merged, changed (normalize: "Replace // with
//     /"); at the end, the trailing '/' is kept;
//   - a "." segment: removed, changed (normalize: "/./"); at the end the
//     path keeps a trailing '/' (normalize appends '/' to "/." and "/..");
//   - a ".." segment: removes the segment before it, changed (normalize:
//     "/../"); with none before it, errPathAboveRoot (normalize returns
//     false: "going above the root", 400);
//   - another segment ending in '.': kept, suspicious (Tomcat keeps the
//     dot; other servers and file systems drop it);
//   - '\' as a separator: read as '/', changed (normalize turns it into
//     '/' only with allowBackslash, and otherwise answers 400; restguard
//     reads it as a separator and marks the path changed, so that no pass
//     rule matches it).
func normalize(raw string) (clean string, changed, suspicious bool, err error) {
	if len(raw) > MaxPathBytes {
		return "", false, false, errPathTooLong
	}
	if raw == "" || raw[0] != '/' {
		return "", false, false, errPathNotAbsolute
	}
	if fastPath(raw) {
		return raw, false, false, nil
	}

	var (
		out      = make([]byte, 0, len(raw))
		starts   = make([]int, 0, 16) // start offset in out of each kept segment (after its '/')
		trailing bool                 // the path ends in a directory ("/", "/.", "/..")
	)
	i := 1
	for {
		// One raw segment: raw[i:end] up to '/', '\' or the end.
		segStart := len(out)
		out = append(out, '/')
		j := i
		for ; j < len(raw) && raw[j] != '/' && raw[j] != '\\'; j++ {
			c := raw[j]
			switch {
			case c == ';':
				// Path parameter: Tomcat drops everything up to the next '/'.
				changed = true
				for j < len(raw) && raw[j] != '/' {
					if raw[j] < 0x20 || raw[j] == 0x7f {
						return "", false, false, errPathControl
					}
					j++
				}
				j-- // the loop increment lands on '/' or the end
			case c < 0x20 || c == 0x7f:
				return "", false, false, errPathControl
			case c == '%':
				if j+2 >= len(raw) || !isHex(raw[j+1]) || !isHex(raw[j+2]) {
					return "", false, false, errPathEscape
				}
				b := unhex(raw[j+1])<<4 | unhex(raw[j+2])
				if isUnreserved(b) {
					out = append(out, b)
					changed = true
				} else {
					out = append(out, '%', upperHex(raw[j+1]), upperHex(raw[j+2]))
					if b == '/' || b == '\\' || b == '%' || b < 0x20 || b >= 0x7f {
						suspicious = true
					}
				}
				j += 2
			case c >= 0x80 || c == '#' || c == '?':
				out = append(out, c)
				suspicious = true
			default:
				out = append(out, c)
			}
		}
		seg := out[segStart+1:]
		last := j >= len(raw)
		switch {
		case len(seg) == 0:
			out = out[:segStart]
			if last {
				trailing = true
			} else {
				changed = true // "//" merged
			}
		case len(seg) == 1 && seg[0] == '.':
			out = out[:segStart]
			changed, trailing = true, last
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if len(starts) == 0 {
				return "", false, false, errPathAboveRoot
			}
			out = out[:starts[len(starts)-1]-1]
			starts = starts[:len(starts)-1]
			changed, trailing = true, last
		default:
			if seg[len(seg)-1] == '.' {
				suspicious = true
			}
			starts = append(starts, segStart+1)
		}
		if last {
			break
		}
		if raw[j] == '\\' {
			changed = true
		}
		i = j + 1
	}
	if len(out) == 0 || trailing {
		out = append(out, '/')
	}
	return string(out), changed, suspicious, nil
}

// fastPath reports whether raw is already clean and unambiguous: only
// printable ASCII other than '%', ';', '\', '#' and '?', no empty segment
// except a trailing one, and no segment ending in '.' (which also covers
// "." and "..").
func fastPath(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x20 || c >= 0x7f:
			return false
		case c == '%' || c == ';' || c == '\\' || c == '#' || c == '?':
			return false
		case c == '/':
			if i+1 < len(raw) && raw[i+1] == '/' {
				return false
			}
		case c == '.':
			if i+1 == len(raw) || raw[i+1] == '/' {
				return false
			}
		}
	}
	return true
}

func isUnreserved(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// segments appends the segments of a clean path to dst. A trailing '/'
// is not a segment: "/a/b/" and "/a/b" give the same segments, and "/"
// gives none.
func segments(clean string, dst []string) []string {
	s := strings.TrimPrefix(clean, "/")
	for s != "" {
		seg, rest, found := strings.Cut(s, "/")
		dst = append(dst, seg)
		if !found {
			break
		}
		s = rest
	}
	return dst
}

// glob is a compiled path pattern: its segments, with "*" matching exactly
// one segment and at most one "**" matching zero or more.
type glob struct {
	segs []string
	dbl  int // index of "**" in segs, -1 if none
}

// compileGlob validates and compiles a path pattern. Patterns are written
// against normalised paths (see NormalizePath), so they must be clean
// themselves: absolute, no empty, "." or ".." segments, no ';', '%', '\',
// '?', '#', controls or non-ASCII, and '*' only as a whole segment.
func compileGlob(pattern string) (glob, error) {
	g := glob{dbl: -1}
	if pattern == "" || pattern[0] != '/' {
		return g, fmt.Errorf("path pattern %q must start with '/'", pattern)
	}
	if pattern == "/" {
		return g, nil
	}
	for i, seg := range strings.Split(pattern[1:], "/") {
		switch {
		case seg == "":
			return g, fmt.Errorf("path pattern %q has an empty segment (\"//\" or a trailing '/')", pattern)
		case seg == "." || seg == "..":
			return g, fmt.Errorf("path pattern %q has a %q segment", pattern, seg)
		case seg == "**":
			if g.dbl >= 0 {
				return g, fmt.Errorf("path pattern %q has more than one \"**\"", pattern)
			}
			g.dbl = i
		case seg == "*":
		case strings.Contains(seg, "*"):
			return g, fmt.Errorf("path pattern %q: '*' must be a whole segment", pattern)
		case strings.ContainsAny(seg, ";%\\?#"):
			return g, fmt.Errorf("path pattern %q has one of ; %% \\ ? # (patterns match normalised paths)", pattern)
		}
		for j := 0; j < len(seg); j++ {
			if c := seg[j]; c <= 0x20 || c >= 0x7f {
				return g, fmt.Errorf("path pattern %q has a space, control or non-ASCII character", pattern)
			}
		}
		g.segs = append(g.segs, seg)
	}
	return g, nil
}

// match reports whether the segments of a clean path match g. With fold,
// literal segments compare ASCII case-insensitively.
func (g *glob) match(segs []string, fold bool) bool {
	if g.dbl < 0 {
		return len(segs) == len(g.segs) && segsEqual(g.segs, segs, fold)
	}
	pre, suf := g.segs[:g.dbl], g.segs[g.dbl+1:]
	if len(segs) < len(pre)+len(suf) {
		return false
	}
	return segsEqual(pre, segs[:len(pre)], fold) && segsEqual(suf, segs[len(segs)-len(suf):], fold)
}

func segsEqual(pat, segs []string, fold bool) bool {
	for i, p := range pat {
		s := segs[i]
		switch {
		case p == "*":
			if s == "" {
				return false
			}
		case fold:
			if !asciiEqualFold(p, s) {
				return false
			}
		case p != s:
			return false
		}
	}
	return true
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// MatchGlob reports whether a path matches a path pattern with the
// router's rules: the path is normalised first, an ambiguous or invalid
// path never matches, and an invalid pattern never matches. It compiles
// the pattern on every call; it is meant for tests and tools, not for the
// request path.
func MatchGlob(pattern, path string) bool {
	g, err := compileGlob(pattern)
	if err != nil {
		return false
	}
	clean, ambiguous, err := NormalizePath(path)
	if err != nil || ambiguous {
		return false
	}
	var buf [16]string
	return g.match(segments(clean, buf[:0]), false)
}

// productViews calls fn with each other path the product may serve for a
// clean path (segs are its segments, trailing says whether it ends in
// '/'), so that the router and the policies judge what the product will
// actually run:
//
//   - Atlassian's UrlRewriteFilter forwards "/s/<x>/_/<rest>" to "/<rest>"
//     (staticRewrites);
//   - Atlassian's REST module serves ".../name.json" as ".../name" with the
//     matching Accept header (representationSuffix);
//   - and each forward with its suffix removed.
//
// fn returns true to stop; productViews reports whether it did.
func productViews(segs []string, trailing bool, fn func(view []string) bool) bool {
	if v, ok := withoutSuffix(segs, trailing); ok && fn(v) {
		return true
	}
	return staticRewrites(segs, trailing, func(rw []string) bool {
		if fn(rw) {
			return true
		}
		v, ok := withoutSuffix(rw, trailing)
		return ok && fn(v)
	})
}

// representationSuffix holds the extensions of Atlassian's REST module
// (com.atlassian.plugins.rest.common.filter.ExtensionJerseyFilter): a REST
// path ending in ".json" is served as the path without it, with
// "Accept: application/json". The filter looks at the text after the last
// '.' of the path, case-sensitively, so ".JSON" and "x.json/" are
// literal.
var representationSuffix = map[string]bool{"txt": true, "htm": true, "html": true, "json": true, "xml": true, "atom": true}

// withoutSuffix returns the segments of a REST path (a "rest" segment
// below a context path of up to maxContextDepth segments) with its
// representation suffix removed, and false when the path has none.
func withoutSuffix(segs []string, trailing bool) ([]string, bool) {
	n := len(segs)
	if trailing || n < 2 {
		return nil, false
	}
	rest := false
	for i := 0; i <= maxContextDepth && i < n-1; i++ {
		if segs[i] == "rest" {
			rest = true
			break
		}
	}
	last := segs[n-1]
	dot := strings.LastIndexByte(last, '.')
	if !rest || dot < 0 || !representationSuffix[last[dot+1:]] {
		return nil, false
	}
	view := make([]string, 0, n)
	view = append(view, segs[:n-1]...)
	if dot > 0 {
		view = append(view, last[:dot])
	}
	return view, true
}

// staticRewrites calls fn with each path Atlassian's UrlRewriteFilter may
// forward a clean path to: the rule "^/s/(.*)/_/(.*)" → "/$2", tried below
// a context path of up to maxContextDepth segments. segs are the path's
// segments and trailing says whether it ends in '/'. "(.*)" is greedy, so
// the forward goes after the last "_" segment that a '/' follows. fn
// returns true to stop; staticRewrites reports whether it did.
// The "s" segment is compared case-insensitively.
func staticRewrites(segs []string, trailing bool, fn func(rewritten []string) bool) bool {
	last := -1
	j := len(segs) - 1
	if !trailing {
		j-- // the last segment is not followed by '/'
	}
	for ; j >= 2; j-- {
		if segs[j] == "_" {
			last = j
			break
		}
	}
	if last < 0 {
		return false
	}
	for i := 0; i < maxContextDepth && i+1 < last; i++ {
		// UrlRewriteFilter's <from> is case-insensitive by default, so
		// "/S/x/_/rest" is forwarded too.
		if !asciiEqualFold(segs[i], "s") {
			continue
		}
		rewritten := make([]string, 0, i+len(segs)-last-1)
		rewritten = append(rewritten, segs[:i]...)
		rewritten = append(rewritten, segs[last+1:]...)
		if fn(rewritten) {
			return true
		}
	}
	return false
}

// maxContextDepth bounds how deep a context path ("/jira") the static
// rewrite check looks for the "s" segment.
const maxContextDepth = 8
