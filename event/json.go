package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// This file holds a small, allocation-free JSON scanner used on the hot path
// (Parse, FromCloudEvent). It validates RFC 8259 grammar in one pass while
// walking only the top-level object, so the envelope's data can be kept as
// the raw bytes it arrived as. UTF-8 validity is checked separately with
// utf8.Valid over the whole input.

// maxDepth bounds nesting so a hostile body cannot make the scanner (or a
// consumer decoding data later) recurse without limit. encoding/json allows
// 10000; event payloads never come near 1000.
const maxDepth = 1000

var errTooDeep = fmt.Errorf("nesting deeper than %d levels", maxDepth)

// syntaxError is returned by the scanner; it carries the byte offset.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.msg, e.offset)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func errAt(msg string, i int) error { return &syntaxError{msg: msg, offset: i} }

// skipValue validates the JSON value starting at b[i] (no leading space) and
// returns the index just past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errAt("unexpected end of input", i)
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	default:
		return i, errAt(fmt.Sprintf("invalid character %q looking for a value", c), i)
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errAt("invalid literal, expected "+lit, i)
	}
	return i + len(lit), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, errAt("invalid number", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, errAt("invalid number: digit expected after '.'", i)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, errAt("invalid number: digit expected in exponent", i)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes returns a mask whose lowest set bit is the high bit of the
// first byte of x (little-endian) that is '"', '\\' or below 0x20; it is zero
// when there is none. Bits above the lowest one may be false positives
// (borrows), so only the lowest is meaningful.
func specialBytes(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (s-lsb)&^s) & msb
}

// skipString validates the string starting at b[i] == '"' and returns the
// index just past the closing quote.
func skipString(b []byte, i int) (int, error) {
	start := i
	i++
	for i < len(b) {
		// Skip eight plain bytes (none is '"', '\\' or a control character)
		// at a time; the byte-wise switch below handles the first special one.
		for len(b)-i >= 8 {
			m := specialBytes(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i, errAt("unterminated escape in string", i)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, errAt(`invalid \u escape in string`, i)
				}
				i += 6
			default:
				return i, errAt(fmt.Sprintf("invalid escape %q in string", b[i+1]), i)
			}
		case c < 0x20:
			return i, errAt("control character in string", i)
		default:
			i++
		}
	}
	return i, errAt("unterminated string", start)
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errAt("object key expected", i)
		}
		var err error
		if i, err = skipString(b, i); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, errAt("':' expected after object key", i)
		}
		i = skipSpace(b, i+1)
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, errAt("unexpected end of input in object", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, errAt("',' or '}' expected in object", i)
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, errAt("unexpected end of input in array", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, errAt("',' or ']' expected in array", i)
		}
	}
}

// validJSON reports whether b is exactly one JSON value with optional
// surrounding white space. It does not check UTF-8.
func validJSON(b []byte) error {
	i := skipSpace(b, 0)
	i, err := skipValue(b, i, 0)
	if err != nil {
		return err
	}
	if i = skipSpace(b, i); i != len(b) {
		return errAt("unexpected data after the top-level value", i)
	}
	return nil
}

// objectIter walks the members of a top-level JSON object, validating every
// value on the way. Keys and values are sub-slices of the input.
type objectIter struct {
	b   []byte
	i   int
	n   int // members returned so far
	end bool
}

var errNotObject = errors.New("top-level value must be a JSON object")

// newObjectIter checks that b starts (after white space) with '{'.
func newObjectIter(b []byte) (objectIter, error) {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return objectIter{}, errAt("empty input", i)
	}
	if b[i] != '{' {
		return objectIter{}, errNotObject
	}
	return objectIter{b: b, i: i + 1}, nil
}

// next returns the next member. ok is false at the end of the object, after
// which next has checked that nothing but white space follows.
func (it *objectIter) next() (key, val []byte, ok bool, err error) {
	if it.end {
		return nil, nil, false, nil
	}
	b := it.b
	i := skipSpace(b, it.i)
	if it.n == 0 {
		if i < len(b) && b[i] == '}' {
			return it.finish(i + 1)
		}
	} else {
		if i >= len(b) {
			return nil, nil, false, errAt("unexpected end of input in object", i)
		}
		switch b[i] {
		case '}':
			return it.finish(i + 1)
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, nil, false, errAt("',' or '}' expected in object", i)
		}
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false, errAt("object key expected", i)
	}
	ks := i
	if i, err = skipString(b, i); err != nil {
		return nil, nil, false, err
	}
	key = b[ks+1 : i-1]
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false, errAt("':' expected after object key", i)
	}
	i = skipSpace(b, i+1)
	vs := i
	if i, err = skipValue(b, i, 1); err != nil {
		return nil, nil, false, err
	}
	it.i = i
	it.n++
	return key, b[vs:i], true, nil
}

func (it *objectIter) finish(i int) ([]byte, []byte, bool, error) {
	it.end = true
	if i = skipSpace(it.b, i); i != len(it.b) {
		return nil, nil, false, errAt("unexpected data after the top-level object", i)
	}
	return nil, nil, false, nil
}

// hasEscape reports whether a raw (already validated) string body contains
// a backslash.
func hasEscape(s []byte) bool {
	for _, c := range s {
		if c == '\\' {
			return true
		}
	}
	return false
}

// matchKey looks a raw object key (between the quotes, escapes allowed)
// up in names. It returns the index of the name the key equals, or -1.
// folded reports a key that is not spelt like any name but equals one
// case-insensitively ("Event_ID", or with the Kelvin sign for 'k'):
// encoding/json would treat such a key as the field, so callers refuse it
// rather than let two decoders disagree about the same bytes. An escaped key
// is decoded once; keys too long to be an escaped name are not decoded.
func matchKey(raw []byte, names []string) (idx int, folded bool) {
	key := raw
	if hasEscape(raw) {
		if len(raw) > 6*maxNameLen {
			return -1, false
		}
		key = []byte(unescape(raw))
	}
	for i, n := range names {
		if string(key) == n {
			return i, false
		}
	}
	for i, n := range names {
		// A case-folded match is at most 3 bytes per byte of n.
		if len(key) >= len(n) && len(key) <= 3*len(n) && strings.EqualFold(string(key), n) {
			return i, true
		}
	}
	return -1, false
}

// maxNameLen is the longest name passed to matchKey.
const maxNameLen = len("datacontenttype")

// unescape decodes a validated raw string body that contains escapes.
func unescape(raw []byte) string {
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	if err := json.Unmarshal(q, &s); err != nil {
		return "" // unreachable for validated input
	}
	return s
}

// stringValue returns the value of a JSON string token (with quotes), or
// ok=false when the token is not a string.
func stringValue(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	body := val[1 : len(val)-1]
	if hasEscape(body) {
		return unescape(body), true
	}
	return string(body), true
}

// stringBytes is stringValue without the conversion: the string's bytes,
// aliasing val unless the string has escapes.
func stringBytes(val []byte) ([]byte, bool) {
	if len(val) < 2 || val[0] != '"' {
		return nil, false
	}
	body := val[1 : len(val)-1]
	if hasEscape(body) {
		return []byte(unescape(body)), true
	}
	return body, true
}

// jsonKind names the JSON type of a token for error messages.
func jsonKind(val []byte) string {
	if len(val) == 0 {
		return "nothing"
	}
	switch val[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json
// (including <, > and &, so output is safe to embed in HTML).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Fields are validated printable ASCII; any other byte (only
		// reachable by a caller bypassing validation) passes unchanged.
		if c >= 0x80 || (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// stringLen returns len(appendString(nil, s)) without allocating.
func stringLen(s string) int {
	n := 2 + len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			n++
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 5
		}
	}
	return n
}
