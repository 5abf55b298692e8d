#!/bin/sh
# Compare procpool with CPython's multiprocessing side by side, in one run, and print one table.
#   benchmarks/compare/run.sh                 # full run (~5 min on 2 cores)
#   benchmarks/compare/run.sh --quick         # plumbing check (~3 min)
#   benchmarks/compare/run.sh --only apply,echo_16m --jmh-args "-f 3 -i 10"
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
