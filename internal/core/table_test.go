package core

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestTableReadsWhileGrowing reads published entries without the lock
// while another goroutine appends, across the first chunk's regrowth and
// new chunks cut from blocks of every size (1, 2, 4 and maxBlock chunks):
// every read sees the value pushed at that index, so no two chunks share
// memory, and the race detector sees no unsynchronised access (see table).
func TestTableReadsWhileGrowing(t *testing.T) {
	const total = (4*maxBlock+1)*(1<<chunkBits) + 7
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

// TestTableReservesWhileGrowing: while a run is active, goroutines take
// indexes without the lock (reserve) and store their entries, while
// another pushes under the lock (pushShared) and a reader holding the lock
// lists what is stored, across several new chunks: every index is taken
// once, every entry holds what its taker stored, and the race detector
// sees no unsynchronised access. Reserving waits for the first chunk to be
// settled, since growing it copies it.
func TestTableReservesWhileGrowing(t *testing.T) {
	const takers, each, pushes = 3, 3000, 2000
	var (
		mu  sync.Mutex
		tab table[*Node]
		wg  sync.WaitGroup
	)
	if _, ok := tab.reserve(); ok {
		t.Fatal("reserve took an index from an empty table")
	}
	mu.Lock()
	tab.push(&Node{id: 0})
	if _, ok := tab.reserve(); ok {
		t.Fatal("reserve took an index before settle")
	}
	tab.settle()
	mu.Unlock()
	for range takers {
		wg.Go(func() {
			for range each {
				i, ok := tab.reserve()
				if !ok {
					t.Error("reserve failed on a settled table")
					return
				}
				p := tab.entry(i)
				if p == nil {
					mu.Lock()
					tab.growTo(i)
					mu.Unlock()
					p = tab.entry(i)
				}
				storeNode(p, &Node{id: int32(i)})
			}
		})
	}
	wg.Go(func() {
		for range pushes {
			mu.Lock()
			i := tab.pushShared(nil)
			*tab.at(i) = &Node{id: int32(i)}
			mu.Unlock()
		}
	})
	wg.Go(func() {
		for range 50 {
			mu.Lock()
			k := int64(0)
			for p := range tab.all {
				if n := loadNode(p); n != nil && int64(n.id) != k {
					t.Errorf("entry %d holds the node stored at %d", k, n.id)
				}
				k++
			}
			mu.Unlock()
		}
	})
	wg.Wait()
	want := int64(1 + takers*each + pushes)
	if n := tab.len(); n != want {
		t.Fatalf("len %d, want %d", n, want)
	}
	k := int64(0)
	for p := range tab.all {
		if n := loadNode(p); n == nil || int64(n.id) != k {
			t.Fatalf("entry %d holds %v", k, n)
		}
		k++
	}
}
