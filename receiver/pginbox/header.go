package pginbox

import (
	"encoding/binary"
	"errors"
	"net/http"
	"sort"
)

// Headers are stored in a bytea column in a small binary form rather than
// jsonb: header values may hold bytes that are not UTF-8 (HTTP allows them),
// which JSON would replace. The encoding is
//
//	uvarint(number of names)
//	per name, in sorted order: uvarint(len) name uvarint(number of values)
//	                           per value: uvarint(len) value
//
// A nil header is stored as NULL.

// errCorruptHeader is returned by decodeHeader for bytes it did not write.
var errCorruptHeader = errors.New("pginbox: corrupt stored header")

// maxHeaderFields bounds what decodeHeader allocates for a corrupt count.
const maxHeaderFields = 1 << 16

// encodeHeader encodes h without the names in omit (canonical keys).
func encodeHeader(h http.Header, omit map[string]bool) []byte {
	if h == nil {
		return nil
	}
	names := make([]string, 0, len(h))
	size := binary.MaxVarintLen64
	for k, vs := range h {
		if omit[http.CanonicalHeaderKey(k)] {
			continue
		}
		names = append(names, k)
		size += 2*binary.MaxVarintLen32 + len(k)
		for _, v := range vs {
			size += binary.MaxVarintLen32 + len(v)
		}
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		vs := h[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// decodeHeader reverses encodeHeader. nil decodes to a nil header.
func decodeHeader(b []byte) (http.Header, error) {
	if b == nil {
		return nil, nil
	}
	r := reader{b: b}
	n := r.count()
	h := make(http.Header, min(n, 64))
	for range n {
		k := r.str()
		nv := r.count()
		if r.err != nil {
			return nil, r.err
		}
		vs := make([]string, 0, min(nv, 16))
		for range nv {
			vs = append(vs, r.str())
		}
		if r.err != nil {
			return nil, r.err
		}
		h[k] = vs
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptHeader
	}
	if r.err != nil {
		return nil, r.err
	}
	return h, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorruptHeader
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) count() int {
	v := r.uvarint()
	if v > maxHeaderFields || v > uint64(len(r.b)) {
		// Every name or value takes at least one byte.
		if r.err == nil {
			r.err = errCorruptHeader
		}
		return 0
	}
	return int(v)
}

func (r *reader) str() string {
	v := r.uvarint()
	if r.err != nil {
		return ""
	}
	if v > uint64(len(r.b)) {
		r.err = errCorruptHeader
		return ""
	}
	s := string(r.b[:v])
	r.b = r.b[v:]
	return s
}
