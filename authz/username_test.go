package authz

import (
	"testing"
	"unicode/utf8"
)

// TestFoldNameAgreesWithJava: FoldName against what Java's
// String.toLowerCase(Locale.ENGLISH) returns. The expectations follow
// SpecialCasing.txt's language-independent conditional mappings as the
// JDK applies them (ConditionalSpecialCasing: U+0130 to "i\u0307", U+03A3
// to final sigma when Final_Cased within the BreakIterator word) and
// UnicodeData's simple mappings for everything else.
func TestFoldNameAgreesWithJava(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, java string }{
		{"ascii", "Former-ADMIN", "former-admin"},
		{"already_lower", "alice", "alice"},
		{"dotted_capital_i_alone", "\u0130", "i\u0307"},
		{"dotted_capital_i_inside", "adm\u0130n", "admi\u0307n"},
		{"sigma_at_word_end", "ΟΔΟΣ", "οδος"},
		{"sigma_inside_word", "ΑΣΑ", "ασα"},
		{"sigma_alone", "Σ", "σ"},
		{"sigma_at_word_start_and_end", "ΣΑΣ", "σας"},
		{"sigma_before_space", "ΟΔΟΣ ΟΔΟΣ", "οδος οδος"},
		{"sigma_period_letter_one_word", "ΑΣ.Β", "ασ.β"},
		{"sigma_hyphen_letter_one_word", "ΑΣ-Β", "ασ-β"},
		{"sigma_apostrophe_letter_one_word", "ΑΣ'Β", "ασ'β"},
		{"sigma_underscore_is_a_boundary", "ΑΣ_Β", "ας_β"},
		{"sigma_before_digit", "ΑΣ1", "ας1"},
		{"sigma_digit_letter_one_word", "ΑΣ1Β", "ασ1β"},
		{"sigma_after_digit_only", "1Σ", "1σ"},
		{"sigma_after_latin_period", "A.Σ", "a.ς"},
		{"sigma_combining_mark_after", "ΑΣ\u0301", "ας\u0301"},
		{"sharp_s_unchanged", "ß", "ß"},
		{"capital_sharp_s", "\u1E9E", "ß"},
		{"ohm_sign", "\u2126", "\u03C9"},
		{"kelvin_sign", "\u212Aate", "kate"},
		{"angstrom_sign", "\u212B", "\u00E5"},
		{"titlecase_dz", "\u01C5", "\u01C6"},
		{"latin1", "JÜRGEN", "jürgen"},
		{"cyrillic", "АДМИН", "админ"},
		{"fullwidth", "\uFF21DMIN", "\uFF41dmin"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FoldName(tc.in); got != tc.java {
				t.Errorf("FoldName(%+q) = %+q, Java gives %+q", tc.in, got, tc.java)
			}
		})
	}
}

// TestLowerNameRefusesWhatJavaFoldsDifferently: the lowercase transform
// folds ASCII only and refuses a name with a non-ASCII rune the product's
// folding would change, so "admİn" can never become the ASCII "admin".
func TestLowerNameRefusesWhatJavaFoldsDifferently(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ALICE", "alice", true},
		{"Bob_ß", "bob_ß", true},
		{"jürgen", "jürgen", true},
		{"alice@CORP.example", "alice@corp.example", true},
		{"adm\u0130n", "", false},
		{"\u212Aate", "", false},
		{"\u2126", "", false},
		{"JÜRGEN", "", false},
		{"ΟΔΟΣ", "", false},
		{"\u01C5", "", false},
	} {
		got, ok := LowerName(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("LowerName(%+q) = %+q, %v; want %+q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzFoldName: FoldName is idempotent, and wherever LowerName accepts a
// name it agrees with FoldName.
func FuzzFoldName(f *testing.F) {
	for _, s := range []string{"Admin", "adm\u0130n", "ΟΔΟΣ ΑΣ.Β", "\u212A", "ΑΣ1Β_Σ", "x\u0301Σ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		folded := FoldName(s)
		if again := FoldName(folded); again != folded {
			t.Errorf("FoldName not idempotent: %+q -> %+q -> %+q", s, folded, again)
		}
		if lower, ok := LowerName(s); ok && lower != folded {
			t.Errorf("LowerName(%+q) = %+q, FoldName %+q", s, lower, folded)
		}
	})
}
