package core

import "sync"

// Signal wakes whoever waits for "one of these nodes finished" (an
// as-completed loop, a wait for the first): a goroutine outside any task
// through a channel, or a task through its executor. Firing it from a
// Notifier, inside the finishing node's completion, queues a waiting task's
// resumption before the finishing worker picks its next task, so the
// resumption keeps its place in priority order.
type Signal struct {
	mu     sync.Mutex
	fired  bool  // fired with no task armed: the next Arm returns at once
	waiter *Node // the Waiter of a task blocked on the signal
	run    Run
	ch     chan struct{} // capacity 1: a token for goroutines outside tasks
}

// NewSignal returns a Signal that has not fired.
func NewSignal() *Signal { return &Signal{ch: make(chan struct{}, 1)} }

// C is the channel a goroutine outside any task receives from.
func (s *Signal) C() <-chan struct{} { return s.ch }

// Fire wakes the armed waiter, or records the firing for the next Arm and
// leaves a token for a goroutine outside tasks.
func (s *Signal) Fire() {
	s.mu.Lock()
	w, r := s.waiter, s.run
	s.waiter, s.run = nil, nil
	if w == nil {
		s.fired = true
	}
	s.mu.Unlock()
	if w != nil && w.CAS(Waiting, Ready) {
		r.Ready(w)
		return
	}
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// Arm makes w, a Waiter in state Waiting, the one Fire makes ready through
// r. It reports false, arming nothing, when the signal fired since the
// last Arm: the caller need not block.
func (s *Signal) Arm(w *Node, r Run) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fired {
		s.fired = false
		return false
	}
	s.waiter, s.run = w, r
	return true
}

// Disarm removes w if it is still armed.
func (s *Signal) Disarm(w *Node) {
	s.mu.Lock()
	if s.waiter == w {
		s.waiter, s.run = nil, nil
	}
	s.mu.Unlock()
}

// Consume forgets a firing, for a goroutine outside tasks that received
// from C.
func (s *Signal) Consume() {
	s.mu.Lock()
	s.fired = false
	s.mu.Unlock()
}
