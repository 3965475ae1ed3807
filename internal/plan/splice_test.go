package plan

import (
	"bytes"
	"testing"
)

func TestSplice(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		head, tail     int
	}{
		{"a line changed", "one\ntwo\nthree\n", "one\n2\nthree\n", 4, 7},
		{"a line inserted", "one\nthree\n", "one\ntwo\nthree\n", 5, 5},
		{"a line removed", "one\ntwo\nthree\n", "one\nthree\n", 5, 5},
		{"appended", "abc", "abcdef", 3, 0},
		{"identical", "abc", "abc", 3, 0},
		{"all new", "abc", "xyz", 0, 0},
		{"from empty", "", "abc", 0, 0},
		{"to empty", "abc", "", 0, 0},
		// The ends may overlap in what they could match: head takes its share first.
		{"a repeated byte dropped", "aaaa", "aaa", 3, 0},
		{"a repeated byte added", "aaa", "aaaa", 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head, tail := Splice([]byte(tc.old), []byte(tc.new))
			if head != tc.head || tail != tc.tail {
				t.Errorf("Splice(%q, %q) = %d, %d; want %d, %d", tc.old, tc.new, head, tail, tc.head, tc.tail)
			}
			if got := rebuild([]byte(tc.old), []byte(tc.new), head, tail); !bytes.Equal(got, []byte(tc.new)) {
				t.Errorf("rebuilt %q, want %q", got, tc.new)
			}
		})
	}
}

// FuzzSplice checks that old's head, the middle of new and old's tail always make new, as the container
// rebuilds it.
func FuzzSplice(f *testing.F) {
	f.Add([]byte("one\ntwo\nthree\n"), []byte("one\n2\nthree\n"))
	f.Add([]byte("aaaa"), []byte("aa"))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		head, tail := Splice(old, new)
		if head < 0 || tail < 0 || head+tail > min(len(old), len(new)) {
			t.Fatalf("Splice(%q, %q) = %d, %d: out of bounds", old, new, head, tail)
		}
		if got := rebuild(old, new, head, tail); !bytes.Equal(got, new) {
			t.Fatalf("Splice(%q, %q) = %d, %d rebuilds %q", old, new, head, tail, got)
		}
	})
}

func rebuild(old, new []byte, head, tail int) []byte {
	out := append([]byte(nil), old[:head]...)
	out = append(out, new[head:len(new)-tail]...)
	return append(out, old[len(old)-tail:]...)
}
