#!/usr/bin/env python3
"""Side-by-side comparison of procpool (JMH, benchmarks.jar) with CPython's multiprocessing.Pool.

Runs the same workloads with ``multiprocessing`` (``fork`` and ``spawn`` contexts, ``Pool(2)``,
module-level functions) and with the JMH jar (``-rf json -rff <file>``), then prints one table:

    workload | unit | CPython fork | CPython spawn | procpool <transport>... | ratio | target

``ratio`` is procpool ``pipes`` against CPython ``fork``, oriented so that > 1 means procpool is
better (faster for times, more for rates).

Every measurement, Python or JMH, is first reduced to *seconds per op*, where an op is what the
row counts (one apply, one task, one item, one echo, one pool start); each row then turns seconds
per op into its unit. Bandwidth of an echo counts both directions: ``MB/s = 2 * size / 1e6 / s``.

Usage (stdlib only, Python 3.8+):

    python3 compare.py                      # everything: CPython, then the JMH suite (~5 min on 2 cores)
    python3 compare.py --quick              # short runs, to check the plumbing (~3 min)
    python3 compare.py --only apply,echo_16m
    python3 compare.py --jmh-json old.json  # reuse JMH results, measure only CPython
    python3 compare.py --no-python --jmh-args "-f 3 -i 10"

Adding a workload (e.g. the managed queue once procpool's manager module exists) is one ``Row``
in ``ROWS`` below: a Python measuring function returning seconds per op, and the JMH benchmark
(and parameters) that measures the same thing.
"""

import argparse
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
    """One workload: how CPython measures it, which JMH result measures it, and its unit."""

    def __init__(self, key, label, unit, better, py, jmh_benchmark, jmh_params=None, to_unit=None, target=""):
        self.key = key
        self.label = label
        self.unit = unit
        self.better = better
        self.py = py
        self.jmh_benchmark = jmh_benchmark  # "Class.method", matched against the end of JMH's name
        self.jmh_params = jmh_params or {}  # params that select this row among the class's results
        self.to_unit = to_unit  # seconds per op -> value in unit
        self.target = target

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


ROWS = [
    Row("apply", "apply round trip (no-op)", "µs", LOWER, py_apply,
        "ApplyBenchmark.apply", to_unit=micros, target="≥10×"),
    Row("apply_async", "applyAsync, 50 000 no-op tasks", "tasks/s", HIGHER, py_apply_async,
        "ApplyAsyncBenchmark.applyAsync", to_unit=per_second, target="≥10×"),
    Row("map", "map 10^6 ints, default chunksize", "items/s", HIGHER, py_map,
        "MapBenchmark.map", to_unit=per_second, target="≥3×"),
    Row("imap_unordered", "imapUnordered 2·10^5 ints, chunksize 100", "items/s", HIGHER, py_imap_unordered,
        "MapBenchmark.imapUnordered", to_unit=per_second),
    Row("echo_1m", "echo 1 MiB byte[] (both ways)", "MB/s", HIGHER, py_echo(MIB),
        "EchoBenchmark.echo", {"size": str(MIB)}, to_unit=mb_per_s_both_ways(MIB)),
    Row("echo_16m", "echo 16 MiB byte[] (both ways)", "MB/s", HIGHER, py_echo(16 * MIB),
        "EchoBenchmark.echo", {"size": str(16 * MIB)}, to_unit=mb_per_s_both_ways(16 * MIB), target="≥4×"),
    Row("start", "pool start to first result, Pool(2)", "ms", LOWER, py_start,
        "StartBenchmark.startToFirstResult", to_unit=millis, target="≤150 ms"),
    Row("queue_pairs", "managed queue put+get pairs from the parent", "pairs/s", HIGHER, py_queue_pairs,
        "QueueBenchmark.putGet", to_unit=per_second, target="≥3×"),
    Row("queue_stream", "managed queue worker→worker stream, 20 000 items", "items/s", HIGHER, py_queue_stream,
        "QueueBenchmark.workerToWorker", to_unit=per_second, target="≥5×"),
]

CONTEXTS = ["fork", "spawn"]
TRANSPORT_ORDER = ["pipes", "threads", "grpc"]


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


def run_jmh(args, rows, out_json):
    java = args.java
    jar = os.path.abspath(args.jar)
    if not os.path.exists(jar):
        sys.exit("no %s: build it with ./mvnw -B -ntp -pl benchmarks -am package -DskipTests" % jar)
    transports = available_transports(jar, java)
    if args.transports:
        wanted = args.transports.split(",")
        missing = [t for t in wanted if t not in transports]
        if missing:
            print("note: transport(s) %s not in benchmarks.jar, skipped" % ",".join(missing), file=sys.stderr)
        transports = [t for t in wanted if t in transports]
    regexes = sorted({r.jmh_regex() for r in rows})
    cmd = [java, "-jar", jar] + regexes + ["-p", "transport=" + ",".join(transports),
                                           "-rf", "json", "-rff", out_json]
    if args.quick:
        cmd += ["-wi", "1", "-i", "2", "-f", "1"]
    if args.jmh_args:
        cmd += args.jmh_args.split()
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    log = open(out_json + ".log", "w")
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if proc.returncode != 0 or not os.path.exists(out_json):
        print("JMH failed (exit %d); see %s.log" % (proc.returncode, out_json), file=sys.stderr)
    print("JMH log: %s.log" % out_json, file=sys.stderr)


def jmh_values(rows, jmh_json):
    """{(row key, transport): value in the row's unit}, plus the transports seen."""
    with open(jmh_json) as f:
        results = json.load(f)
    values, transports = {}, set()
    for res in results:
        params = res.get("params", {})
        for row in rows:
            if not res["benchmark"].endswith("." + row.jmh_benchmark):
                continue
            if any(params.get(k) != v for k, v in row.jmh_params.items()):
                continue
            if params.get("processes", str(PROCESSES)) != str(PROCESSES):
                continue
            m = res["primaryMetric"]
            t = params.get("transport", "?")
            transports.add(t)
            values[(row.key, t)] = row.to_unit(seconds_per_op(m["score"], m["scoreUnit"]))
    return values, transports


# ---------------------------------------------------------------- CPython driver

def run_python(rows, quick):
    values = {}
    for ctx_name in CONTEXTS:
        try:
            ctx = multiprocessing.get_context(ctx_name)
        except ValueError:
            continue
        for row in rows:
            print("CPython %-5s %s ..." % (ctx_name, row.key), file=sys.stderr, end=" ", flush=True)
            s = row.py(ctx, quick)
            values[(row.key, ctx_name)] = row.to_unit(s)
            print("%.4g %s" % (values[(row.key, ctx_name)], row.unit), file=sys.stderr, flush=True)
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
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return None
    return ours / theirs if row.better == HIGHER else theirs / ours


def table(rows, values, transports):
    header = ["workload", "unit"] + ["CPython %s" % c for c in CONTEXTS] + \
             ["procpool %s" % t for t in transports] + ["ratio pipes/fork", "target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 3) + ["---"]) + "|"]
    for row in rows:
        cells = [row.label, row.unit]
        cells += [fmt(values.get((row.key, c)), row.unit) for c in CONTEXTS]
        cells += [fmt(values.get((row.key, t)), row.unit) for t in transports]
        r = ratio(row, values.get((row.key, "pipes")), values.get((row.key, "fork")))
        cells.append("—" if r is None else "%.2f×" % r)
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
    return "%s; nproc %d (%s); RAM %s; %s; Python %s" % (
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), cpu or "?", mem, jv[0] if jv else "java ?",
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
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--no-java", action="store_true")
    ap.add_argument("--out", help="write all values as JSON here")
    args = ap.parse_args()

    rows = ROWS
    if args.only:
        keys = args.only.split(",")
        unknown = [k for k in keys if k not in {r.key for r in ROWS}]
        if unknown:
            ap.error("unknown row(s) %s" % unknown)
        rows = [r for r in ROWS if r.key in keys]

    values, transports = {}, set()
    if not args.no_python:
        values.update(run_python(rows, args.quick))
    if not args.no_java:
        jmh_json = args.jmh_json
        if not jmh_json:
            jmh_json = os.path.join(tempfile.mkdtemp(prefix="procpool-jmh-"), "jmh.json")
            run_jmh(args, rows, jmh_json)
        if os.path.exists(jmh_json):
            v, transports = jmh_values(rows, jmh_json)
            values.update(v)
            print("JMH results: %s" % jmh_json, file=sys.stderr)
    ordered = [t for t in TRANSPORT_ORDER if t in transports] + sorted(transports - set(TRANSPORT_ORDER))
    if "pipes" not in ordered:
        ordered.insert(0, "pipes")

    print()
    print("Machine: " + machine(args.java))
    print()
    print(table(rows, values, ordered))
    print()
    print("ratio: procpool pipes vs CPython fork, > 1 means procpool is better "
          "(times: fork/pipes; rates: pipes/fork). MB/s count both directions, MB = 10^6 bytes.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"%s|%s" % k: v for k, v in values.items()}, f, indent=1)


if __name__ == "__main__":
    main()
