package cpio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// writeGolden writes with Writer the entries that testdata/gnu-newc.sh
// gives GNU cpio.
func writeGolden(w *Writer) error {
	steps := []func() error{
		func() error { return w.AddDir("dir", Attr{Perm: 0o755}) },
		func() error {
			return w.AddFile("/dir/hello.txt", Attr{Perm: 0o644, UID: 1000, GID: 100, MTime: 1700000000}, []byte("hello\n"))
		},
		func() error { return w.AddSymlink("link", "dir/hello.txt", Attr{}) },
		func() error { return w.AddDir("dev", Attr{Perm: 0o755}) },
		func() error { return w.AddCharDev("dev/console", Attr{Perm: 0o600}, 5, 1) },
		func() error { return w.AddBlockDev("dev/sda", Attr{Perm: 0o660, GID: 6}, 8, 0) },
		func() error { return w.WriteHeader(&Header{Name: "fifo", Mode: TypeFifo | 0o644, NLink: 1, Ino: 6}) },
		func() error { return w.AddLinkedFile([]string{"a", "b"}, Attr{Perm: 0o640}, []byte("abc")) },
		func() error { return w.AddFile("e", Attr{Perm: 0o600}, nil) },
		func() error {
			return w.AddFileFrom("setuid", Attr{Perm: 0o4755, MTime: 1234567890}, 2, strings.NewReader("#!"))
		},
		w.Close,
	}
	for i, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

func TestGoldenGNU(t *testing.T) {
	want, err := os.ReadFile("testdata/gnu-newc.cpio")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeGolden(NewWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if !bytes.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("differs from GNU cpio at byte %d (len %d, want %d)\ngot  %q\nwant %q",
					i, len(got), len(want), got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
			}
		}
		t.Fatalf("length %d, GNU cpio wrote %d", len(got), len(want))
	}
}

// entry is a header and the data read after it.
type entry struct {
	Header
	Data string
}

// readAll reads every entry of an archive.
func readAll(t testing.TB, archive []byte) []entry {
	t.Helper()
	r := NewReader(bytes.NewReader(archive))
	var out []entry
	for {
		h, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d entries: %v", len(out), err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %q: %v", h.Name, err)
		}
		out = append(out, entry{*h, string(data)})
	}
}

func TestReadGolden(t *testing.T) {
	archive, err := os.ReadFile("testdata/gnu-newc.cpio")
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{Header{Name: "dir", Mode: TypeDir | 0o755, NLink: 2, Ino: 0}, ""},
		{Header{Name: "dir/hello.txt", Mode: TypeReg | 0o644, UID: 1000, GID: 100, NLink: 1, MTime: 1700000000, Size: 6, Ino: 1}, "hello\n"},
		{Header{Name: "link", Mode: TypeSymlink | 0o777, NLink: 1, Size: 13, Ino: 2, Linkname: "dir/hello.txt"}, ""},
		{Header{Name: "dev", Mode: TypeDir | 0o755, NLink: 2, Ino: 3}, ""},
		{Header{Name: "dev/console", Mode: TypeChar | 0o600, NLink: 1, Ino: 4, RDevMajor: 5, RDevMinor: 1}, ""},
		{Header{Name: "dev/sda", Mode: TypeBlock | 0o660, GID: 6, NLink: 1, Ino: 5, RDevMajor: 8}, ""},
		{Header{Name: "fifo", Mode: TypeFifo | 0o644, NLink: 1, Ino: 6}, ""},
		{Header{Name: "a", Mode: TypeReg | 0o640, NLink: 2, Ino: 7}, ""},
		{Header{Name: "b", Mode: TypeReg | 0o640, NLink: 2, Size: 3, Ino: 7}, "abc"},
		{Header{Name: "e", Mode: TypeReg | 0o600, NLink: 1, Ino: 8}, ""},
		{Header{Name: "setuid", Mode: TypeReg | 0o4755, NLink: 1, MTime: 1234567890, Size: 2, Ino: 9}, "#!"},
	}
	got := readAll(t, archive)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 70000) // > 1 MiB
	var buf bytes.Buffer
	w := NewWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Names and data of every length modulo 4 exercise all paddings.
	var want []entry
	ino := uint32(0)
	for n := 1; n <= 8; n++ {
		name := strings.Repeat("n", n)
		data := strings.Repeat("d", n-1)
		must(w.AddFile(name, Attr{Perm: 0o644, UID: uint32(n), GID: uint32(2 * n), MTime: uint32(n * 1000)}, []byte(data)))
		want = append(want, entry{Header{Name: name, Mode: TypeReg | 0o644, UID: uint32(n), GID: uint32(2 * n),
			NLink: 1, MTime: uint32(n * 1000), Size: int64(n - 1), Ino: ino}, data})
		ino++
	}
	must(w.AddFileFrom("big", Attr{Perm: 0o600}, int64(len(big)), iotest.OneByteReader(bytes.NewReader(big))))
	want = append(want, entry{Header{Name: "big", Mode: TypeReg | 0o600, NLink: 1, Size: int64(len(big)), Ino: ino}, string(big)})
	ino++
	must(w.AddSymlink("sl", "/a/b/c", Attr{UID: 7}))
	want = append(want, entry{Header{Name: "sl", Mode: TypeSymlink | 0o777, UID: 7, NLink: 1, Size: 6, Ino: ino, Linkname: "/a/b/c"}, ""})
	ino++
	must(w.AddLinkedFile([]string{"h1", "/h2", "h3"}, Attr{Perm: 0o755}, []byte("linked")))
	for i, n := range []string{"h1", "h2", "h3"} {
		e := entry{Header{Name: n, Mode: TypeReg | 0o755, NLink: 3, Ino: ino}, ""}
		if i == 2 {
			e.Size, e.Data = 6, "linked"
		}
		want = append(want, e)
	}
	ino++
	must(w.AddDir("d", Attr{Perm: 0o1777}))
	want = append(want, entry{Header{Name: "d", Mode: TypeDir | 0o1777, NLink: 2, Ino: ino}, ""})
	ino++
	// WriteHeader with an explicit inode moves the numbering past it.
	hdr := &Header{Name: "raw", Mode: TypeReg | 0o400, NLink: 1, Size: 5, Ino: 100, DevMajor: 3, DevMinor: 4, MTime: 1}
	must(w.WriteHeader(hdr))
	if n, err := w.Write([]byte("ra")); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := w.Write([]byte("w")); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := w.Write([]byte("!!")); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	want = append(want, entry{*hdr, "raw!!"})
	must(w.AddBlockDev("blk", Attr{Perm: 0o600}, 259, 1<<20))
	want = append(want, entry{Header{Name: "blk", Mode: TypeBlock | 0o600, NLink: 1, Ino: 101, RDevMajor: 259, RDevMinor: 1 << 20}, ""})
	must(w.Close())
	must(w.Close()) // a second Close does nothing
	if buf.Len()%512 != 0 {
		t.Errorf("archive length %d is not a multiple of 512", buf.Len())
	}
	got := readAll(t, buf.Bytes())
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, w := got[i], want[i]
			g.Data, w.Data = fmt.Sprintf("%d bytes", len(g.Data)), fmt.Sprintf("%d bytes", len(w.Data))
			t.Errorf("entry %d:\ngot  %+v\nwant %+v", i, g, w)
		}
	}
}

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := writeGolden(NewWriter(&a)); err != nil {
		t.Fatal(err)
	}
	if err := writeGolden(NewWriter(&b)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two identical runs wrote different bytes")
	}
}

func TestEmptyArchive(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(&buf).Close(); err != nil {
		t.Fatal(err)
	}
	want := "070701" + strings.Repeat("0", 32) + "00000001" + strings.Repeat("0", 48) + "0000000B00000000TRAILER!!!\x00"
	if got := buf.String(); got != want+strings.Repeat("\x00", 512-len(want)) {
		t.Fatalf("empty archive = %q", got)
	}
	if got := readAll(t, buf.Bytes()); len(got) != 0 {
		t.Fatalf("read %d entries from an empty archive", len(got))
	}
}

func TestWriterErrors(t *testing.T) {
	cases := []struct {
		name string
		f    func(w *Writer) error
		want error
	}{
		{"empty name", func(w *Writer) error { return w.AddDir("", Attr{}) }, ErrInvalid},
		{"only slashes", func(w *Writer) error { return w.AddDir("//", Attr{}) }, ErrInvalid},
		{"NUL in name", func(w *Writer) error { return w.AddFile("a\x00b", Attr{}, nil) }, ErrInvalid},
		{"trailer name", func(w *Writer) error { return w.AddFile("/TRAILER!!!", Attr{}, nil) }, ErrInvalid},
		{"long name", func(w *Writer) error { return w.AddDir(strings.Repeat("x", MaxNameSize), Attr{}) }, ErrInvalid},
		{"perm bits", func(w *Writer) error { return w.AddDir("d", Attr{Perm: 0o40755}) }, ErrInvalid},
		{"empty target", func(w *Writer) error { return w.AddSymlink("s", "", Attr{}) }, ErrInvalid},
		{"no link names", func(w *Writer) error { return w.AddLinkedFile(nil, Attr{}, nil) }, ErrInvalid},
		{"bad link name", func(w *Writer) error { return w.AddLinkedFile([]string{"a", ""}, Attr{}, nil) }, ErrInvalid},
		{"negative size", func(w *Writer) error { return w.AddFileFrom("f", Attr{}, -1, strings.NewReader("")) }, ErrInvalid},
		{"huge size", func(w *Writer) error { return w.AddFileFrom("f", Attr{}, 1<<32, strings.NewReader("")) }, ErrInvalid},
		{"no type", func(w *Writer) error { return w.WriteHeader(&Header{Name: "x", Mode: 0o644}) }, ErrInvalid},
		{"short reader", func(w *Writer) error { return w.AddFileFrom("f", Attr{}, 10, strings.NewReader("abc")) }, io.ErrUnexpectedEOF},
		{"write too long", func(w *Writer) error {
			if err := w.WriteHeader(&Header{Name: "x", Mode: TypeReg, Size: 1}); err != nil {
				return err
			}
			_, err := w.Write([]byte("ab"))
			return err
		}, ErrWriteTooLong},
		{"missing data", func(w *Writer) error {
			if err := w.WriteHeader(&Header{Name: "x", Mode: TypeReg, Size: 1}); err != nil {
				return err
			}
			return w.AddDir("d", Attr{})
		}, ErrMissingData},
		{"missing data at close", func(w *Writer) error {
			if err := w.WriteHeader(&Header{Name: "x", Mode: TypeReg, Size: 1}); err != nil {
				return err
			}
			return w.Close()
		}, ErrMissingData},
		{"after close", func(w *Writer) error {
			if err := w.Close(); err != nil {
				return err
			}
			return w.AddDir("d", Attr{})
		}, ErrClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.f(NewWriter(io.Discard)); !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

var errFail = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, errFail
}

func TestWriterSticksToError(t *testing.T) {
	for limit := 0; limit < 1536; limit += 37 {
		w := NewWriter(&failWriter{n: limit})
		err := writeGolden(w)
		if !errors.Is(err, errFail) {
			t.Fatalf("limit %d: error %v, want %v", limit, err, errFail)
		}
		if err := w.AddDir("x", Attr{}); !errors.Is(err, errFail) {
			t.Fatalf("limit %d: later call returned %v", limit, err)
		}
	}
}

// hdr renders a newc header with the given fields and name (namesize is
// computed unless given).
func hdr(mode, size uint32, name string, namesize int) string {
	if namesize < 0 {
		namesize = len(name) + 1
	}
	s := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0) + name + "\x00"
	return s + strings.Repeat("\x00", int(pad4(int64(len(s)))))
}

var trailer = hdr(0, 0, Trailer, -1)

func TestReaderErrors(t *testing.T) {
	good := hdr(TypeReg|0o644, 3, "f", -1) + "abc\x00"
	cases := []struct {
		name    string
		archive string
		want    error
	}{
		{"empty input", "", io.ErrUnexpectedEOF},
		{"no trailer", good, io.ErrUnexpectedEOF},
		{"short header", good[:50], io.ErrUnexpectedEOF},
		{"bad magic", "070707" + good[6:], ErrFormat},
		{"crc magic", "070702" + good[6:], ErrFormat},
		{"non-hex field", good[:14] + "0000G1A4" + good[22:], ErrFormat},
		{"space in field", good[:14] + " 00081A4" + good[22:], ErrFormat},
		{"sign in field", good[:14] + "-00081A4" + good[22:], ErrFormat},
		{"check field", strings.Replace(good, "000000020000000", "000000020000001", 1), ErrFormat},
		{"zero name size", hdr(TypeReg, 0, "", 0), ErrFormat},
		{"name size one", hdr(TypeReg, 0, "", 1), ErrFormat},
		{"huge name size", hdr(TypeReg, 0, "f", 0xFFFFFFFF), ErrFormat},
		{"name size above cap", hdr(TypeReg, 0, "f", MaxNameSize+1), ErrFormat},
		{"name without NUL", hdr(TypeReg, 0, "abc", 3), ErrFormat},
		{"NUL inside name", hdr(TypeReg, 0, "a\x00c", -1), ErrFormat},
		{"truncated name", hdr(TypeReg, 0, "abcdefgh", -1)[:115], io.ErrUnexpectedEOF},
		{"unknown type", hdr(0o644, 0, "f", -1) + trailer, ErrFormat},
		{"directory with data", hdr(TypeDir|0o755, 4, "d", -1) + "abcd" + trailer, ErrFormat},
		{"symlink without target", hdr(TypeSymlink|0o777, 0, "s", -1) + trailer, ErrFormat},
		{"symlink target too long", hdr(TypeSymlink|0o777, MaxNameSize, "s", -1) + strings.Repeat("x", MaxNameSize) + trailer, ErrFormat},
		{"symlink target with NUL", hdr(TypeSymlink|0o777, 3, "s", -1) + "a\x00b\x00" + trailer, ErrFormat},
		{"truncated symlink", hdr(TypeSymlink|0o777, 8, "s", -1) + "abc", io.ErrUnexpectedEOF},
		{"truncated data", hdr(TypeReg|0o644, 100, "f", -1) + "abc", io.ErrUnexpectedEOF},
		{"huge declared size", hdr(TypeReg|0o644, 0xFFFFFFFF, "f", -1) + "abc", io.ErrUnexpectedEOF},
		{"truncated padding", hdr(TypeReg|0o644, 3, "f", -1) + "abc", io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(c.archive))
			var err error
			for i := 0; i < 10; i++ {
				if _, err = r.Next(); err != nil {
					break
				}
				if _, err = io.Copy(io.Discard, r); err != nil {
					break
				}
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Fatalf("Next after error returned %v, want the same %v", err2, err)
			}
		})
	}
}

func TestReaderStopsAtTrailer(t *testing.T) {
	// Bytes after the trailer are never read, and Next keeps returning EOF.
	archive := hdr(TypeDir|0o755, 0, "d", -1) + trailer + "garbage that is not an archive"
	r := NewReader(strings.NewReader(archive))
	if h, err := r.Next(); err != nil || h.Name != "d" {
		t.Fatal(h, err)
	}
	for range 3 {
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next = %v, want io.EOF", err)
		}
	}
}

func TestReaderLowerCaseHex(t *testing.T) {
	archive := strings.ToLower(hdr(TypeReg|0o644, 0xa, "f", -1)) + "0123456789\x00\x00" + trailer
	got := readAll(t, []byte(archive))
	if len(got) != 1 || got[0].Size != 10 || got[0].Data != "0123456789" {
		t.Fatalf("got %+v", got)
	}
}

func TestReaderSkipsUnreadData(t *testing.T) {
	var buf bytes.Buffer
	if err := writeGolden(NewWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	var names []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "setuid" {
			// Read part of the data only.
			var b [1]byte
			if _, err := r.Read(b[:]); err != nil || b[0] != '#' {
				t.Fatal(err, b)
			}
		}
	}
	if want := "dir dir/hello.txt link dev dev/console dev/sda fifo a b e setuid"; strings.Join(names, " ") != want {
		t.Fatalf("names %q", names)
	}
}
