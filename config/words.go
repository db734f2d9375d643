package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// The configuration's vocabulary for error messages: the YAML spelling of
// each decoded type (so that "in type config.ClientIP" reads "in
// client_ip") and the keys each type accepts (for "did you mean").

var (
	wordsOnce sync.Once
	typeKeys  map[string][]string // Go type name → its YAML keys
	typeWord  map[string]string   // Go type name → the key that holds it
)

func words() {
	wordsOnce.Do(func() {
		typeKeys, typeWord = map[string][]string{}, map[string]string{}
		var walk func(t reflect.Type, key string)
		walk = func(t reflect.Type, key string) {
			for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[Config]().PkgPath() {
				return
			}
			if _, seen := typeKeys[t.Name()]; seen {
				return
			}
			if key != "" {
				typeWord[t.Name()] = key
			}
			var keys []string
			for i := range t.NumField() {
				f := t.Field(i)
				tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if tag == "" || tag == "-" || !f.IsExported() {
					continue
				}
				keys = append(keys, tag)
			}
			typeKeys[t.Name()] = keys
			for i := range t.NumField() {
				f := t.Field(i)
				tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if tag != "" && tag != "-" && f.IsExported() {
					walk(f.Type, tag)
				}
			}
		}
		walk(reflect.TypeFor[Config](), "")
		walk(reflect.TypeFor[Cases](), "")
	})
}

// yamlWord is the YAML spelling of a decoded Go type's name.
func yamlWord(goType string) string {
	words()
	if w, ok := typeWord[goType]; ok {
		return w
	}
	return snake(goType)
}

// keysOf lists the YAML keys a decoded Go type accepts.
func keysOf(goType string) []string {
	words()
	return typeKeys[goType]
}

// didYouMean returns ` (did you mean "x"?)` for the option closest to got,
// when one is close enough to be a typo, and "" otherwise.
func didYouMean(got string, options ...string) string {
	best, bestD := "", 0
	for _, o := range options {
		d := editDistance(strings.ToLower(got), strings.ToLower(o))
		if best == "" || d < bestD {
			best, bestD = o, d
		}
	}
	// A typo: a few edits, and fewer than half the word.
	if best == "" || bestD == 0 && got == best || bestD > 2 || bestD*2 >= len(best) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal-string-alignment distance of two short
// strings: insertions, deletions, substitutions and transpositions of
// neighbours ("crop" for "corp") cost one each.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func providerNames(c *Config) []string {
	names := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		names[i] = p.Name
	}
	return names
}
