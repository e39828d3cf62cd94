package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Registry is the table of named task functions and drivers that both
// runners use. Every process that runs tasks (each Temporal worker) must
// build the same table, so names are explicit and unique: Temporal finds an
// activity by its name, and the SDK's default name (the short function name)
// collides across packages.
//
// The zero value is an empty Registry ready to use. Registering never
// panics: a mistake (an empty or repeated name, a nil function) is kept and
// reported by Err, and every runner reports it before running anything.
// Register everything before the first run; a Registry is safe for
// concurrent use.
type Registry struct {
	mu      sync.RWMutex
	tasks   map[string]*taskDef
	drivers map[string]*driverDef
	errs    []error
}

// kind is the shape of a registered task function.
type kind uint8

const (
	kind0    kind = iota // func(ctx, A) (T, error)
	kind1                // func(ctx, A, D) (T, error)
	kindN                // func(ctx, A, []D) (T, error)
	kindFlow             // func(ctx, *Emitter, A) (Ref[T], error)
)

func (k kind) String() string {
	return [...]string{"no inputs", "one input", "a list of inputs", "a flow"}[k]
}

// call is a task function with its types erased: the argument and the
// inputs arrive JSON-encoded, and so does the result. A flow returns no
// result of its own: it fills e, and the emitted task that e.result names
// gives the flow its result.
type call func(ctx context.Context, e *Emitter, arg json.RawMessage, ins []json.RawMessage) (json.RawMessage, error)

type taskDef struct {
	name string
	kind kind
	call call
}

type driverDef struct {
	name string
	run  func(d *Driver, in json.RawMessage) (json.RawMessage, error)
}

// Err returns the mistakes made while registering, joined, or nil.
func (r *Registry) Err() error {
	if r == nil {
		return errors.New("evolve/temporal: nil *Registry")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return errors.Join(r.errs...)
}

// Names returns the registered task names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.tasks))
	for n := range r.tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *Registry) addTask(name string, k kind, fnNil bool, c call) {
	if r == nil {
		return
	}
	switch {
	case name == "":
		r.fail(errors.New("evolve/temporal: register: empty task name"))
		return
	case fnNil:
		r.fail(fmt.Errorf("evolve/temporal: register %q: nil function", name))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tasks[name]; dup {
		r.errs = append(r.errs, fmt.Errorf("evolve/temporal: register %q: name already registered", name))
		return
	}
	if _, dup := r.drivers[name]; dup {
		r.errs = append(r.errs, fmt.Errorf("evolve/temporal: register %q: name already registered as a driver", name))
		return
	}
	if r.tasks == nil {
		r.tasks = make(map[string]*taskDef)
	}
	r.tasks[name] = &taskDef{name: name, kind: k, call: c}
}

func (r *Registry) task(name string) (*taskDef, error) {
	if r == nil {
		return nil, errors.New("evolve/temporal: nil *Registry")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.tasks[name]
	if !ok {
		return nil, fmt.Errorf("evolve/temporal: task %q is not registered", name)
	}
	return d, nil
}

func (r *Registry) driver(name string) (*driverDef, error) {
	if r == nil {
		return nil, errors.New("evolve/temporal: nil *Registry")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[name]
	if !ok {
		return nil, fmt.Errorf("evolve/temporal: driver %q is not registered", name)
	}
	return d, nil
}

// Func is a registered task function with no inputs: it gets only its
// argument, of type A, and returns a T.
type Func[A, T any] struct{ name string }

// Func1 is a registered task function that reads one other task's result,
// of type D, besides its argument.
type Func1[A, D, T any] struct{ name string }

// FuncN is a registered task function that reads the results of a list of
// tasks, all of type D, besides its argument: a fan-in.
type FuncN[A, D, T any] struct{ name string }

// FlowFunc is a registered task function that adds tasks: it returns what
// it adds as data (through its Emitter), and the task it names gives the
// flow its result.
type FlowFunc[A, T any] struct{ name string }

// Name returns the name f was registered under.
func (f Func[A, T]) Name() string { return f.name }

// Name returns the name f was registered under.
func (f Func1[A, D, T]) Name() string { return f.name }

// Name returns the name f was registered under.
func (f FuncN[A, D, T]) Name() string { return f.name }

// Name returns the name f was registered under.
func (f FlowFunc[A, T]) Name() string { return f.name }

// Register registers fn under name. A and T must survive a JSON round trip
// (exported fields; no channels, functions or closures): on Temporal they
// cross processes and machines, and the in-process runner encodes them too,
// so that a value that cannot cross fails in the first, local, run.
func Register[A, T any](r *Registry, name string, fn func(ctx context.Context, arg A) (T, error)) Func[A, T] {
	r.addTask(name, kind0, fn == nil, func(ctx context.Context, _ *Emitter, arg json.RawMessage, _ []json.RawMessage) (json.RawMessage, error) {
		var a A
		if err := decode(name, "argument", arg, &a); err != nil {
			return nil, err
		}
		v, err := fn(ctx, a)
		if err != nil {
			return nil, err
		}
		return encode(name, "result", v)
	})
	return Func[A, T]{name}
}

// Register1 registers fn, a task function that reads one input, under name.
func Register1[A, D, T any](r *Registry, name string, fn func(ctx context.Context, arg A, in D) (T, error)) Func1[A, D, T] {
	r.addTask(name, kind1, fn == nil, func(ctx context.Context, _ *Emitter, arg json.RawMessage, ins []json.RawMessage) (json.RawMessage, error) {
		var a A
		var d D
		if err := decode(name, "argument", arg, &a); err != nil {
			return nil, err
		}
		if len(ins) != 1 {
			return nil, Permanent(fmt.Errorf("evolve/temporal: task %q: %d inputs, want 1", name, len(ins)))
		}
		if err := decode(name, "input", ins[0], &d); err != nil {
			return nil, err
		}
		v, err := fn(ctx, a, d)
		if err != nil {
			return nil, err
		}
		return encode(name, "result", v)
	})
	return Func1[A, D, T]{name}
}

// RegisterN registers fn, a task function that reads a list of inputs (a
// fan-in), under name.
func RegisterN[A, D, T any](r *Registry, name string, fn func(ctx context.Context, arg A, in []D) (T, error)) FuncN[A, D, T] {
	r.addTask(name, kindN, fn == nil, func(ctx context.Context, _ *Emitter, arg json.RawMessage, ins []json.RawMessage) (json.RawMessage, error) {
		var a A
		if err := decode(name, "argument", arg, &a); err != nil {
			return nil, err
		}
		ds := make([]D, len(ins))
		for i, in := range ins {
			if err := decode(name, "input", in, &ds[i]); err != nil {
				return nil, err
			}
		}
		v, err := fn(ctx, a, ds)
		if err != nil {
			return nil, err
		}
		return encode(name, "result", v)
	})
	return FuncN[A, D, T]{name}
}

// RegisterFlow registers fn, a task function that adds tasks, under name.
// fn adds tasks with e as its Builder and returns the one whose result
// becomes the flow's; the flow finishes when that task does (as graph.Flow
// does in-process). What fn adds is returned as data, so fn must not wait
// for it: on Temporal, the tasks it adds start only once it has returned.
func RegisterFlow[A, T any](r *Registry, name string, fn func(ctx context.Context, e *Emitter, arg A) (Ref[T], error)) FlowFunc[A, T] {
	r.addTask(name, kindFlow, fn == nil, func(ctx context.Context, e *Emitter, arg json.RawMessage, _ []json.RawMessage) (json.RawMessage, error) {
		var a A
		if err := decode(name, "argument", arg, &a); err != nil {
			return nil, err
		}
		ref, err := fn(ctx, e, a)
		if err != nil {
			return nil, err
		}
		if err := e.Err(); err != nil {
			return nil, Permanent(err)
		}
		e.result, e.hasResult = ref.ID, true
		return nil, nil
	})
	return FlowFunc[A, T]{name}
}

// Program is a registered driver: the client side of a workflow, which
// submits tasks and reacts to their results (an as-completed loop, a
// goroutine per file), taking an In and returning an Out.
type Program[In, Out any] struct{ name string }

// Name returns the name p was registered under.
func (p Program[In, Out]) Name() string { return p.name }

// RegisterDriver registers fn as a driver under name. On Temporal, fn runs
// inside a workflow, so it must be deterministic: no goroutines (use
// Driver.Go), no select or channels, no map iteration whose order matters,
// no clock, no randomness, no I/O. Everything it needs from the world comes
// through tasks. In-process, the same code runs as a plain client of an
// evolve run.
func RegisterDriver[In, Out any](r *Registry, name string, fn func(d *Driver, in In) (Out, error)) Program[In, Out] {
	if r == nil {
		return Program[In, Out]{name}
	}
	switch {
	case name == "":
		r.fail(errors.New("evolve/temporal: register driver: empty name"))
		return Program[In, Out]{name}
	case fn == nil:
		r.fail(fmt.Errorf("evolve/temporal: register driver %q: nil function", name))
		return Program[In, Out]{name}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[name]; dup {
		r.errs = append(r.errs, fmt.Errorf("evolve/temporal: register driver %q: name already registered", name))
		return Program[In, Out]{name}
	}
	if _, dup := r.tasks[name]; dup {
		r.errs = append(r.errs, fmt.Errorf("evolve/temporal: register driver %q: name already registered as a task", name))
		return Program[In, Out]{name}
	}
	if r.drivers == nil {
		r.drivers = make(map[string]*driverDef)
	}
	r.drivers[name] = &driverDef{name: name, run: func(d *Driver, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := decode(name, "input", raw, &in); err != nil {
			return nil, err
		}
		out, err := fn(d, in)
		if err != nil {
			return nil, err
		}
		return encode(name, "output", out)
	}}
	return Program[In, Out]{name}
}

func decode(task, what string, raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Permanent(fmt.Errorf("evolve/temporal: task %q: decoding its %s: %w", task, what, err))
	}
	return nil
}

func encode(task, what string, v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, Permanent(fmt.Errorf("evolve/temporal: task %q: encoding its %s: %w", task, what, err))
	}
	return b, nil
}
