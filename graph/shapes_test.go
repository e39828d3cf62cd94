package graph

import (
	"context"
	"slices"
	"testing"
	"unsafe"

	"github.com/evolve-dag/evolve/internal/core"
)

// TestInputsAreTheBodysFields: a body lists its inputs as its own input
// fields seen as a slice of nodes (see inputs), which holds only while a
// record begins with its node and a shape's input fields are pointers laid
// out one after another. A change of either layout fails here, not as a
// wrong node read by the executor.
func TestInputsAreTheBodysFields(t *testing.T) {
	var r record[string]
	if unsafe.Offsetof(r.n) != 0 {
		t.Fatalf("a record's node is at offset %d, want 0", unsafe.Offsetof(r.n))
	}
	const word = unsafe.Sizeof(uintptr(0))
	var t2 task2[int, string, bool]
	var t3 task3[int, string, []byte, bool]
	for _, c := range []struct {
		name    string
		offsets []uintptr
	}{
		{"task2", []uintptr{unsafe.Offsetof(t2.a), unsafe.Offsetof(t2.b)}},
		{"task3", []uintptr{unsafe.Offsetof(t3.a), unsafe.Offsetof(t3.b), unsafe.Offsetof(t3.c)}},
	} {
		for i := 1; i < len(c.offsets); i++ {
			if c.offsets[i] != c.offsets[i-1]+word {
				t.Errorf("%s: input %d at offset %d, want %d, right after input %d", c.name, i, c.offsets[i], c.offsets[i-1]+word, i-1)
			}
		}
	}

	g := New()
	f := func(context.Context) (int, error) { return 1, nil }
	a, b, c := Add(g, "a", f), Value(g, "b", "x"), Add(g, "c", f)
	node := func(h Handle) *core.Node { return h.Ref().n }
	want := []*core.Node{node(a), node(b), node(c)}
	for _, tc := range []struct {
		name string
		task Ref
		want []*core.Node
	}{
		{"Add", Add(g, "t0", f).Ref(), nil},
		{"Add1", Add1(g, "t1", b, func(_ context.Context, s string) (int, error) { return len(s), nil }).Ref(), want[1:2]},
		{"Add2", Add2(g, "t2", a, b, func(context.Context, int, string) (int, error) { return 0, nil }).Ref(), want[:2]},
		{"Add3", Add3(g, "t3", a, b, c, func(context.Context, int, string, int) (int, error) { return 0, nil }).Ref(), want},
		{"AddN", AddN(g, "tn", []Task[int]{c, a, c}, func(context.Context, []int) (int, error) { return 0, nil }).Ref(), []*core.Node{want[2], want[0], want[2]}},
		{"AddN of none", AddN(g, "tn0", nil, func(context.Context, []int) (int, error) { return 0, nil }).Ref(), nil},
	} {
		if err := tc.task.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := tc.task.n.Body().Inputs(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Inputs() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
