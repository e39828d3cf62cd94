package temporal_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"

	"github.com/evolve-dag/evolve/temporal"
)

// xreg holds the tasks of the store and cancellation tests. Their runs on
// Temporal go to workers of their own (inProcWorker), on queues of their
// own: the package's shared worker serves seed.Reg, without a Store.
var xreg = new(temporal.Registry)

var (
	// blob returns a string of n letters.
	blob = temporal.Register(xreg, "x.blob", func(_ context.Context, n int) (string, error) {
		return blobOf(n), nil
	})
	// sum is what a task saw of a string: its length and SHA-256.
	sum = temporal.Register1(xreg, "x.sum", func(_ context.Context, _ struct{}, s string) (Sum, error) {
		return sumOf(s), nil
	})
	// storeProg makes a blob at the store's threshold and one above it, and
	// has a task read each; it waits for both blobs itself too.
	storeProg = temporal.RegisterDriver(xreg, "x.store", func(d *temporal.Driver, in StoreIn) (StoreOut, error) {
		var out StoreOut
		small := temporal.Call(d, blob, in.Small)
		big := temporal.Call(d, blob, in.Big)
		ss := temporal.Call1(d, sum, struct{}{}, small)
		bs := temporal.Call1(d, sum, struct{}{}, big)
		var err error
		if out.Small, err = temporal.Wait(d, ss); err != nil {
			return out, err
		}
		if out.Big, err = temporal.Wait(d, bs); err != nil {
			return out, err
		}
		sv, err := temporal.Wait(d, small)
		if err != nil {
			return out, err
		}
		out.SmallLen = len(sv)
		bv, err := temporal.Wait(d, big)
		switch {
		case errors.Is(err, temporal.ErrStored):
			out.BigStored = true
		case err != nil:
			return out, err
		default:
			out.BigLen = len(bv)
		}
		return out, nil
	})
)

// Sum is what x.sum returns.
type Sum struct {
	Len int
	SHA string
}

// StoreIn sizes x.store's blobs; StoreOut is what it saw.
type (
	StoreIn  struct{ Small, Big int }
	StoreOut struct {
		Small, Big       Sum
		SmallLen, BigLen int
		BigStored        bool
	}
)

func blobOf(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i*7%26)
	}
	return string(b)
}

func sumOf(s string) Sum {
	h := sha256.Sum256([]byte(s))
	return Sum{Len: len(s), SHA: hex.EncodeToString(h[:])}
}

// inProcWorker starts a worker of reg, in this process, on queue q for the test's duration.
func inProcWorker(t *testing.T, q string, reg *temporal.Registry, opts ...temporal.WorkerOption) {
	t.Helper()
	w := worker.New(tc, q, worker.Options{DeadlockDetectionTimeout: 10 * time.Second})
	if err := temporal.RegisterWorker(w, reg, opts...); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// TestStore runs a program whose task returns 3 MB (above Temporal's 2 MB
// payload limit) read by another task, in-process and on Temporal with a
// worker keeping results above 1,000 bytes in a DirStore: the reading task
// gets the whole value both ways; on Temporal the value is in the store
// directory, the run's record and every payload of the history hold only
// a reference, and the driver's own Wait for it fails with ErrStored.
func TestStore(t *testing.T) {
	const above = 1000
	in := StoreIn{Small: above - 2, Big: 3 << 20} // a string of n letters is n+2 bytes of JSON
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wantSmall, wantBig := sumOf(blobOf(in.Small)), sumOf(blobOf(in.Big))

	lout, lrep, err := temporal.RunLocal(ctx, xreg, storeProg, in)
	if err != nil {
		t.Fatalf("in-process: %v", err)
	}
	if lout.Small != wantSmall || lout.Big != wantBig || lout.SmallLen != in.Small || lout.BigLen != in.Big || lout.BigStored {
		t.Errorf("in-process: got %+v, want sums %v and %v and both blobs", lout, wantSmall, wantBig)
	}
	if r := blobRec(t, lrep, in.Big); len(r.Result) != in.Big+2 {
		t.Errorf("in-process: the big blob's record holds %d bytes, want %d", len(r.Result), in.Big+2)
	}

	dir := t.TempDir()
	q := fmt.Sprintf("evolve-store-%d", time.Now().UnixNano())
	inProcWorker(t, q, xreg, temporal.WithStore(temporal.DirStore(dir), above))
	id := "store-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	tout, trep, err := temporal.RunTemporal(ctx, tc, storeProg, in, temporal.TaskQueue(q), temporal.WorkflowID(id))
	if err != nil {
		t.Fatalf("temporal: %v", err)
	}
	if tout.Small != wantSmall || tout.Big != wantBig || tout.SmallLen != in.Small || tout.BigLen != 0 || !tout.BigStored {
		t.Errorf("temporal: got %+v, want sums %v and %v, the small blob, and ErrStored for the big one", tout, wantSmall, wantBig)
	}
	replayWith(t, xreg, id)

	// The small blob (at the threshold) travelled inline, the big one as a
	// reference to the file holding it.
	if r := blobRec(t, trep, in.Small); len(r.Result) != in.Small+2 {
		t.Errorf("temporal: the small blob's record is %.60s…, want it inline", r.Result)
	}
	r := blobRec(t, trep, in.Big)
	var ref struct {
		Key  string `json:"$evolve.stored"`
		Size int    `json:"size"`
	}
	if err := json.Unmarshal(r.Result, &ref); err != nil || ref.Size != in.Big+2 {
		t.Fatalf("temporal: the big blob's record is %.200s (%v), want a reference to %d bytes", r.Result, err, in.Big+2)
	}
	if want := fmt.Sprintf("%s/%d-1", id, r.ID); ref.Key != want {
		t.Errorf("stored under %q, want %q", ref.Key, want)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0] != ref.Key {
		t.Fatalf("the store holds %q, want just %q", files, ref.Key)
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ref.Key)))
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := json.Unmarshal(data, &stored); err != nil || sumOf(stored) != wantBig {
		t.Errorf("the stored file (%d bytes, %v) is not the big blob", len(data), err)
	}

	// No payload in the workflow's history comes near the blob's size.
	hctx := context.Background()
	it := tc.GetWorkflowHistory(hctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	largest, refs := 0, 0
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		ps := e.GetActivityTaskScheduledEventAttributes().GetInput().GetPayloads()
		ps = append(ps, e.GetActivityTaskCompletedEventAttributes().GetResult().GetPayloads()...)
		ps = append(ps, e.GetWorkflowExecutionCompletedEventAttributes().GetResult().GetPayloads()...)
		for _, p := range ps {
			largest = max(largest, len(p.GetData()))
			if e.GetActivityTaskCompletedEventAttributes() != nil && strings.Contains(string(p.GetData()), ref.Key) {
				refs++
			}
		}
	}
	if largest > 16<<10 {
		t.Errorf("a payload of the history holds %d bytes", largest)
	}
	if refs != 1 {
		t.Errorf("%d completed activities returned the reference, want 1", refs)
	}
	t.Logf("largest payload %d bytes; stored %s", largest, ref.Key)
}

// blobRec is the record of the x.blob task of argument n.
func blobRec(t *testing.T, rep *temporal.Report, n int) temporal.TaskRecord {
	t.Helper()
	for _, r := range rep.Tasks {
		if r.Name == "x.blob" && string(r.Arg) == strconv.Itoa(n) {
			return r
		}
	}
	t.Fatalf("no x.blob(%d) among %d tasks", n, len(rep.Tasks))
	return temporal.TaskRecord{}
}
