#!/usr/bin/env bash
# Tasks that do some work, beside Taskflow (C++), in alternating rounds:
# evolve's BenchmarkWork (exec/bench_work_test.go) and Taskflow's side of
# it (bench/work/work.cpp), the shapes chain, tree, indep and wave at
# about 100,000 tasks, every task busy for 1 or 5 µs, on one and two
# threads. Where ../shared/bench/taskflow/compare.sh measures what a
# trivial task costs, this measures what a user with real tasks pays:
# ns per task against the work itself and the sequential loop, and what a
# second thread buys.
#
# Usage, from the project's root, with Taskflow's headers at $TASKFLOW as
# compare.sh wants them (default /tmp/taskflow):
#   bench/work-taskflow.sh [ROUNDS] [OUTDIR]
set -euo pipefail
rounds=${1:-3}
out=${2:-$(mktemp -d /tmp/work-tf.XXXXXX)}
tf=${TASKFLOW:-/tmp/taskflow}
[ -f "$tf/taskflow/taskflow.hpp" ] || { echo "no Taskflow headers at $tf (see ../shared/bench/taskflow/compare.sh)"; exit 2; }
[ -f go.mod ] && [ -f bench/work/work.cpp ] || { echo "run this from the project's root"; exit 2; }
mkdir -p "$out"
g++ -O2 -std=c++20 -pthread -I"$tf" -o "$out/tf-work" bench/work/work.cpp
go test -c -o "$out/exec.test" ./exec
# As compare.sh: glibc keeps freed memory, as a Go heap does between runs.
keep='GLIBC_TUNABLES=glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=4000000000'
for r in $(seq "$rounds"); do
	env "$keep" "$out/tf-work" >"$out/taskflow-$r.txt" 2>&1
	"$out/exec.test" -test.run '^$' -test.benchtime 3x -test.count 1 \
		-test.bench '^BenchmarkWork$' >"$out/evolve-$r.txt" 2>&1
	echo "round $r of $rounds done"
done
python3 - "$out" <<'PY'
import glob, os, re, statistics, sys
d = sys.argv[1]
num = lambda p: int(re.findall(r"(\d+)\.txt$", p)[0])
tf, ev, sq, gr = {}, {}, {}, {}
for f in sorted(glob.glob(os.path.join(d, "taskflow-*.txt")), key=num):
    for line in open(f):
        if line.startswith("taskflow shape="):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            tf.setdefault((kv["shape"], int(kv["work"]), int(kv["T"])), []).append(float(kv["total_ns_per_task"]))
pat = re.compile(r"^BenchmarkWork/(\w+)/work=(\d+)ns/(evolve|sequential|goroutines)/workers=(\d)-\d+\s.*?([\d.]+) ns/task")
for f in sorted(glob.glob(os.path.join(d, "evolve-*.txt")), key=num):
    for line in open(f):
        m = pat.match(line.strip())
        if not m:
            continue
        key = (m.group(1), int(m.group(2)), int(m.group(4)))
        {"evolve": ev, "sequential": sq, "goroutines": gr}[m.group(3)].setdefault(key, []).append(float(m.group(5)))
med = statistics.median
print("ns per task (build + run), median of", len(tf.get(("chain", 1000, 1), [])), "rounds; ratio = median of per-round ratios [min-max];")
print("overhead = median less the sequential loop's (the work and a clock read); goroutines = indep's floor on T cores")
print("| shape | work | T | sequential | goroutines | evolve | Taskflow | evolve / Taskflow | overhead evolve | overhead Taskflow |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for shape in ("chain", "tree", "indep", "wave"):
    for work in (1000, 5000):
        s = sq.get((shape, work, 1))
        for T in (1, 2):
            e, t = ev.get((shape, work, T)), tf.get((shape, work, T))
            if not e or not t or not s:
                continue
            rs = [a / b for a, b in zip(e, t)]
            base = med(s)
            over = lambda v: f"{med(v) - base:.0f}" if T == 1 else "-"
            g = gr.get((shape, work, T))
            floor = f"{med(g):.0f}" if g else ""
            print(f"| {shape} | {work} ns | {T} | {base:.0f} | {floor} | {med(e):.0f} | {med(t):.0f} | {med(rs):.3f}x [{min(rs):.3f}-{max(rs):.3f}] | {over(e)} | {over(t)} |")
PY
echo "raw output: $out"
