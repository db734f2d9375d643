package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds the configuration file size.
const MaxFileBytes = 4 << 20

// Error is one configuration error with its position, printed as
// "restguard.yaml:42: rules[3].ip.allow[1]: invalid CIDR \"10.0.0.300/8\"".
type Error struct {
	File string
	Line int    // 0 when unknown
	Path string // "rules[3].ip.allow[1]"; "" for file-level errors
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and strictly decodes a configuration file. It reports every
// error it finds, each with file and line, joined with errors.Join.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Err: fmt.Errorf("file larger than %d bytes", MaxFileBytes)}
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes configuration bytes; name is used in error messages.
func Parse(name string, data []byte) (*Config, error) {
	var cfg Config
	var errs []error

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, tabLine(convertYAMLError(name, err), data)
	}
	if root.Kind == 0 {
		return nil, &Error{File: name, Err: errors.New("empty configuration")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, convertYAMLError(name, err)
		}
		// Type errors (unknown keys, wrong types) do not stop decoding: keep
		// the rest and report everything together.
		errs = append(errs, placeErrors(convertYAMLError(name, err), &root))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		errs = append(errs, &Error{File: name, Line: extra.Line, Err: errors.New("more than one YAML document")})
	}
	errs = append(errs, validate(name, &cfg, &root)...)
	cfg.file, cfg.root = name, &root
	if len(errs) > 0 {
		// What could be decoded is built too, so that one run reports
		// every mistake of the file: a wrong duration must not hide a
		// missing secret file or a bad path pattern (issue 12 §4).
		if _, err := Build(&cfg, BuildOptions{}); err != nil {
			errs = append(errs, err)
		}
		return nil, sortedErrors(errs)
	}
	return &cfg, nil
}

// sortedErrors flattens errs, drops repeats (a check in validate and the
// same one in Build) and sorts them by line, file-level errors first.
func sortedErrors(errs []error) error {
	var out []error
	seen := map[string]bool{}
	for _, e := range leafErrors(errors.Join(errs...)) {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	line := func(e error) int {
		var ce *Error
		if errors.As(e, &ce) {
			return ce.Line
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b error) int { return line(a) - line(b) })
	return errors.Join(out...)
}

// convertYAMLError turns yaml.v3 errors ("line 3: field x not found in
// type config.Rule") into *Error values.
func convertYAMLError(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []error
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		e := &Error{File: name, Err: errors.New(m)}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Err = errors.New(friendlyYAML(sm[2]))
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// placeErrors gives the decoding errors of yaml.v3 (which know only their
// line) a path, so they read like every other error: an unknown key gets
// the path of the mapping that holds it ("providers[0]: unknown key ..."),
// a bad value the path of its key ("check_timeout: expected a duration").
func placeErrors(err error, root *yaml.Node) error {
	var out []error
	for _, e := range leafErrors(err) {
		var ce *Error
		if !errors.As(e, &ce) || ce.Path != "" || ce.Line == 0 {
			out = append(out, e)
			continue
		}
		msg := ce.Err.Error()
		if rest, ok := strings.CutPrefix(msg, "unknown key "); ok {
			key, _ := strconv.Unquote(strings.Fields(rest)[0])
			if p, ok := keyPathAt(root, ce.Line, key); ok && p != "" {
				msg = strings.Replace(msg, " in "+lastWord(p), "", 1)
				ce = &Error{File: ce.File, Line: ce.Line, Path: p, Err: errors.New(msg)}
			}
		} else if p, ok := keyPathAt(root, ce.Line, ""); ok {
			ce = &Error{File: ce.File, Line: ce.Line, Path: p, Err: ce.Err}
		}
		out = append(out, ce)
	}
	return errors.Join(out...)
}

func lastWord(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	name, _, _ := strings.Cut(path, "[")
	return name
}

// keyPathAt finds key on line: it returns the path of the mapping that
// holds it ("providers[0]" for a misspelt key of the first provider; "" at
// the top level). With key "", it returns the path of the only key on line
// itself ("providers[0].client_secret"), and false when the line has none
// or several.
func keyPathAt(root *yaml.Node, line int, key string) (string, bool) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var found []string
	var find func(n *yaml.Node, path string)
	find = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				sub := k.Value
				if path != "" {
					sub = path + "." + k.Value
				}
				switch {
				case k.Line == line && key != "" && k.Value == key:
					found = append(found, path)
				case k.Line == line && key == "":
					found = append(found, sub)
				}
				find(v, sub)
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				find(e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	find(n, "")
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// tabLine corrects the line of yaml.v3's tab error, which names the line
// before the tab, and says what to do.
func tabLine(err error, data []byte) error {
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Err.Error(), "tab character") {
		return err
	}
	for i, l := range strings.Split(string(data), "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if i+1 >= ce.Line && strings.Contains(indent, "\t") {
			return &Error{File: ce.File, Line: i + 1, Err: errors.New("a tab in the indentation: YAML indents with spaces only")}
		}
	}
	return err
}

var typeName = regexp.MustCompile(`in type config\.(\w+)`)

// friendlyYAML rewrites Go type names into the YAML vocabulary.
func friendlyYAML(m string) string {
	if strings.HasPrefix(m, "field ") && strings.Contains(m, " not found in type ") {
		field := strings.TrimPrefix(m, "field ")
		field = field[:strings.Index(field, " not found")]
		where, hint := "", ""
		if sm := typeName.FindStringSubmatch(m); sm != nil {
			where = " in " + yamlWord(sm[1])
			hint = didYouMean(field, keysOf(sm[1])...)
		}
		return fmt.Sprintf("unknown key %q%s%s", field, where, hint)
	}
	return m
}

// snake turns a Go type name (NativeTokens) into the YAML spelling
// (native_tokens) for error messages.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// locate finds the line of a path like rules[3].ip.allow[1] in the
// document; it falls back to the nearest existing parent.
func locate(root *yaml.Node, path string) int {
	_, line, _ := walk(root, path)
	return line
}

// walk follows path from the document root as far as it exists. It
// returns the deepest node reached, the line to report for it (the key's
// line for scalar values), and whether the whole path was found.
func walk(root *yaml.Node, path string) (*yaml.Node, int, bool) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range splitPath(path) {
		var next *yaml.Node
		switch p := part.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						if next.Kind == yaml.ScalarNode || next.Line == 0 {
							line = n.Content[i].Line
						} else {
							line = next.Line
						}
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
				line = next.Line
			}
		}
		if next == nil {
			return n, line, false
		}
		n = next
	}
	return n, line, true
}

func splitPath(path string) []any {
	var out []any
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			out = append(out, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(idx); err == nil {
				out = append(out, i)
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return out
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}
