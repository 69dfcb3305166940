package cpio

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the Reader. It must never panic; an
// archive it accepts must survive a rewrite with Writer unchanged (except
// for leading slashes in names, which the Writer removes).
func FuzzReader(f *testing.F) {
	golden, err := os.ReadFile("testdata/gnu-newc.cpio")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(trailer))
	f.Add([]byte(hdr(TypeSymlink|0o777, 3, "/s", -1) + "abc\x00" + trailer))
	f.Add([]byte(hdr(TypeReg|0o644, 5, "f", -1) + "abc"))
	f.Add([]byte(strings.ToLower(hdr(TypeDir|0o755, 0, "d", -1)) + trailer))
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []entry
		r := NewReader(bytes.NewReader(data))
		for {
			h, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			if len(h.Name) >= MaxNameSize || len(h.Linkname) >= MaxNameSize {
				t.Fatalf("name or target of %d/%d bytes passed the cap", len(h.Name), len(h.Linkname))
			}
			body, err := io.ReadAll(r)
			if err != nil {
				return
			}
			if h.Type() != TypeSymlink && int64(len(body)) != h.Size {
				t.Fatalf("%q: read %d bytes, header says %d", h.Name, len(body), h.Size)
			}
			entries = append(entries, entry{*h, string(body)})
		}

		// Rewrite what was read and read it back.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for i := range entries {
			e := &entries[i]
			e.Name = strings.TrimLeft(e.Name, "/")
			if e.Name == "" || e.Name == Trailer {
				return // a Writer refuses these names
			}
			if err := w.WriteHeader(&e.Header); err != nil {
				t.Fatalf("rewriting %+v: %v", e.Header, err)
			}
			body := e.Data
			if e.Type() == TypeSymlink {
				body = e.Linkname
			}
			if _, err := io.WriteString(w, body); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again := readAll(t, buf.Bytes())
		if len(entries) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, entries) {
			t.Fatalf("rewrite changed the entries:\n%+v\n%+v", again, entries)
		}
	})
}
