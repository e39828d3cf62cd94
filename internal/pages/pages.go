// Package pages makes the first access to a fresh array's memory a write.
//
// Memory the runtime has just taken from the operating system (or given
// back to it and taken again) is mapped on first access. Storing a
// pointer while the collector marks runs a write barrier that loads the
// old value first, and the runtime's own header store of a new object
// does too: when that load is the first access to a page, Linux maps its
// shared zero page, and the store that follows replaces it with a page of
// its own, which costs a second fault and a flush of that address from
// every core that runs the process (an interprocessor interrupt, a
// hypervisor exit on a virtual machine). Measured on a 2-core VM: a
// quarter of building a chain of a million tasks went to those flushes
// (BENCHMARKS.md, session 21). A graph's large arrays (its slabs of task
// records, the chunks of its node index) are written once each, in order,
// over a build that lasts many collections, so their pages meet that load
// first unless something writes them before: Touch does, one byte a page,
// as soon as the array is made.
package pages

import "unsafe"

// stride is the smallest page size of the platforms Go runs on: touching
// every stride bytes touches every page of any larger size too.
const stride = 4096

// Touch writes a zero byte into each page that s's array spans, up to its
// capacity. s must be freshly made (all zero) and not yet seen by another
// goroutine: the bytes written keep their value, so nothing that reads
// them later, the collector included, can tell.
func Touch[T any](s []T) {
	var zero T
	n := uintptr(cap(s)) * unsafe.Sizeof(zero)
	if n == 0 {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	for off := uintptr(0); off < n; off += stride {
		*(*byte)(unsafe.Add(p, off)) = 0
	}
}
