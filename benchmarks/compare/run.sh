#!/bin/sh
# Compare procpool with CPython's multiprocessing side by side, in one run, and print one table.
# Columns: CPython fork/spawn, the raw limit (RawLimitsBenchmark), procpool JMH per transport,
# procpool user view (UserView, plain Java), ratios to CPython and shares of the raw limit.
#   benchmarks/compare/run.sh                 # full run (~15 min on 2 cores)
#   benchmarks/compare/run.sh --quick         # plumbing check (~6 min)
#   benchmarks/compare/run.sh --only apply,echo_16m --jmh-args "-f 3 -i 10"
#   benchmarks/compare/run.sh --no-user-view --no-limits   # CPython and JMH only
# Builds benchmarks/target/benchmarks.jar first if it is missing (or if PROCPOOL_BUILD=1).
# Options are those of compare.py (python3 compare.py --help).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jar="$root/benchmarks/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ "${PROCPOOL_BUILD:-0}" = 1 ]; then
  (cd "$root" && ./mvnw -B -ntp -q -pl benchmarks -am package -DskipTests)
fi
exec python3 "$here/compare.py" --jar "$jar" "$@"
