package exec_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// FuzzBuildAndRun builds a graph from arbitrary bytes, bad input included
// (nil inputs, bad options, ordering edges that close cycles), then runs
// it, or a few of its tasks as targets. Nothing may panic or hang; a graph
// that does not validate must be refused by Start with the same kind of
// error; one that validates must run to completion with every result equal
// to the one computed here, in plain Go, in creation order.
//
//	go test ./exec -run '^$' -fuzz FuzzBuildAndRun -fuzztime 10m
func FuzzBuildAndRun(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 0, 1, 3, 1, 2})
	f.Add([]byte{4, 7, 0, 1, 5, 0, 1, 0, 2, 1, 9, 2})
	f.Add([]byte{5, 1, 0, 0, 3, 0, 1, 5, 0, 1, 6, 7, 0, 2})
	f.Add([]byte{0, 0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256 {
			data = data[:256]
		}
		// Half the inputs build with graph.Build (adds without the lock),
		// half with New: the same steps must give the same graph either way.
		b := &fuzzBuild{data: data}
		var berr error
		if len(data) > 0 && data[0]&0x80 != 0 {
			b.g = graph.Build(func(gb graph.Builder) { b.add = gb; berr = b.build() })
		} else {
			b.g = graph.New()
			b.add = b.g
			berr = b.build()
		}
		if berr != nil {
			t.Fatal(berr)
		}
		verr := b.g.Validate()
		if verr != nil {
			var ge *graph.Error
			var ce *graph.CycleError
			if !errors.As(verr, &ge) && !errors.As(verr, &ce) {
				t.Fatalf("Validate: %v (%T), want a *graph.Error or a *graph.CycleError", verr, verr)
			}
		}
		workers := 1 + int(b.next()%3)
		opts := []exec.Option{exec.Workers(workers)}
		var targets []graph.Task[int]
		if b.next()%4 == 0 && len(b.tasks) > 0 {
			for range 1 + b.next()%3 {
				targets = append(targets, b.tasks[int(b.next())%len(b.tasks)])
			}
			opts = append(opts, exec.Targets(targets...))
		}
		ctx, cancel := context.WithTimeoutCause(t.Context(), liveness, errFuzzLiveness)
		defer cancel()
		err := exec.Run(ctx, b.g, opts...)
		if context.Cause(ctx) == errFuzzLiveness {
			t.Fatalf("the run hit the liveness bound: %v", err)
		}
		if verr != nil {
			if err == nil {
				t.Fatalf("Validate said %v, but the run succeeded", verr)
			}
			return
		}
		if err != nil {
			t.Fatalf("a valid graph of tasks that cannot fail: Run: %v", err)
		}
		check := b.tasks
		if targets != nil {
			check = targets
		}
		for _, x := range check {
			if v, err := x.Result(); err != nil || v != b.want[x] {
				t.Errorf("%s: %d, %v; want %d", x.Name(), v, err, b.want[x])
			}
		}
	})
}

var errFuzzLiveness = errors.New("fuzz: liveness bound reached")

// fuzzBuild turns bytes into building steps.
type fuzzBuild struct {
	data  []byte
	pos   int
	g     *graph.Graph
	add   graph.Builder     // g, or what graph.Build gives while it builds g
	tasks []graph.Task[int] // built without error, in creation order
	want  map[graph.Task[int]]int
}

func (b *fuzzBuild) next() byte {
	if b.pos >= len(b.data) {
		return 0
	}
	c := b.data[b.pos]
	b.pos++
	return c
}

func (b *fuzzBuild) pick() graph.Task[int] {
	if len(b.tasks) == 0 {
		return graph.Task[int]{}
	}
	return b.tasks[int(b.next())%len(b.tasks)]
}

// build adds tasks, values, ordering edges and mistakes. Each good task
// computes 1 + the sum of its inputs; want holds what it must compute. It
// returns an error when building answered in a way it must not.
func (b *fuzzBuild) build() error {
	b.want = map[graph.Task[int]]int{}
	for b.pos < len(b.data) && len(b.tasks) < 48 {
		switch op := b.next() % 8; op {
		case 0, 1, 2, 3: // a task reading up to three earlier tasks
			var in []graph.Task[int]
			for range int(b.next() % 4) {
				if x := b.pick(); x.Ref() != (graph.Ref{}) {
					in = append(in, x)
				}
			}
			t := graph.AddN(b.add, "t", in, func(_ context.Context, xs []int) (int, error) {
				s := 1
				for _, x := range xs {
					s += x
				}
				return s, nil
			}, graph.Priority(int(b.next()%5)-2))
			s := 1
			for _, x := range in {
				s += b.want[x]
			}
			b.want[t] = s
			b.tasks = append(b.tasks, t)
		case 4: // a value
			v := int(b.next())
			t := graph.Value(b.add, "value", v)
			b.want[t] = v
			b.tasks = append(b.tasks, t)
		case 5: // an ordering edge, which may close a cycle
			x, y := b.pick(), b.pick()
			if x.Ref() != (graph.Ref{}) && y.Ref() != (graph.Ref{}) {
				if err := graph.Order(x, y); err != nil {
					var ge *graph.Error
					var ce *graph.CycleError
					if !errors.As(err, &ge) && !errors.As(err, &ce) {
						return fmt.Errorf("Order: %v (%T), want a *graph.Error or a *graph.CycleError", err, err)
					}
				}
			}
		case 6: // a nil input: an error on the task, and on the graph
			graph.Add1(b.add, "nil-input", graph.Task[int]{}, func(_ context.Context, x int) (int, error) { return x, nil })
		case 7: // a bad option
			opts := []graph.Option{graph.Retries(-1, 0), graph.Timeout(0), graph.Priority(1 << 40), graph.Key("")}
			graph.Add(b.add, "bad-option", func(context.Context) (int, error) { return 0, nil }, opts[int(b.next())%len(opts)])
		}
	}
	return nil
}
