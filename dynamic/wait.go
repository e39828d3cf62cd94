package dynamic

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/access"
	"github.com/evolve-dag/evolve/internal/core"
)

// The hooks of internal/access that dynamic uses; graph and exec, imported,
// have set them.
var (
	refNode  = access.RefNode.(func(graph.Ref) *core.Node)
	nodeRef  = access.NodeRef.(func(*core.Node) graph.Ref)
	returned = access.Returned.(func(*core.Node) graph.Builder)
	waitable = access.Waitable.(func(*core.Node) error)
	await    = access.Await.(func(context.Context, []*core.Node) error)
	runOf    = access.RunOf.(func(*exec.Execution) core.Run)
)

// noTask is the error of a zero handle given to call at position i.
func noTask(call string, i int) error {
	return &graph.Error{Task: "<nil>", Err: fmt.Errorf("%s: task %d: %w", call, i, graph.ErrNoTask)}
}

// WaitAll waits until every task has finished, as Task.Wait does for one:
// inside a task it gives the worker slot back meanwhile, and needs the
// task's own context to do so (see graph.Task.Wait). It returns an error
// only if the wait itself fails (ctx, a deadlock, a task in no run or held
// by an open Batch, a zero handle, a context kept past its task); read the
// tasks' own errors from them.
func WaitAll[H graph.Handle](ctx context.Context, tasks ...H) error {
	nodes := make([]*core.Node, len(tasks))
	for i, t := range tasks {
		if nodes[i] = refNode(t.Ref()); nodes[i] == nil {
			return noTask("WaitAll", i)
		}
	}
	return await(ctx, nodes)
}

// WaitFirst waits until one of the tasks has finished and returns it: the
// first of tasks, in order, if several had finished already. It fails
// when tasks is empty (nothing could ever finish first) and for a zero
// handle.
func WaitFirst[H graph.Handle](ctx context.Context, tasks ...H) (H, error) {
	var zero H
	if ctx == nil {
		return zero, errors.New("dynamic: WaitFirst: nil context")
	}
	if len(tasks) == 0 {
		return zero, errors.New("dynamic: WaitFirst: no tasks")
	}
	first := -1
	sig := core.NewSignal()
	var mu sync.Mutex
	byNode := make(map[*core.Node]int, len(tasks))
	note := core.NewNotifier(func(n *core.Node) {
		mu.Lock()
		if first < 0 {
			first = byNode[n]
		}
		mu.Unlock()
		sig.Fire()
	})
	var watched []*core.Node
	defer func() {
		for _, n := range watched {
			n.Unwatch(note)
		}
	}()
	for i, t := range tasks {
		n := refNode(t.Ref())
		if n == nil {
			return zero, noTask("WaitFirst", i)
		}
		mu.Lock()
		if _, dup := byNode[n]; !dup {
			byNode[n] = i
		}
		mu.Unlock()
		if !n.Watch(note) {
			return t, nil
		}
		watched = append(watched, n)
	}
	if err := block(ctx, sig, watched, watched); err != nil {
		return zero, err
	}
	mu.Lock()
	defer mu.Unlock()
	return tasks[first], nil
}
