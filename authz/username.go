package authz

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FoldName returns s lower-cased exactly as Jira, Confluence, Bitbucket and
// Bamboo compare user names: Crowd's IdentifierUtils.toLowerCase, which is
// Java's String.toLowerCase(Locale.ENGLISH). Two names the product treats
// as one user have the same FoldName; user lists and username maps compare
// folded names, and nothing else may fold names another way.
//
// Java lower-cases each code point with its simple mapping
// (Character.toLowerCase, from UnicodeData.txt, which unicode.ToLower also
// follows), except for the two language-independent conditional mappings
// of SpecialCasing.txt that String.toLowerCase applies (OpenJDK
// java/lang/ConditionalSpecialCasing.java, StringUTF16.toLowerCase):
//
//   - U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE becomes "i\u0307" (two
//     code points), never the ASCII "i" of its simple mapping;
//   - U+03A3 GREEK CAPITAL LETTER SIGMA becomes U+03C2 (final sigma) when
//     it is Final_Cased, else U+03C3.
//
// Final_Cased is decided as Java decides it: within the word (as Java's
// word BreakIterator bounds it) there is a cased letter before the sigma
// and none after it. The word bounds follow the JDK's word rules (letters
// joined by dashes, apostrophes, quotes and periods; digits by periods and
// commas; letters and digits run together); see javaWordBounds. Unicode
// versions differ between the Go toolchain and a product's JVM in rare
// letters: callers that deny on a match also compare with final and medial
// sigma merged (policy.Users).
func FoldName(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return lowerASCII(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 2)
	var bounds []bool
	for i, r := range rs {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if bounds == nil {
				bounds = javaWordBounds(rs)
			}
			if finalCased(rs, i, bounds) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// LowerName lower-cases the ASCII letters of s for the username transforms
// (`lowercase: true`). It never folds anything else: ok is false when s
// holds a non-ASCII rune that FoldName would change (İ, Σ, Ω, the Kelvin
// sign K, ...), because folding such a rune one way here and another way in
// the product (or mapping "admİn" to ASCII "admin", as full Unicode folding
// does) gives the product a different user than the one restguard judged.
// When ok is true, the result equals FoldName(s).
func LowerName(s string) (string, bool) {
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.ToLower(r) != r {
			return "", false
		}
	}
	return lowerASCII(s), true
}

// UsableName reports whether s can be handed to the upstream as a user
// name: the check the Engine applies to every identity before it allows
// (no control characters, no leading or trailing space, valid UTF-8, at
// most 1 KiB). A name that fails it is 401 username_missing everywhere.
func UsableName(s string) bool { return safeHeaderValue(s) }

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// finalCased is Java's ConditionalSpecialCasing.isFinalCased: within the
// word containing rs[i], a cased character before it and none after it.
func finalCased(rs []rune, i int, bounds []bool) bool {
	before := false
	for j := i; j > 0 && !bounds[j]; j-- {
		if cased(rs[j-1]) {
			before = true
			break
		}
	}
	if !before {
		return false
	}
	for j := i + 1; j < len(rs) && !bounds[j]; j++ {
		if cased(rs[j]) {
			return false
		}
	}
	return true
}

// cased is Java's ConditionalSpecialCasing.isCased: an upper, lower or
// title case letter, or one of the Other_Lowercase/Other_Uppercase ranges
// Java lists.
func cased(r rune) bool {
	switch {
	case unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt):
		return true
	case 0x02B0 <= r && r <= 0x02B8, 0x02C0 <= r && r <= 0x02C1, 0x02E0 <= r && r <= 0x02E4,
		r == 0x0345, r == 0x037A, 0x1D2C <= r && r <= 0x1D61, 0x2160 <= r && r <= 0x217F, 0x24B6 <= r && r <= 0x24E9:
		return true
	}
	return false
}

// javaWordBounds marks the word boundaries of rs (len(rs)+1 positions) the
// way the JDK's rule-based word BreakIterator (sun.text.resources
// BreakIteratorRules, "WordBreakRules") finds them, for the characters a
// user name holds:
//
//	$let      = [[:L:][:Mc:]] without Han, Hiragana and Katakana
//	$dgt      = [:N:]
//	$mid_word = [[:Pd:]\u00ad\u2027"'.]      (between letters)
//	$mid_num  = ["',\u066b.]                 (between digits)
//	$post_num = [%&\u00a2\u066a\u2030\u2031] (after a number)
//	$word     = $let+ ($mid_word $let+)*
//	$number   = $dgt+ ($mid_num $dgt+)*
//	token     = $word? ($number $word)* ($number $post_num?)?, longest match
//
// Non-spacing and enclosing marks and format characters ($_ignore_) stay
// with the character before them. Every other character is a token of its
// own.
func javaWordBounds(rs []rune) []bool {
	n := len(rs)
	bounds := make([]bool, n+1)
	bounds[0], bounds[n] = true, true
	skip := func(i int) int {
		for i < n && unicode.In(rs[i], unicode.Mn, unicode.Me, unicode.Cf) {
			i++
		}
		return i
	}
	// run consumes class+ (joiner class+)* from i.
	run := func(i int, class, joiner func(rune) bool) int {
		for {
			for i < n && class(rs[i]) {
				i = skip(i + 1)
			}
			if i+1 < n && joiner(rs[i]) {
				if j := skip(i + 1); j < n && class(rs[j]) {
					i = j
					continue
				}
			}
			return i
		}
	}
	for p := 0; p < n; {
		q := p
	token:
		for q < n {
			switch {
			case wordLetter(rs[q]):
				q = run(q, wordLetter, midWord)
			case unicode.IsNumber(rs[q]):
				q = run(q, unicode.IsNumber, midNum)
				if q < n && postNum(rs[q]) {
					q = skip(q + 1)
					break token
				}
			default:
				break token
			}
		}
		if q == p {
			q = skip(p + 1)
		}
		bounds[q] = true
		p = q
	}
	return bounds
}

func wordLetter(r rune) bool {
	return (unicode.IsLetter(r) || unicode.Is(unicode.Mc, r)) &&
		!unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

func midWord(r rune) bool {
	return unicode.Is(unicode.Pd, r) || r == 0x00AD || r == 0x2027 || r == '"' || r == '\'' || r == '.'
}

func midNum(r rune) bool { return r == '"' || r == '\'' || r == ',' || r == 0x066B || r == '.' }

func postNum(r rune) bool {
	return r == '%' || r == '&' || r == 0x00A2 || r == 0x066A || r == 0x2030 || r == 0x2031
}
