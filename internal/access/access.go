// Package access lets evolve's own packages reach the engine behind the
// public handles without an exported hook in any public API.
//
// Each variable is set once, in the init function of the package named in
// its comment, and asserted to its function type once, in the package
// variables of each package that uses it: an imported package is
// initialised before the importer's variables, so the hooks are set by
// then, and a mistyped hook fails every test at start, never on user input.
// They are typed any because graph and exec import this package, so it
// cannot name their types (grpc-go's internal/internal.go does the same).
// Typed function values keep the hot paths free of allocations: a
// func(any) would box each handle.
package access

var (
	GraphCore any // func(*graph.Graph) *core.Graph; nil for a nil *Graph. Set by graph.
	RefNode   any // func(graph.Ref) *core.Node; nil for the zero Ref. Set by graph.
	NodeRef   any // func(*core.Node) graph.Ref. Set by graph.
	Returned  any // func(*core.Node) graph.Builder: the Builder of a task whose function returned. Set by graph.
	Waitable  any // func(*core.Node) error: why a wait for the node could never end, or nil. Set by graph.
	Await     any // func(context.Context, []*core.Node) error: graph's wait for nodes (Task.Wait's). Set by graph.
	RunOf     any // func(*exec.Execution) core.Run: the run of an execution, nil for none (dynamic's Until). Set by exec.
)
