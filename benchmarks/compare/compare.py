#!/usr/bin/env python3
"""Side-by-side comparison of procpool (JMH and a user's view, benchmarks.jar) with CPython's multiprocessing.Pool.

Runs the same workloads with ``multiprocessing`` (``fork`` and ``spawn`` contexts, ``Pool(2)``,
module-level functions), with the JMH jar (``-rf json -rff <file>``; this includes
``RawLimitsBenchmark``, the machine's own UNIX-socket limits between two JVMs) and with
``io.procpool.benchmarks.UserView`` (a plain-Java program measuring each workload as a user's quick
benchmark would), then prints one table:

    workload | unit | CPython fork | CPython spawn | raw limit | procpool <transport> (JMH)... |
    procpool user view | JMH/fork | user/fork | JMH % raw | user % raw | target

``JMH/fork`` and ``user/fork`` are procpool ``pipes`` against CPython ``fork``, oriented so that > 1
means procpool is better (faster for times, more for rates). ``% raw`` is the share of the raw limit
that procpool ``pipes`` reaches: rate / limit for rates, limit time / procpool time for times.

Every measurement, Python or JMH, is first reduced to *seconds per op*, where an op is what the
row counts (one apply, one task, one item, one echo, one pool start); each row then turns seconds
per op into its unit. Bandwidth of an echo counts both directions: ``MB/s = 2 * size / 1e6 / s``.

Usage (stdlib only, Python 3.8+):

    python3 compare.py                      # everything: CPython, then the JMH suite (~5 min on 2 cores)
    python3 compare.py --quick              # short runs, to check the plumbing (~3 min)
    python3 compare.py --only apply,echo_16m
    python3 compare.py --jmh-json old.json  # reuse JMH results, measure only CPython
    python3 compare.py --no-python --jmh-args "-f 3 -i 10"
    python3 compare.py --no-user-view --no-limits   # only CPython and the JMH suite of procpool

Adding a workload is one ``Row`` in ``ROWS`` below: a Python measuring function returning seconds
per op, the JMH benchmark (and parameters) that measures the same thing, optionally the raw-limit
benchmark it is compared with, and a case in ``UserView.measure``.

While CPython and the user view run, this script holds ``/tmp/jmh.lock`` (the lock JMH takes), so
that no JMH run on the machine overlaps them; it waits for the lock if another run holds it, and
releases it just before starting JMH (which takes it itself).
"""

import argparse
import fcntl
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20
PROCESSES = 2
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JAR = os.path.join(HERE, os.pardir, "target", "benchmarks.jar")


# ---------------------------------------------------------------- task functions (module level, so
# that both fork and spawn find them by name)

def noop():
    return None


def ident(x):
    return x


def echo(b):
    return b


# ---------------------------------------------------------------- CPython measurements
# Each takes (ctx, quick) and returns seconds per op (median of repeats, after a warm-up).

def _median_of(repeats, measure):
    return statistics.median(measure() for _ in range(repeats))


def _close(pool):
    pool.close()
    pool.join()


def py_apply(ctx, quick):
    n = 300 if quick else 2000
    pool = ctx.Pool(PROCESSES)
    try:
        for _ in range(200):
            pool.apply(noop)

        def once():
            t0 = time.perf_counter()
            for _ in range(n):
                pool.apply(noop)
            return (time.perf_counter() - t0) / n

        return _median_of(3 if quick else 5, once)
    finally:
        _close(pool)


def py_apply_async(ctx, quick):
    n = 50_000
    pool = ctx.Pool(PROCESSES)
    try:
        for r in [pool.apply_async(noop) for _ in range(5000)]:
            r.get()

        def once():
            t0 = time.perf_counter()
            rs = [pool.apply_async(noop) for _ in range(n)]
            for r in rs:
                r.get()
            return (time.perf_counter() - t0) / n

        return _median_of(1 if quick else 3, once)
    finally:
        _close(pool)


def py_map(ctx, quick):
    xs = list(range(1_000_000))
    pool = ctx.Pool(PROCESSES)
    try:
        pool.map(ident, xs[:100_000])

        def once():
            t0 = time.perf_counter()
            out = pool.map(ident, xs)
            dt = time.perf_counter() - t0
            assert len(out) == len(xs)
            return dt / len(xs)

        return _median_of(1 if quick else 3, once)
    finally:
        _close(pool)


def py_map_str(ctx, quick):
    xs = [str(i) for i in range(1_000_000)]
    pool = ctx.Pool(PROCESSES)
    try:
        pool.map(ident, xs[:100_000])

        def once():
            t0 = time.perf_counter()
            out = pool.map(ident, xs)
            dt = time.perf_counter() - t0
            assert len(out) == len(xs)
            return dt / len(xs)

        return _median_of(1 if quick else 3, once)
    finally:
        _close(pool)


def py_imap_unordered(ctx, quick):
    xs = list(range(200_000))
    pool = ctx.Pool(PROCESSES)
    try:
        for _ in pool.imap_unordered(ident, xs[:20_000], 100):
            pass

        def once():
            t0 = time.perf_counter()
            k = 0
            for _ in pool.imap_unordered(ident, xs, 100):
                k += 1
            dt = time.perf_counter() - t0
            assert k == len(xs)
            return dt / len(xs)

        return _median_of(1 if quick else 3, once)
    finally:
        _close(pool)


def py_echo(size):
    def measure(ctx, quick):
        payload = os.urandom(size)
        reps = max(3, (20 * MIB) // size) if quick else max(10, (100 * MIB) // size)
        pool = ctx.Pool(PROCESSES)
        try:
            for _ in range(3):
                pool.apply(echo, (payload,))

            def once():
                t0 = time.perf_counter()
                back = pool.apply(echo, (payload,))
                dt = time.perf_counter() - t0
                assert len(back) == size
                return dt

            return _median_of(reps, once)
        finally:
            _close(pool)

    return measure


QUEUE_ITEMS = 20_000


def queue_consume(q, n):
    total = 0
    for _ in range(n):
        total += q.get()
    return total


def queue_produce(q, n):
    for i in range(n):
        q.put(i)


def py_queue_pairs(ctx, quick):
    manager = ctx.Manager()
    try:
        q = manager.Queue()
        n = 2_000 if quick else 10_000

        def once():
            t0 = time.perf_counter()
            for i in range(n):
                q.put(i)
                q.get()
            return (time.perf_counter() - t0) / n

        once()
        return _median_of(1 if quick else 3, once)
    finally:
        manager.shutdown()


def py_queue_stream(ctx, quick):
    manager = ctx.Manager()
    pool = ctx.Pool(PROCESSES)
    try:
        q = manager.Queue()
        n = QUEUE_ITEMS

        def once():
            t0 = time.perf_counter()
            consumer = pool.apply_async(queue_consume, (q, n))
            pool.apply(queue_produce, (q, n))
            consumer.get()
            return (time.perf_counter() - t0) / n

        once()
        return _median_of(1 if quick else 3, once)
    finally:
        _close(pool)
        manager.shutdown()


def py_start(ctx, quick):
    def once():
        t0 = time.perf_counter()
        pool = ctx.Pool(PROCESSES)
        pool.apply(noop)
        dt = time.perf_counter() - t0
        _close(pool)  # not timed, as in StartBenchmark
        return dt

    once()  # warm-up: first use of the context, imports
    return _median_of(3 if quick else 7, once)


# ---------------------------------------------------------------- rows

HIGHER, LOWER = "higher", "lower"


class Row:
    """One workload: how CPython measures it, which JMH result measures it, its raw limit, its unit.

    ``py`` is a measuring function, or the key of an earlier row whose CPython values this row shares
    (Python has one int type; procpool's Integer and Long rows compare with the same CPython run).
    ``raw`` is (``RawLimitsBenchmark`` method, params, statistic): the limit it is compared with.
    ``user_view`` says whether ``UserView`` measures this row (it has a case for every key below).
    """

    def __init__(self, key, label, unit, better, py, jmh_benchmark, jmh_params=None, to_unit=None, target="",
                 raw=None, user_view=True):
        self.key = key
        self.label = label
        self.unit = unit
        self.better = better
        self.py = py
        self.jmh_benchmark = jmh_benchmark  # "Class.method", matched against the end of JMH's name; or None
        self.jmh_params = jmh_params or {}  # params that select this row among the class's results
        self.to_unit = to_unit  # seconds per op -> value in unit
        self.target = target
        self.raw = raw
        self.user_view = user_view

    def jmh_regex(self):
        cls, method = self.jmh_benchmark.split(".")
        return r"\b%s\.%s$" % (cls, method)


def per_second(s):
    return 1.0 / s


def micros(s):
    return s * 1e6


def millis(s):
    return s * 1e3


def mb_per_s_both_ways(size):
    return lambda s: 2.0 * size / 1e6 / s


RAW_PING_PONG = ("RawLimitsBenchmark.pingPong", {}, "median")
RAW_PIPELINED = ("RawLimitsBenchmark.pipelined", {}, "score")
RAW_SPAWN = ("RawLimitsBenchmark.spawn", {}, "score")


def raw_bulk(size):
    return ("RawLimitsBenchmark.bulkEcho", {"size": str(size)}, "score")


ROWS = [
    Row("apply", "apply round trip (no-op)", "µs", LOWER, py_apply,
        "ApplyBenchmark.apply", to_unit=micros, target="≥10×", raw=RAW_PING_PONG),
    Row("apply_async", "applyAsync, 50 000 no-op tasks", "tasks/s", HIGHER, py_apply_async,
        "ApplyAsyncBenchmark.applyAsync", to_unit=per_second, target="≥10×", raw=RAW_PIPELINED),
    Row("map", "map 10^6 ints (JMH Integer, user view Long), default chunksize", "items/s", HIGHER, py_map,
        "MapBenchmark.map", to_unit=per_second, target="≥3×"),
    Row("map_integer", "map 10^6 Integers, default chunksize (CPython: the map row)", "items/s", HIGHER, "map",
        "MapBenchmark.map", to_unit=per_second),
    Row("map_string", "map 10^6 Strings str(i), default chunksize", "items/s", HIGHER, py_map_str,
        None, to_unit=per_second),
    Row("imap_unordered", "imapUnordered 2·10^5 ints (JMH Integer, user view Long), chunksize 100", "items/s",
        HIGHER, py_imap_unordered, "MapBenchmark.imapUnordered", to_unit=per_second, target="≥3×",
        raw=RAW_PIPELINED),
    Row("echo_1m", "echo 1 MiB byte[] (both ways)", "MB/s", HIGHER, py_echo(MIB),
        "EchoBenchmark.echo", {"size": str(MIB)}, to_unit=mb_per_s_both_ways(MIB), raw=raw_bulk(MIB)),
    Row("echo_16m", "echo 16 MiB byte[] (both ways)", "MB/s", HIGHER, py_echo(16 * MIB),
        "EchoBenchmark.echo", {"size": str(16 * MIB)}, to_unit=mb_per_s_both_ways(16 * MIB), target="≥4×",
        raw=raw_bulk(16 * MIB)),
    Row("start", "pool start to first result, Pool(2)", "ms", LOWER, py_start,
        "StartBenchmark.startToFirstResult", to_unit=millis, target="≤150 ms", raw=RAW_SPAWN),
    Row("queue_pairs", "managed queue put+get pairs from the parent", "pairs/s", HIGHER, py_queue_pairs,
        "QueueBenchmark.putGet", to_unit=per_second, target="≥3×"),
    Row("queue_stream", "managed queue worker→worker stream, 20 000 items", "items/s", HIGHER, py_queue_stream,
        "QueueBenchmark.workerToWorker", to_unit=per_second, target="≥5×"),
]

CONTEXTS = ["fork", "spawn"]
TRANSPORT_ORDER = ["pipes", "threads", "grpc"]
RAW, RAW_MEAN, USER = "raw", "raw mean", "user view"
JMH_LOCK = "/tmp/jmh.lock"


# ---------------------------------------------------------------- the machine-wide benchmark lock

class BenchLock:
    """Holds JMH's own lock file while this script measures outside JMH, so that no JMH run overlaps."""

    def __init__(self):
        self.f = None

    def acquire(self):
        if self.f is not None:
            return
        f = open(JMH_LOCK, "a")
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("waiting for %s (another benchmark run holds it) ..." % JMH_LOCK, file=sys.stderr, flush=True)
            fcntl.lockf(f, fcntl.LOCK_EX)
        self.f = f

    def release(self):
        if self.f is not None:
            fcntl.lockf(self.f, fcntl.LOCK_UN)
            self.f.close()
            self.f = None


# ---------------------------------------------------------------- JMH

_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}


def seconds_per_op(score, unit):
    """JMH score + unit ("us/op", "ops/s", "ops/ms"...) -> seconds per op."""
    a, b = unit.split("/")
    if b == "op":
        return score * _TIME_UNITS[a]
    if a == "ops":
        return _TIME_UNITS[b] / score
    raise ValueError("unexpected JMH unit " + unit)


def available_transports(jar, java):
    out = subprocess.run([java, "-cp", jar, "io.procpool.benchmarks.ListTransports"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return [t for t in out.split(",") if t]


def require_jar(jar):
    if not os.path.exists(jar):
        sys.exit("no %s: build it with ./mvnw -B -ntp -pl benchmarks -am package -DskipTests" % jar)


def run_jmh(args, rows, out_json, lock):
    java = args.java
    jar = os.path.abspath(args.jar)
    require_jar(jar)
    transports = available_transports(jar, java)
    if args.transports:
        wanted = args.transports.split(",")
        missing = [t for t in wanted if t not in transports]
        if missing:
            print("note: transport(s) %s not in benchmarks.jar, skipped" % ",".join(missing), file=sys.stderr)
        transports = [t for t in wanted if t in transports]
    regexes = {r.jmh_regex() for r in rows if r.jmh_benchmark}
    if args.limits:
        regexes |= {r"\b%s$" % r.raw[0].replace(".", r"\.") for r in rows if r.raw}
    if not regexes:
        return
    cmd = [java, "-jar", jar] + sorted(regexes) + ["-p", "transport=" + ",".join(transports),
                                                   "-rf", "json", "-rff", out_json]
    if args.quick:
        cmd += ["-wi", "1", "-i", "2", "-f", "1"]
    if args.jmh_args:
        cmd += args.jmh_args.split()
    while True:
        lock.acquire()  # wait until no other JMH run holds it ...
        lock.release()  # ... and let this JMH take it
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        with open(out_json + ".log", "w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
        with open(out_json + ".log") as log:
            lost_race = proc.returncode != 0 and "Unable to acquire the JMH lock" in log.read()
        if not lost_race:
            break
        print("another JMH run took %s first; waiting again" % JMH_LOCK, file=sys.stderr, flush=True)
    if proc.returncode != 0 or not os.path.exists(out_json):
        print("JMH failed (exit %d); see %s.log" % (proc.returncode, out_json), file=sys.stderr)
    print("JMH log: %s.log" % out_json, file=sys.stderr)


def jmh_values(rows, jmh_json):
    """{(row key, transport | RAW | RAW_MEAN): value in the row's unit}, plus the transports seen."""
    with open(jmh_json) as f:
        results = json.load(f)
    values, transports = {}, set()
    for res in results:
        params = res.get("params", {})
        m = res["primaryMetric"]
        for row in rows:
            if row.raw and res["benchmark"].endswith("." + row.raw[0]) \
                    and all(params.get(k) == v for k, v in row.raw[1].items()):
                score = m["score"]
                if row.raw[2] == "median":
                    score = m["scorePercentiles"]["50.0"]
                    values[(row.key, RAW_MEAN)] = row.to_unit(seconds_per_op(m["score"], m["scoreUnit"]))
                values[(row.key, RAW)] = row.to_unit(seconds_per_op(score, m["scoreUnit"]))
                continue
            if not row.jmh_benchmark or not res["benchmark"].endswith("." + row.jmh_benchmark):
                continue
            if any(params.get(k) != v for k, v in row.jmh_params.items()):
                continue
            if params.get("processes", str(PROCESSES)) != str(PROCESSES):
                continue
            t = params.get("transport", "?")
            transports.add(t)
            values[(row.key, t)] = row.to_unit(seconds_per_op(m["score"], m["scoreUnit"]))
    return values, transports


# ---------------------------------------------------------------- user view (plain Java, no JMH)

def run_user_view(args, rows):
    """{(row key, USER): value in the row's unit}: io.procpool.benchmarks.UserView, ``args.user_view_runs``
    times, each in a fresh plain JVM; the median of those runs per row (one run is one user's program, and one
    run of it moves 0.8-1.5x on this kind of shared machine, so a single run cannot carry a ratio)."""
    jar = os.path.abspath(args.jar)
    require_jar(jar)
    wanted = [r for r in rows if r.user_view]
    if not wanted:
        return {}
    runs = []
    workdir = tempfile.mkdtemp(prefix="procpool-user-view-")
    for i in range(args.user_view_runs):
        out = os.path.join(workdir, "user-view-%d.json" % (i + 1))
        cmd = [args.java, "-cp", jar, "io.procpool.benchmarks.UserView", "--transport", "pipes",
               "--rows", ",".join(r.key for r in wanted), "--out", out]
        if args.quick:
            cmd.append("--quick")
        print("+ (user view run %d of %d) %s" % (i + 1, args.user_view_runs, " ".join(cmd)), file=sys.stderr,
              flush=True)
        proc = subprocess.run(cmd)
        if proc.returncode != 0 or not os.path.exists(out):
            print("user view run %d failed (exit %d)" % (i + 1, proc.returncode), file=sys.stderr)
            continue
        with open(out) as f:
            runs.append(json.load(f))
    if not runs:
        return {}
    print("user view results: %s (%d run(s))" % (workdir, len(runs)), file=sys.stderr)
    values = {}
    for r in wanted:
        measured = [run[r.key] for run in runs if r.key in run]
        if not measured:
            continue
        values[(r.key, USER)] = r.to_unit(statistics.median(measured))
        if len(measured) > 1:
            in_unit = sorted(r.to_unit(s) for s in measured)
            print("user view %-15s %s: median of %s" % (r.key, r.unit, ", ".join("%.4g" % v for v in in_unit)),
                  file=sys.stderr)
    return values


# ---------------------------------------------------------------- CPython driver

def run_python(rows, quick):
    values = {}
    for ctx_name in CONTEXTS:
        try:
            ctx = multiprocessing.get_context(ctx_name)
        except ValueError:
            continue
        for row in rows:
            if isinstance(row.py, str):
                continue
            print("CPython %-5s %s ..." % (ctx_name, row.key), file=sys.stderr, end=" ", flush=True)
            s = row.py(ctx, quick)
            values[(row.key, ctx_name)] = row.to_unit(s)
            print("%.4g %s" % (values[(row.key, ctx_name)], row.unit), file=sys.stderr, flush=True)
        for row in rows:
            if isinstance(row.py, str):
                if (row.py, ctx_name) not in values:  # the shared row was not selected: measure it here
                    src = next(r for r in ROWS if r.key == row.py)
                    print("CPython %-5s %s ..." % (ctx_name, src.key), file=sys.stderr, end=" ", flush=True)
                    values[(row.py, ctx_name)] = src.to_unit(src.py(ctx, quick))
                    print("%.4g %s" % (values[(row.py, ctx_name)], src.unit), file=sys.stderr, flush=True)
                values[(row.key, ctx_name)] = values[(row.py, ctx_name)]
    return values


# ---------------------------------------------------------------- table

def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("tasks/s", "items/s"):
        return "{:,.0f}".format(v).replace(",", " ")
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def ratio(row, ours, theirs):
    """ours against theirs, > 1 when ours is better (faster, or more per second)."""
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return None
    return ours / theirs if row.better == HIGHER else theirs / ours


def fmt_ratio(r):
    return "—" if r is None else "%.2f×" % r


def fmt_share(r):
    return "—" if r is None else "%.0f %%" % (100 * r) if r >= 0.1 else "%.1f %%" % (100 * r)


def table(rows, values, transports, user_view=True, limits=True):
    header = ["workload", "unit"] + ["CPython %s" % c for c in CONTEXTS]
    if limits:
        header.append("raw limit")
    header += ["procpool %s (JMH)" % t for t in transports]
    if user_view:
        header.append("procpool pipes user view")
    header.append("JMH/fork")
    if user_view:
        header.append("user/fork")
    if limits:
        header.append("JMH % raw")
        if user_view:
            header.append("user % raw")
    header.append("target")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 3) + ["---"]) + "|"]
    for row in rows:
        cells = [row.label, row.unit]
        cells += [fmt(values.get((row.key, c)), row.unit) for c in CONTEXTS]
        raw = values.get((row.key, RAW))
        if limits:
            cell = fmt(raw, row.unit)
            if (row.key, RAW_MEAN) in values:
                cell += " (mean %s)" % fmt(values[(row.key, RAW_MEAN)], row.unit)
            cells.append(cell)
        cells += [fmt(values.get((row.key, t)), row.unit) for t in transports]
        user = values.get((row.key, USER))
        if user_view:
            cells.append(fmt(user, row.unit))
        fork = values.get((row.key, "fork"))
        jmh = values.get((row.key, "pipes"))
        cells.append(fmt_ratio(ratio(row, jmh, fork)))
        if user_view:
            cells.append(fmt_ratio(ratio(row, user, fork)))
        if limits:
            cells.append(fmt_share(ratio(row, jmh, raw)))
            if user_view:
                cells.append(fmt_share(ratio(row, user, raw)))
        cells.append(row.target)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine(java):
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
        except OSError:
            return "?"
    jv = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.strip().splitlines()
    mem = sh("free -h | awk '/^Mem:/{print $2}'")
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    load = sh("cut -d' ' -f1-3 /proc/loadavg")
    return "%s; nproc %d (%s); RAM %s; load average %s; %s; Python %s" % (
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), cpu or "?", mem, load or "?", jv[0] if jv else "java ?",
        platform.python_version())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jar", default=DEFAULT_JAR, help="benchmarks.jar (default: %(default)s)")
    ap.add_argument("--java", default=shutil.which("java") or "java")
    ap.add_argument("--quick", action="store_true", help="short runs, to check the plumbing")
    ap.add_argument("--only", help="comma-separated row keys: " + ",".join(r.key for r in ROWS))
    ap.add_argument("--transports", help="procpool transports to run, e.g. pipes,threads,grpc (default: all in the jar)")
    ap.add_argument("--jmh-args", default="", help="extra JMH arguments, e.g. \"-f 3 -i 10 -r 5s\"")
    ap.add_argument("--jmh-json", help="reuse this JMH result file instead of running JMH")
    ap.add_argument("--user-view", dest="user_view", action="store_true", default=True,
                    help="also measure each row as a user's plain-Java benchmark would (UserView; default)")
    ap.add_argument("--no-user-view", dest="user_view", action="store_false", help="leave the user view out")
    ap.add_argument("--user-view-json", help="reuse this UserView result file ({row: seconds per op})")
    ap.add_argument("--user-view-runs", type=int, default=3, metavar="N",
                    help="run UserView N times, each in a fresh JVM, and report the median per row (default: %(default)s)")
    ap.add_argument("--no-limits", dest="limits", action="store_false", default=True,
                    help="leave the raw limits (RawLimitsBenchmark) out")
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--no-java", action="store_true", help="no JMH and no user view")
    ap.add_argument("--out", help="write all values as JSON here")
    args = ap.parse_args()

    rows = ROWS
    if args.only:
        keys = args.only.split(",")
        unknown = [k for k in keys if k not in {r.key for r in ROWS}]
        if unknown:
            ap.error("unknown row(s) %s" % unknown)
        rows = [r for r in ROWS if r.key in keys]
    if args.user_view_runs < 1:
        ap.error("--user-view-runs must be at least 1")

    values, transports = {}, set()
    lock = BenchLock()
    try:
        if not args.no_python:
            lock.acquire()
            values.update(run_python(rows, args.quick))
        if not args.no_java and args.user_view:
            if args.user_view_json:
                with open(args.user_view_json) as f:
                    seconds = json.load(f)
                values.update({(r.key, USER): r.to_unit(seconds[r.key]) for r in rows if r.key in seconds})
            else:
                lock.acquire()
                values.update(run_user_view(args, rows))
        lock.release()
        if not args.no_java:
            jmh_json = args.jmh_json
            if not jmh_json:
                jmh_json = os.path.join(tempfile.mkdtemp(prefix="procpool-jmh-"), "jmh.json")
                run_jmh(args, rows, jmh_json, lock)
            if os.path.exists(jmh_json):
                v, transports = jmh_values(rows, jmh_json)
                if not args.limits:
                    v = {k: x for k, x in v.items() if k[1] not in (RAW, RAW_MEAN)}
                values.update(v)
                print("JMH results: %s" % jmh_json, file=sys.stderr)
    finally:
        lock.release()
    ordered = [t for t in TRANSPORT_ORDER if t in transports] + sorted(transports - set(TRANSPORT_ORDER))
    if "pipes" not in ordered:
        ordered.insert(0, "pipes")
    user_view = args.user_view and not args.no_java
    limits = args.limits and not args.no_java

    print()
    print("Machine: " + machine(args.java))
    print()
    print(table(rows, values, ordered, user_view, limits))
    print()
    print("%s: procpool pipes vs CPython fork, > 1 means procpool is better (times: fork/pipes; rates: pipes/fork)."
          % ("JMH/fork, user/fork" if user_view else "JMH/fork"))
    if limits:
        print("raw limit: RawLimitsBenchmark between this machine's JVMs over a UNIX socket, no procpool code: "
              "apply ↔ 8-byte ping-pong median (mean in parentheses), applyAsync/imapUnordered ↔ pipelined 64-byte "
              "messages/s, echo ↔ store-and-forward bulk echo, start ↔ bare JVM spawn to first byte. "
              "% raw: the share of that limit procpool pipes reaches (rates: pipes/raw; times: raw/pipes).")
    if user_view:
        print("user view: io.procpool.benchmarks.UserView, one plain JVM, one reused pool of 2, boxed Long values "
              "(Integer, String where the row says so), median of runs after one warm-up run; the column is the median "
              "of %d such JVMs (--user-view-runs)." % args.user_view_runs)
    print("MB/s count both directions, MB = 10^6 bytes.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"%s|%s" % k: v for k, v in values.items()}, f, indent=1)


if __name__ == "__main__":
    main()
