package bttbid

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error is an
// *Error with no message, and that whatever decodes re-encodes to a
// canonical payload that decodes to the same message. The seed corpus is
// in testdata/fuzz/FuzzDecode, plus the sample messages.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages(f) {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == 0 {
				t.Fatalf("Decode(%q) error %v is not a coded *Error", b, err)
			}
			if m != nil {
				t.Fatalf("Decode(%q) returned %#v with error %v", b, m, err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode(%q) = %#v, which does not encode: %v", b, m, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(m)) != m:\n%#v\n%#v", m, m2)
		}
		enc2, err := Encode(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %q vs %q (%v)", enc, enc2, err)
		}
	})
}
