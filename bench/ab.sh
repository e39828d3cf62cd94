#!/usr/bin/env bash
# A/B of two builds of evolve on BenchmarkShapes cases, the way this VM
# can tell 5 % apart (BENCHMARKS.md, session 7): each benchmark alone in
# its own process, the two test binaries alternating, many rounds, and the
# median of the per-round ratios (B / A) with its interquartile range.
#
# Usage, from the project's root:
#   git worktree add /tmp/base <commit> && (cd /tmp/base && go test -c -o /tmp/a.test ./exec)
#   go test -c -o /tmp/b.test ./exec
#   bench/ab.sh 20 /tmp/a.test /tmp/b.test chain/evolve/workers=1 wave/sequential/workers=1 ...
#
# A case is a BenchmarkShapes case, or a full name starting with Benchmark
# (BenchmarkSubmit/evolve/workers=1). Include a sequential floor among the
# cases: it is the same code in both binaries, so its ratio says how far
# the method can be trusted that day.
#
# METRIC=run-ns/task (or build-ns/task, held-B/task) compares that metric
# of BenchmarkShapes instead of ns/task.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,18p' "$0"; exit 2; }
metric=${METRIC:-ns/task}
rounds=$1 a=$2 b=$3
shift 3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
	for c in "$@"; do
		# Each part of a -test.bench pattern is matched on its own: anchor
		# them all, or indep would run indepclo too.
		name=$c
		[[ $c == Benchmark* ]] || name=BenchmarkShapes/$c
		re="^${name//\//\$/^}\$"
		for bin in "$a" "$b"; do
			ns=$("$bin" -test.run '^$' -test.bench "$re" -test.benchtime 3x 2>/dev/null |
				awk -v c="$name" -v m="$metric" '$1 ~ "^"c"-" { for (i = 2; i <= NF; i++) if ($i == m) print $(i-1) }')
			[ -n "$ns" ] || { echo "no $metric for $c from $bin" >&2; exit 1; }
			echo "$c $bin $ns" >>"$out"
		done
	done
done
# Lines come in pairs (A then B) per case and round.
awk -v a="$a" -v m="$metric" '
function median(v, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
$2 == a { last[$1] = $3; next }
{
	k = ++n[$1]; ra[$1, k] = last[$1]; rb[$1, k] = $3; r[$1, k] = $3 / last[$1]
	if (!($1 in seen)) { seen[$1] = 1; order[++cases] = $1 }
}
END {
	printf "%-32s %8s %8s %8s %15s %6s\n", "case (" m ")", "A", "B", "B/A", "IQR", "rounds"
	for (i = 1; i <= cases; i++) {
		c = order[i]; m = n[c]
		for (k = 1; k <= m; k++) { x[k] = ra[c, k]; y[k] = rb[c, k]; z[k] = r[c, k] }
		ma = median(x, m); mb = median(y, m); mr = median(z, m)
		q1 = z[int((m + 3) / 4)]; q3 = z[int((3 * m + 3) / 4)]
		printf "%-32s %8.0f %8.0f %8.3f %7.3f-%-7.3f %6d\n", c, ma, mb, mr, q1, q3, m
	}
}' "$out"
