package core

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestTableReadsWhileGrowing reads published entries without the lock
// while another goroutine appends, across the first chunk's regrowth and
// several new chunks: every read sees the value pushed at that index, and
// the race detector sees no unsynchronised access (see table).
func TestTableReadsWhileGrowing(t *testing.T) {
	const total = 5*(1<<chunkBits) + 7
	var (
		mu        sync.Mutex
		tab       table[int64]
		published atomic.Int64 // entries readers may read, as a link would publish them
		wg        sync.WaitGroup
		bad       atomic.Int64
	)
	for r := range 3 {
		wg.Go(func() {
			for k := int64(r); ; k++ {
				n := published.Load()
				if n == 0 {
					continue
				}
				i := (k * 7919) % n
				if got := *tab.at(i); got != i {
					bad.Store(i + 1)
				}
				if n == total {
					return
				}
			}
		})
	}
	for i := range int64(total) {
		mu.Lock()
		if got := tab.push(i); got != i {
			t.Errorf("push %d returned index %d", i, got)
		}
		mu.Unlock()
		published.Store(i + 1)
	}
	wg.Wait()
	if i := bad.Load(); i != 0 {
		t.Fatalf("entry %d read a value other than the one pushed", i-1)
	}
	k := int64(0)
	for p := range tab.all {
		if *p != k {
			t.Fatalf("all: entry %d is %d", k, *p)
		}
		k++
	}
	if k != total || tab.len() != total {
		t.Fatalf("all yielded %d entries and len is %d, want %d", k, tab.len(), total)
	}
}
