// Package seed registers the workload of Dask's "Handle Evolving Workflows"
// notebook (examples/evolving/workload) as named tasks and drivers, so that
// the in-process runner, Temporal workers in other processes, the tests and
// the example all build the same registry.
//
// Every task is idempotent: its result depends only on its argument and
// inputs, and it has no side effect, so running it again after its worker
// died changes nothing.
package seed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
)

// Reg holds the seed's tasks and drivers, and the test programs.
var Reg = new(temporal.Registry)

// The seed's tasks.
var (
	ParseFile = temporal.Register(Reg, "seed.parse_file", workload.Parse)
	Len       = temporal.Register1(Reg, "seed.len", func(_ context.Context, _ struct{}, l []float64) (int, error) {
		return len(l), nil
	})
	GetItem = temporal.Register1(Reg, "seed.getitem", func(_ context.Context, i int, l []float64) (float64, error) {
		if i < 0 || i >= len(l) {
			return 0, temporal.Permanent(fmt.Errorf("item %d of a list of %d", i, len(l)))
		}
		return l[i], nil
	})
	ProcessItem = temporal.Register1(Reg, "seed.process_item", func(ctx context.Context, sleep time.Duration, x float64) (float64, error) {
		return workload.Process(ctx, workload.Item{X: x, Sleep: sleep})
	})
	Process = temporal.Register(Reg, "seed.process", workload.Process)
	Collect = temporal.RegisterN(Reg, "seed.collect", func(_ context.Context, _ struct{}, xs []float64) ([]float64, error) {
		return xs, nil
	})
	// File parses a file and adds one task per item at priority 10, and a
	// collect task whose result (the items' results) is the flow's.
	File = temporal.RegisterFlow(Reg, "seed.file", func(ctx context.Context, e *temporal.Emitter, f workload.File) (temporal.Ref[[]float64], error) {
		xs, err := workload.Parse(ctx, f)
		if err != nil {
			return temporal.Ref[[]float64]{}, err
		}
		items := make([]temporal.Ref[float64], len(xs))
		for i := range xs {
			items[i] = temporal.Call(e, Process, f.Items[i], temporal.Priority(10))
		}
		return temporal.CallN(e, Collect, struct{}{}, items, temporal.Priority(10)), nil
	})
)

// The seed's variants, as drivers. Each takes the workload and returns every
// result.
var (
	AsCompleted    = temporal.RegisterDriver(Reg, "seed.as_completed", asCompleted)
	Goroutines     = temporal.RegisterDriver(Reg, "seed.goroutines", goroutines)
	TasksFromTasks = temporal.RegisterDriver(Reg, "seed.tasks_from_tasks", tasksFromTasks)
)

// asCompleted parses every file, and as each file's length arrives submits
// its items at priority 1.
func asCompleted(d *temporal.Driver, w workload.Workload) ([]float64, error) {
	lists := make(map[int64]temporal.Ref[[]float64], len(w.Files))
	files := make(map[int64]workload.File, len(w.Files))
	lengths := temporal.AsCompleted[int](d)
	for _, f := range w.Files {
		list := temporal.Call(d, ParseFile, f)
		n := temporal.Call1(d, Len, struct{}{}, list)
		lists[n.ID], files[n.ID] = list, f
		lengths.Add(n)
	}
	var futures []temporal.Ref[float64]
	for {
		length, ok, err := lengths.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		n, err := temporal.Wait(d, length)
		if err != nil {
			return nil, err
		}
		list, f := lists[length.ID], files[length.ID]
		for i := range n {
			item := temporal.Call1(d, GetItem, i, list, temporal.Priority(1))
			futures = append(futures, temporal.Call1(d, ProcessItem, f.Items[i].Sleep, item, temporal.Priority(1)))
		}
	}
	return temporal.Gather(d, futures)
}

// goroutines handles each file in a concurrent part of its own.
func goroutines(d *temporal.Driver, w workload.Workload) ([]float64, error) {
	perFile := make([][]float64, len(w.Files))
	errs := make([]error, len(w.Files))
	for i, f := range w.Files {
		list := temporal.Call(d, ParseFile, f)
		n := temporal.Call1(d, Len, struct{}{}, list)
		d.Go(func(d *temporal.Driver) {
			k, err := temporal.Wait(d, n)
			if err != nil {
				errs[i] = err
				return
			}
			items := make([]temporal.Ref[float64], k)
			for j := range k {
				item := temporal.Call1(d, GetItem, j, list, temporal.Priority(10))
				items[j] = temporal.Call1(d, ProcessItem, f.Items[j].Sleep, item, temporal.Priority(10))
			}
			perFile[i], errs[i] = temporal.Gather(d, items)
		})
	}
	d.Join()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(perFile...), nil
}

// tasksFromTasks runs one flow per file that parses it and adds a task
// per item.
func tasksFromTasks(d *temporal.Driver, w workload.Workload) ([]float64, error) {
	perFile := make([]temporal.Ref[[]float64], len(w.Files))
	for i, f := range w.Files {
		perFile[i] = temporal.CallFlow(d, File, f)
	}
	lists, err := temporal.Gather(d, perFile)
	if err != nil {
		return nil, err
	}
	return slices.Concat(lists...), nil
}

// Programs for the tests: failures, a deadlock, retries and a big fan-out.
var (
	// Fail fails with "boom: " and its argument.
	Fail = temporal.Register(Reg, "test.fail", func(_ context.Context, what string) (int, error) {
		return 0, errors.New("boom: " + what)
	})
	// Double doubles its input.
	Double = temporal.Register1(Reg, "test.double", func(_ context.Context, _ struct{}, x int) (int, error) {
		return 2 * x, nil
	})
	// Const returns its argument.
	Const = temporal.Register(Reg, "test.const", func(_ context.Context, x int) (int, error) { return x, nil })
	// Inc returns its argument plus one.
	Inc = temporal.Register(Reg, "test.inc", func(_ context.Context, x int) (int, error) { return x + 1, nil })
	// Ints collects ints.
	Ints = temporal.RegisterN(Reg, "test.ints", func(_ context.Context, _ struct{}, xs []int) ([]int, error) { return xs, nil })
	// Selfish is a flow that adds a task reading the flow itself and
	// returns it: a cycle.
	Selfish = temporal.RegisterFlow(Reg, "test.selfish", func(_ context.Context, e *temporal.Emitter, _ struct{}) (temporal.Ref[int], error) {
		return temporal.Call1(e, Double, struct{}{}, temporal.RefTo[int](e.Self())), nil
	})
	// BadChild is a flow whose added task fails.
	BadChild = temporal.RegisterFlow(Reg, "test.bad_child", func(_ context.Context, e *temporal.Emitter, what string) (temporal.Ref[int], error) {
		bad := temporal.Call(e, Fail, what)
		return temporal.Call1(e, Double, struct{}{}, bad), nil
	})
	// Stray is a flow whose emission is malformed: its second task reads
	// a task of the same emission that is not added before it.
	Stray = temporal.RegisterFlow(Reg, "test.stray", func(_ context.Context, e *temporal.Emitter, _ struct{}) (temporal.Ref[int], error) {
		temporal.Call(e, Const, 1)
		return temporal.Call1(e, Double, struct{}{}, temporal.RefTo[int](-5)), nil
	})
	// Spread is a flow that adds N tasks counting from Base and a task
	// collecting their results: one evolving fan-out.
	Spread = temporal.RegisterFlow(Reg, "test.spread", func(_ context.Context, e *temporal.Emitter, a SpreadArg) (temporal.Ref[[]int], error) {
		refs := make([]temporal.Ref[int], a.N)
		for i := range refs {
			refs[i] = temporal.Call(e, Inc, a.Base+i)
		}
		return temporal.CallN(e, Ints, struct{}{}, refs), nil
	})
	// Flaky fails the first Fails times it runs in this process for Key.
	Flaky = temporal.Register(Reg, "test.flaky", func(_ context.Context, a FlakyArg) (int, error) {
		n, _ := flakyCalls.LoadOrStore(a.Key, new(atomic.Int64))
		if c := n.(*atomic.Int64).Add(1); c <= int64(a.Fails) {
			return 0, fmt.Errorf("flaky %s: call %d fails", a.Key, c)
		}
		return len(a.Key), nil
	})
)

var flakyCalls sync.Map

// SpreadArg is the argument of Spread.
type SpreadArg struct{ Base, N int }

// FlakyArg is the argument of Flaky.
type FlakyArg struct {
	Key   string
	Fails int
}

// Errors is a program that makes tasks fail and reports it: a fails, b
// needs a, c is independent; a flow's added task fails; a flow needs
// itself (Deadlock); a flow's emission is malformed (Stray). With Wait set
// it waits for b and returns its error.
var Errors = temporal.RegisterDriver(Reg, "test.errors", func(d *temporal.Driver, in ErrorsIn) (int, error) {
	a := temporal.Call(d, Fail, "a")
	b := temporal.Call1(d, Double, struct{}{}, a)
	c := temporal.Call(d, Const, 21)
	f := temporal.CallFlow(d, BadChild, "child")
	temporal.Call1(d, Double, struct{}{}, f)
	if in.Deadlock {
		s := temporal.CallFlow(d, Selfish, struct{}{})
		if _, err := temporal.Wait(d, s); err != nil {
			return 0, err
		}
	}
	if in.Stray {
		s := temporal.CallFlow(d, Stray, struct{}{})
		if _, err := temporal.Wait(d, s); err != nil {
			return 0, err
		}
	}
	if in.Wait {
		if _, err := temporal.Wait(d, b); err != nil {
			return 0, err
		}
	}
	return temporal.Wait(d, c)
})

// ErrorsIn selects what Errors waits for.
type ErrorsIn struct{ Wait, Deadlock, Stray bool }

// Retry runs a flaky task with enough retries, and one with too few.
var Retry = temporal.RegisterDriver(Reg, "test.retry", func(d *temporal.Driver, key string) ([]int, error) {
	ok := temporal.Call(d, Flaky, FlakyArg{Key: key + "-ok", Fails: 2}, temporal.Retries(2, time.Millisecond))
	v, err := temporal.Wait(d, ok)
	if err != nil {
		return nil, err
	}
	bad := temporal.Call(d, Flaky, FlakyArg{Key: key + "-bad", Fails: 5}, temporal.Retries(1, time.Millisecond))
	_, err = temporal.Wait(d, bad)
	return []int{v}, err
})

// FanOut submits Flows flows of Spread, each adding Per tasks, and returns
// every result in order: Flows*Per values, 1 to Flows*Per.
var FanOut = temporal.RegisterDriver(Reg, "test.fanout", func(d *temporal.Driver, in FanOutIn) ([]int, error) {
	flows := make([]temporal.Ref[[]int], in.Flows)
	for i := range flows {
		flows[i] = temporal.CallFlow(d, Spread, SpreadArg{Base: i * in.Per, N: in.Per})
	}
	lists, err := temporal.Gather(d, flows)
	if err != nil {
		return nil, err
	}
	return slices.Concat(lists...), nil
})

// FanOutIn sizes FanOut.
type FanOutIn struct{ Flows, Per int }
