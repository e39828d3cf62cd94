package temporal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"

	"github.com/evolve-dag/evolve/temporal"
)

// priorities are the evolve priorities prioProg calls echo with: one in
// each of PriorityKey's five ranges, and their edges.
var priorities = []int{25, 10, 9, 1, 0, -1, -9, -10, -40}

var (
	echo     = temporal.Register(xreg, "x.echo", func(_ context.Context, p int) (int, error) { return p, nil })
	prioProg = temporal.RegisterDriver(xreg, "x.priorities", func(d *temporal.Driver, _ int) (int, error) {
		refs := make([]temporal.Ref[int], len(priorities))
		for i, p := range priorities {
			refs[i] = temporal.Call(d, echo, p, temporal.Priority(p))
		}
		vs, err := temporal.Gather(d, refs)
		sum := 0
		for _, v := range vs {
			sum += v
		}
		return sum, err
	})
)

// TestPriorityKeys runs tasks of every priority range on the server and
// reads, from the workflow's history, the priority key each activity was
// scheduled with: evolve's priorities reach Temporal's task queue as the
// keys PriorityKey documents (1 for 10 and above ... 5 for -10 and below),
// and PriorityKey itself is checked at every edge of its ranges.
func TestPriorityKeys(t *testing.T) {
	want := map[int]int{25: 1, 10: 1, 9: 2, 1: 2, 0: 3, -1: 4, -9: 4, -10: 5, -40: 5}
	for p, k := range want {
		if got := temporal.PriorityKey(p); got != k {
			t.Errorf("PriorityKey(%d) = %d, want %d", p, got, k)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := fmt.Sprintf("evolve-prio-%d", time.Now().UnixNano())
	inProcWorker(t, q, xreg)
	id := "prio-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	sum, _, err := temporal.RunTemporal(ctx, tc, prioProg, 0, temporal.TaskQueue(q), temporal.WorkflowID(id))
	if err != nil {
		t.Fatal(err)
	}
	wantSum := 0
	for _, p := range priorities {
		wantSum += p
	}
	if sum != wantSum {
		t.Errorf("sum of the echoes = %d, want %d", sum, wantSum)
	}

	// Each scheduled activity's input names its evolve priority (the
	// echo's argument); its Priority attribute must be that priority's key.
	seen := map[int]int{} // evolve priority -> key scheduled with
	it := tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		a := e.GetActivityTaskScheduledEventAttributes()
		if a == nil {
			continue
		}
		p, ok := priorityIn(a.GetInput().GetPayloads())
		if !ok {
			t.Fatalf("cannot find the priority in the input of activity %s", a.GetActivityType().GetName())
		}
		seen[p] = int(a.GetPriority().GetPriorityKey())
	}
	for p, k := range want {
		if got, ok := seen[p]; !ok {
			t.Errorf("no activity of priority %d was scheduled", p)
		} else if got != k {
			t.Errorf("the activity of priority %d was scheduled with key %d, want %d", p, got, k)
		}
	}
}

// priorityIn returns the echo's argument from an activity's input, whose
// one payload is the task's JSON spec.
func priorityIn(ps []*commonpb.Payload) (int, bool) {
	if len(ps) != 1 {
		return 0, false
	}
	var in struct {
		Spec struct {
			Arg json.RawMessage `json:"arg"`
		} `json:"spec"`
	}
	var p int
	if json.Unmarshal(ps[0].GetData(), &in) != nil || json.Unmarshal(in.Spec.Arg, &p) != nil {
		return 0, false
	}
	return p, true
}
