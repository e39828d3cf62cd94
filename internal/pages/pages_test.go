package pages

import (
	"testing"
	"unsafe"
)

// TestTouchWritesOnlyInsideTheArray: Touch writes a zero at the start of
// each page's worth of the array, up to its capacity and not past it,
// and nothing else. The array here is a window of a larger one whose
// bytes are all set, so every byte Touch writes shows.
func TestTouchWritesOnlyInsideTheArray(t *testing.T) {
	for _, n := range []int{1, stride - 1, stride, stride + 1, 3*stride + 17} {
		buf := make([]byte, n+2*stride)
		for i := range buf {
			buf[i] = 0xff
		}
		const from = 5 // not page aligned: Touch counts from the array's start
		Touch(buf[from : from : from+n])
		for i, b := range buf {
			k := i - from
			want := byte(0xff)
			if k >= 0 && k < n && k%stride == 0 {
				want = 0
			}
			if b != want {
				t.Fatalf("capacity %d: byte %d of the array is %#x, want %#x", n, k, b, want)
			}
		}
	}
}

// TestTouchOfNothing: an array of no bytes, by its length or its
// element's size, is left alone, and a nil slice does not fault.
func TestTouchOfNothing(t *testing.T) {
	Touch([]byte(nil))
	Touch(make([]struct{}, 10))
	Touch(make([]int64, 0))
}

// TestTouchKeepsPointersValid: touching a fresh array of pointers leaves
// every element nil, as made, so a collector that scans it finds nothing.
func TestTouchKeepsPointersValid(t *testing.T) {
	s := make([]*int, 3*stride/int(unsafe.Sizeof((*int)(nil))))
	Touch(s)
	for i, p := range s {
		if p != nil {
			t.Fatalf("element %d is %p after Touch", i, p)
		}
	}
}
