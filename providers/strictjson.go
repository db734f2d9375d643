package providers

// The strict JSON decoder every JOSE header, claims set and provider
// answer goes through (security catalogue D8). claims.go reads claims out
// of what it returns.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a JOSE header or claims set. Real
// tokens nest two or three levels; 20 000 nested arrays are an attack (B6).
const maxJSONDepth = 32

var (
	errDuplicateMember = errors.New("duplicate member name")
	errTooDeep         = errors.New("json nested too deeply")
)

// decodeStrict decodes a JSON object the way every part of restguard must
// see it: valid UTF-8, no duplicate member names at any level (security
// catalogue D8: one parser validating and another mapping the identity must
// never disagree), numbers kept as json.Number, no trailing data. Member
// names are exact and case-sensitive.
//
// It is on every new token's path (header and claims), so it parses in one
// pass (strictParser) instead of json.Decoder.Token per token. At the
// first thing that is not well-formed JSON it hands the input to
// decodeStrictTokens, whose messages are the reference; duplicates and
// depth are reported where the token decoder meets them, in document
// order. FuzzStrictJSONFast holds the two to the same answers.
func decodeStrict(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("json is not valid utf-8")
	}
	p := strictParser{data: data, i: skipSpace(data, 0)}
	if p.i >= len(data) || data[p.i] != '{' {
		return decodeStrictTokens(data)
	}
	obj, err := p.object(1)
	if err == nil && skipSpace(data, p.i) != len(data) {
		err = errors.New("json has trailing data")
	}
	if err == errNotJSON {
		return decodeStrictTokens(data)
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// errNotJSON stops strictParser at input that is not well-formed JSON.
var errNotJSON = errors.New("not well-formed json")

// strictParser parses JSON (RFC 8259, as encoding/json reads it) into
// map[string]any, []any, string, json.Number, bool and nil, refusing
// duplicate member names and nesting beyond maxJSONDepth. The input is
// valid UTF-8 (decodeStrict checks first).
type strictParser struct {
	data []byte
	i    int
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// object parses the object at data[i] == '{' whose nesting level is level
// (the top object is 1; every container inside is one more).
func (p *strictParser) object(level int) (map[string]any, error) {
	if level > maxJSONDepth {
		return nil, errTooDeep
	}
	var obj map[string]any
	if level == 1 {
		obj = make(map[string]any, 16) // a claims set: a dozen members, grown once less
	} else {
		obj = map[string]any{}
	}
	p.i = skipSpace(p.data, p.i+1)
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, errNotJSON
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("%w %q", errDuplicateMember, truncate(name))
		}
		p.i = skipSpace(p.data, p.i)
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, errNotJSON
		}
		p.i = skipSpace(p.data, p.i+1)
		v, err := p.value(level + 1)
		if err != nil {
			return nil, err
		}
		obj[name] = v
		p.i = skipSpace(p.data, p.i)
		if p.i >= len(p.data) {
			return nil, errNotJSON
		}
		switch p.data[p.i] {
		case ',':
			p.i = skipSpace(p.data, p.i+1)
		case '}':
			p.i++
			return obj, nil
		default:
			return nil, errNotJSON
		}
	}
}

// value parses the value at data[i]; a container there has nesting level
// level.
func (p *strictParser) value(level int) (any, error) {
	if p.i >= len(p.data) {
		return nil, errNotJSON
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(level)
	case c == '[':
		if level > maxJSONDepth {
			return nil, errTooDeep
		}
		arr := []any{}
		p.i = skipSpace(p.data, p.i+1)
		if p.i < len(p.data) && p.data[p.i] == ']' {
			p.i++
			return arr, nil
		}
		for {
			v, err := p.value(level + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.i = skipSpace(p.data, p.i)
			if p.i >= len(p.data) {
				return nil, errNotJSON
			}
			switch p.data[p.i] {
			case ',':
				p.i = skipSpace(p.data, p.i+1)
			case ']':
				p.i++
				return arr, nil
			default:
				return nil, errNotJSON
			}
		}
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		for _, lit := range [...]struct {
			text string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if bytes.HasPrefix(p.data[p.i:], []byte(lit.text)) {
				p.i += len(lit.text)
				return lit.v, nil
			}
		}
		return nil, errNotJSON
	}
}

// str parses the string at data[i] == '"'. A string without escapes is
// its bytes; one with escapes is unquoted by encoding/json itself, so that
// escapes (surrogates included) read exactly as the token decoder reads
// them.
func (p *strictParser) str() (string, error) {
	start := p.i
	escaped := false
	for p.i++; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			if !escaped {
				return string(p.data[start+1 : p.i-1]), nil
			}
			var s string
			if json.Unmarshal(p.data[start:p.i], &s) != nil {
				return "", errNotJSON
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.i++ // the escaped byte; Unmarshal checks the escape
		case c < 0x20:
			return "", errNotJSON // a control character must be escaped
		}
	}
	return "", errNotJSON
}

// number parses the number at data[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// kept as its text (json.Number, as UseNumber does).
func (p *strictParser) number() (json.Number, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case digits() == 0:
		return "", errNotJSON
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", errNotJSON
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", errNotJSON
		}
	}
	return json.Number(p.data[start:p.i]), nil
}

// decodeStrictTokens is the strict decoder token by token
// (json.Decoder.Token): the reference for decodeStrict, and its path for
// input that does not start as an object.
func decodeStrictTokens(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("json is not valid utf-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("json is not an object")
	}
	obj, err := decodeObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("json has trailing data")
	}
	return obj, nil
}

func decodeObject(dec *json.Decoder, depth int) (map[string]any, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("json: member name is not a string")
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("%w %q", errDuplicateMember, truncate(name))
		}
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("json: %w", err)
	}
	return obj, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		return decodeObject(dec, depth+1)
	case '[':
		if depth+1 > maxJSONDepth {
			return nil, errTooDeep
		}
		arr := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, fmt.Errorf("json: %w", err)
		}
		return arr, nil
	default:
		return nil, fmt.Errorf("json: unexpected %q", d)
	}
}
