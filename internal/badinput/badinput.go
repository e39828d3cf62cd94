// Package badinput runs the bad-input tests of evolve's packages: calls of
// exported entry points with nil, zero, typed-nil and out-of-range values,
// each of which must return an error naming the problem, or do nothing, and
// never panic. One runner for graph, exec, dynamic and viz, so that the four
// tests hold every entry point to the same rule.
package badinput

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
)

// Case is one call of an exported entry point with bad input. Call returns
// the error the entry point returned, or, for one without an error, what is
// wrong with what it returned (nil when it is right; see Expect).
type Case struct {
	Name string
	Call func() error
	Want error  // the error must wrap it; nil with Text empty: the call must return nil
	Text string // the error must contain it (it names the problem)
}

// Run runs each case, failing t on a panic or on an error that does not
// name the problem.
func Run(t testing.TB, cases []Case) {
	t.Helper()
	for _, c := range cases {
		var err error
		var v any
		var stack []byte
		func() {
			defer func() {
				if v = recover(); v != nil {
					stack = debug.Stack()
				}
			}()
			err = c.Call()
		}()
		switch {
		case v != nil:
			t.Errorf("%s panicked: %v\n%s", c.Name, v, panicSite(stack))
		case c.Want == nil && c.Text == "":
			if err != nil {
				t.Errorf("%s: %v", c.Name, err)
			}
		case err == nil:
			t.Errorf("%s returned no error, want one wrapping %v", c.Name, c.Want)
		case c.Want != nil && !errors.Is(err, c.Want):
			t.Errorf("%s = %v, want an error wrapping %v", c.Name, err, c.Want)
		case !strings.Contains(err.Error(), c.Text):
			t.Errorf("%s = %q, want it to say %q", c.Name, err, c.Text)
		}
	}
}

// panicSite returns the lines of a stack from the panic on, and a few more.
func panicSite(stack []byte) string {
	s := string(stack)
	if i := strings.Index(s, "panic("); i >= 0 {
		s = s[i:]
	}
	lines := strings.SplitN(s, "\n", 9)
	return strings.Join(lines[:min(len(lines), 8)], "\n")
}

// Expect returns nil if ok, or an error saying what was got.
func Expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("got "+format, args...)
}
