"""Peak held items of the Dask variants: parsed items not yet processed.

    python3 bench/dask/held.py WORKLOAD.json VARIANT... [--reps N] [--table] [--kit DIR]

(python3: one that imports dask.distributed, such as /usr/bin/python3 after
`apt-get install -y python3-distributed python3-dask`.)

Runs each variant of the Dask kit (../shared/bench/dask/same_workload.py, not copied here)
through the kit's own main, so with its client and checks, and works out from the trace
the kit records (a start and an end per parse_file and process_item call) the largest
number of items held at once: a file's items count from the end of its parse to the end
of each one's process call, as evolve's examples/evolving counts them (workload.Held).
Ends at the same instant count together, as in workload.Simulate.

Prints the kit's JSON line for each run with peak_held added, or with --table a markdown
table of medians over the reps. WORKLOAD.json is what the kit's dump tool writes;
compare.sh leaves one per case in $OUT/w. Run it under `flock /tmp/bench.lock` on a
shared machine, as compare.sh runs its timed processes.
"""
import argparse, contextlib, io, itertools, json, os, statistics, sys


def peak_held(trace, files):
    """The largest running sum of +len(items) at each parse end and -1 at each item end.

    File a (2 items) parsed by t=1, one of its items done at t=2 as file b's parse (1 item)
    ends: 2 held, not 3, since an instant's ends count together.
    >>> files = {"a": (1, [0.1, 0.2]), "b": (2, [0.3])}
    >>> peak_held([("parse", "a", 0, 1), ("item", 0.1, 1, 2), ("parse", "b", 0, 2),
    ...            ("item", 0.2, 2, 3), ("item", 0.3, 2, 3)], files)
    2
    >>> peak_held([("parse", "a", 0, 1), ("parse", "b", 0, 1.5), ("item", 0.1, 1, 2)], files)
    3
    """
    size = {name: len(xs) for name, (_, xs) in files.items()}
    changes = sorted((end, size[key] if kind == "parse" else -1) for kind, key, _, end in trace)
    held = peak = 0
    for _, same_instant in itertools.groupby(changes, key=lambda c: c[0]):
        held += sum(d for _, d in same_instant)
        peak = max(peak, held)
    return peak


def find_kit(root):
    """shared/bench/dask beside the project or beside a folder above it (a worktree's)."""
    d = os.path.abspath(root)
    while True:
        kit = os.path.join(os.path.dirname(d), "shared", "bench", "dask")
        if os.path.isfile(os.path.join(kit, "same_workload.py")):
            return kit
        if os.path.dirname(d) == d:
            return None
        d = os.path.dirname(d)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", help="the dumped workload JSON")
    ap.add_argument("variants", nargs="+", help="variants of same_workload.py")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="a markdown table of medians instead of JSON lines")
    ap.add_argument("--kit", default=find_kit(os.path.dirname(os.path.dirname(here))),
                    help="folder of same_workload.py (default: shared/bench/dask in the nearest "
                         "folder above the project that has one)")
    a = ap.parse_args()
    if not a.kit:
        ap.error("no shared/bench/dask/same_workload.py above the project; give --kit")

    sys.dont_write_bytecode = True  # leave no __pycache__ in the shared kit
    sys.path.insert(0, os.path.abspath(a.kit))
    import same_workload as sw  # as a module, so that tasks pickle by reference (see its end)

    rows = []
    for _ in range(a.reps):
        for v in a.variants:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = sw.main([a.workload, v])
            if rc != 0:
                sys.stdout.write(out.getvalue())
                return rc
            r = json.loads(out.getvalue().strip().splitlines()[-1])
            # main clears TRACE before each variant and leaves it after, so it holds this run's.
            r["peak_held"] = peak_held(sw.TRACE, sw.FILES)
            rows.append(r)
            if not a.table:
                print(json.dumps(r), flush=True)
    if a.table:
        print("| Dask variant | runs | wall s | peak held (range) |")
        print("|---|---|---|---|")
        for v in a.variants:
            rs = [r for r in rows if r["variant"] == v]
            peaks = [r["peak_held"] for r in rs]
            print(f"| {v} | {len(rs)} | {statistics.median(r['wall_s'] for r in rs):.3f} "
                  f"| {statistics.median(peaks):g} ({min(peaks)}-{max(peaks)}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
