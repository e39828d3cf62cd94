#!/usr/bin/env bash
# fib(25) beside Taskflow (C++), per spawned call, in alternating rounds:
# evolve's fork-join call (dynamic.Join, BenchmarkShapes/fib/join) and its
# spawned tasks (fib/evolve: a task adds two tasks and waits for both),
# against Taskflow's Subflow (fib) and TaskGroup (fib_tg), one and two
# threads. ../shared/bench/taskflow/compare.sh compares fib/evolve with
# Subflow among the other shapes; this adds the fork-join call, which that
# script does not run, measured in the same rounds as Taskflow's.
#
# Usage, from the project's root, with Taskflow's headers at $TASKFLOW as
# compare.sh wants them (default /tmp/taskflow):
#   bench/fib-taskflow.sh [ROUNDS] [OUTDIR]
set -euo pipefail
rounds=${1:-5}
out=${2:-$(mktemp -d /tmp/fib-tf.XXXXXX)}
tf=${TASKFLOW:-/tmp/taskflow}
src=../shared/bench/taskflow/shapes.cpp
[ -f "$tf/taskflow/taskflow.hpp" ] || { echo "no Taskflow headers at $tf (see ../shared/bench/taskflow/compare.sh)"; exit 2; }
[ -f go.mod ] && [ -f "$src" ] || { echo "run this from the project's root, beside ../shared"; exit 2; }
mkdir -p "$out"
g++ -O2 -std=c++20 -pthread -I"$tf" -o "$out/tf-shapes" "$src"
go test -c -o "$out/exec.test" ./exec
# As compare.sh: glibc keeps freed memory, as a Go heap does between runs.
keep='GLIBC_TUNABLES=glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=4000000000'
for r in $(seq "$rounds"); do
	env "$keep" "$out/tf-shapes" --shapes fib,fib_tg >"$out/taskflow-$r.txt" 2>&1
	"$out/exec.test" -test.run '^$' -test.benchtime 3x -test.count 1 \
		-test.bench 'Shapes/fib/(evolve|join)/workers=(1|2)$' >"$out/evolve-$r.txt" 2>&1
	echo "round $r of $rounds done"
done
python3 - "$out" <<'EOF'
import glob, os, re, statistics, sys
d = sys.argv[1]
tf, ev = {}, {}
for f in sorted(glob.glob(os.path.join(d, "taskflow-*.txt")), key=lambda p: int(re.findall(r"(\d+)\.txt$", p)[0])):
    for line in open(f):
        if line.startswith("taskflow shape="):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            tf.setdefault((kv["shape"], int(kv["T"])), []).append(float(kv["total_ns_per_task"]))
pat = re.compile(r"^BenchmarkShapes/fib/(evolve|join)/workers=(\d)-\d+\s.*?([\d.]+) ns/task")
for f in sorted(glob.glob(os.path.join(d, "evolve-*.txt")), key=lambda p: int(re.findall(r"(\d+)\.txt$", p)[0])):
    for line in open(f):
        m = pat.match(line.strip())
        if m:
            ev.setdefault((m.group(1), int(m.group(2))), []).append(float(m.group(3)))
med = statistics.median
print("ns per spawned call, median (min-max) of", len(tf.get(("fib", 1), [])), "rounds; ratio = median of per-round ratios [min-max]")
print("| evolve | T | evolve | Taskflow Subflow | ratio | Taskflow TaskGroup | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for who in ("join", "evolve"):
    for T in (1, 2):
        e, s, g = ev.get((who, T)), tf.get(("fib", T)), tf.get(("fib_tg", T))
        if not e or not s or not g:
            continue
        rs = [a / b for a, b in zip(e, s)]
        rg = [a / b for a, b in zip(e, g)]
        f = lambda v: f"{med(v):.0f} ({min(v):.0f}-{max(v):.0f})"
        r = lambda v: f"{med(v):.2f}x [{min(v):.2f}-{max(v):.2f}]"
        print(f"| fib/{who} | {T} | {f(e)} | {f(s)} | {r(rs)} | {f(g)} | {r(rg)} |")
EOF
echo "raw output: $out"
