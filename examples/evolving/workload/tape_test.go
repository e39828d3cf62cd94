package workload

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// tapeOf returns a Tape holding calls given as offsets from one instant.
func tapeOf(cs ...call) *Tape {
	t := new(Tape)
	for _, c := range cs {
		t.record(c)
	}
	return t
}

// TestReplay checks Replay on a hand-worked run: two workers, file a
// (parse 10 ms, one item of 5 ms) and file b (parse 2 ms, one item of
// 1 ms).
//
// Replayed: a's parse on one worker [0, 10], b's on the other [0, 2], b's
// item [2, 3] on the worker free first, a's item waits for a's parse:
// [10, 15]. Makespan 15 ms, whenever the run itself started the calls.
func TestReplay(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	w := Workload{Files: []File{
		{Name: "a", Parse: ms(10), Items: []Item{{X: 0.25, Sleep: ms(5)}}},
		{Name: "b", Parse: ms(2), Items: []Item{{X: 0.5, Sleep: ms(1)}}},
	}}
	t0 := time.Unix(1000, 0)
	at := func(n int) time.Time { return t0.Add(ms(n)) }
	for _, c := range []struct {
		name    string
		workers int
		tape    *Tape
		want    time.Duration
	}{
		{"no overhead", 2, tapeOf(
			call{file: "b", parse: true, start: at(0), end: at(2)},
			call{x: 0.5, start: at(2), end: at(3)},
			call{file: "a", parse: true, start: at(0), end: at(10)},
			call{x: 0.25, start: at(10), end: at(15)},
		), ms(15)},
		{"late starts are not replayed", 2, tapeOf(
			call{file: "a", parse: true, start: at(1), end: at(11)},
			call{file: "b", parse: true, start: at(2), end: at(4)},
			call{x: 0.5, start: at(7), end: at(8)},
			call{x: 0.25, start: at(13), end: at(18)},
		), ms(15)},
		{"its own durations: a sleep that overshot", 2, tapeOf(
			call{file: "a", parse: true, start: at(0), end: at(12)},
			call{file: "b", parse: true, start: at(0), end: at(2)},
			call{x: 0.5, start: at(2), end: at(3)},
			call{x: 0.25, start: at(12), end: at(17)},
		), ms(17)},
		{"its own order: one worker, a's item before b's parse", 1, tapeOf(
			call{file: "a", parse: true, start: at(0), end: at(10)},
			call{x: 0.25, start: at(10), end: at(15)},
			call{file: "b", parse: true, start: at(15), end: at(17)},
			call{x: 0.5, start: at(17), end: at(18)},
		), ms(18)},
		{"empty", 2, new(Tape), 0},
	} {
		got, err := w.Replay(c.workers, c.tape)
		if err != nil || got != c.want {
			t.Errorf("%s: Replay = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestReplayErrors(t *testing.T) {
	w := Workload{Files: []File{{Name: "a", Items: []Item{{X: 0.25}}}}}
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		name    string
		workers int
		tape    *Tape
	}{
		{"no worker", 0, new(Tape)},
		{"a file it does not have", 1, tapeOf(call{file: "z", parse: true, start: t0, end: t0})},
		{"an item it does not have", 1, tapeOf(call{file: "a", parse: true, start: t0, end: t0}, call{x: 0.75, start: t0, end: t0})},
		{"an item before its parse", 1, tapeOf(call{x: 0.25, start: t0, end: t0})},
	} {
		if _, err := w.Replay(c.workers, c.tape); err == nil {
			t.Errorf("%s: Replay returned no error", c.name)
		}
	}
	dup := Workload{Files: []File{{Name: "a", Items: []Item{{X: 0.25}}}, {Name: "b", Items: []Item{{X: 0.25}}}}}
	if _, err := dup.Replay(1, new(Tape)); err == nil {
		t.Error("Replay of a workload whose items cannot be told apart returned no error")
	}
}

// TestTapeRecordsParseAndProcess: Parse and Process record their calls in
// the Tape their context carries, with the times they slept (in a bubble,
// exactly), and the sequential loop replays to exactly its own length.
func TestTapeRecordsParseAndProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := Generate(3, 4, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		var tape Tape
		ctx := WithTape(context.Background(), &tape)
		start := time.Now()
		if _, err := w.Sequential(ctx); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		n, _ := w.Expected()
		if got, want := tape.Len(), len(w.Files)+n; got != want {
			t.Fatalf("the tape holds %d calls, want %d", got, want)
		}
		got, err := w.Replay(1, &tape)
		if err != nil || got != wall || got != w.TotalWork() {
			t.Fatalf("Replay = %v, %v; want the loop's %v, its total work %v", got, err, wall, w.TotalWork())
		}
	})
}
