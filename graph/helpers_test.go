package graph_test

import (
	"runtime/debug"
	"testing"
)

// noPanic runs f and turns a panic into a test failure, so that one broken
// call does not take the whole test binary down with it.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	var (
		v     any
		stack []byte
	)
	func() {
		defer func() {
			if v = recover(); v != nil {
				stack = debug.Stack()
			}
		}()
		f()
	}()
	if v != nil {
		t.Fatalf("%s panicked: %v\n%s", what, v, stack)
	}
}
