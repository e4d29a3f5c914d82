"""Training and inference speed of sklearn_rnn against PyTorch on CPU.

For Elman, LSTM and GRU, float32 and float64, three sizes and 1 and 2 threads,
this times one training epoch (forward, backward and an Adam update on each of a
few batches) and one inference pass over the same batches, for sklearn_rnn's
engine and for ``torch.nn.RNN/LSTM/GRU`` + ``nn.Linear`` + ``torch.optim.Adam``
on the same model, data, batch size and thread count.  It also times the
end-to-end ``RNNClassifier.fit`` per epoch on the same data (with the engine's
training epochs timed right after it in each repeat, and the median of the
paired ratios reported), and one training
step on long sequences (T=1000) with and without ``bptt_truncate=50``, with its
peak memory.

Each side runs in its own worker process (torch's OpenMP pool and OpenBLAS's
pool starve each other on a small machine when they share a process), started
with ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` set to
the thread count.  Requests alternate between the two workers case by case, and
the repeats reverse the order, so slow drifts of the machine hit both sides;
tables show medians.

"NumPy min" is a lower bound on any NumPy engine's time for the row: the
recurrent GEMMs, the input projection and weight-gradient GEMMs and one
transcendental pass over the activated values, each timed alone
(``numpy_minimum`` in ``_worker_numpy.py``).  Where "min/torch" exceeds a
row's target, no NumPy engine can meet that target on the machine.

"per-call ms" is our engine on the same number of batches and steps at
B = D = H = 1: the same NumPy calls (and the Python around them) with next to
no arithmetic in them.  "rest/torch" is what is left of our time without it,
(ours - per-call) / torch: where it exceeds a row's target, taking out every
call's fixed cost would not meet the target, only fewer or faster passes over
the data would; where it is below, the per-call cost is what stands between the
engine and the target.  The "Targets" section at the end counts, for each
target, the rows that meet it and sorts the missed rows by those two tests.

"lean ms" (inference only) is the same prediction pass run as the engine's
NumPy calls alone: the same calls on the same arrays, in the same order, with
none of the time loop's Python bookkeeping (``_lean.py``; checked to give the
engine's output bit for bit).  Where "lean/torch" still exceeds the target, no
rewrite of the engine's Python meets it without changing the NumPy calls
themselves; the Targets section lists the missed rows that the lean loop
meets.

Usage::

    python benchmarks/bench_training.py --repeats 5  # the README's table, 14 to 18 min
    python benchmarks/bench_training.py --quick      # smoke run, under a minute
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import CELLS, DTYPES, QUICK_SIZES, SIZES, Case, matmul_flops  # noqa: E402

# Batches per epoch, fewer at the larger sizes to keep the full run short.
BATCHES_PER_EPOCH = dict(zip(SIZES, (4, 2, 1), strict=True))
GEMM_N = 1024  # square GEMM that measures the BLAS rate
PAUSE = 0.05  # seconds between requests, so the idle pool's threads go to sleep
FIT_LIMIT = 1.15  # end-to-end fit per epoch within 15% of the engine's
LONG_T, LONG_TRUNCATE = 1000, 50


def training_target(case):
    """Target of ours / torch for one training epoch at 2 threads."""
    if case.cell == "lstm" and case.dtype == "float32":
        return 1.0  # torch runs oneDNN's fused LSTM there
    return 0.8


INFERENCE_TARGET = 1.0
FLOOR_TARGET = 0.6  # fraction of the GEMM floor, at the two larger sizes


def per_call_twin(case):
    """``case`` at B = D = H = 1: same cell, dtype, steps and batches, so the
    engine makes the same NumPy calls with next to no arithmetic in them."""
    return case._replace(size=case.size._replace(B=1, D=1, H=1))


def thread_env(threads):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


class WorkerProcess:
    """One benchmark side in its own process, spoken to in JSON lines."""

    def __init__(self, script, threads):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=thread_env(threads),
            text=True,
        )

    def request(self, **request):
        time.sleep(PAUSE)
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker died on {request}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run_side_by_side(cases, threads, args, times, rates):
    """Fill ``times[(side, op, case, threads)]`` with one entry per repeat."""
    ours = WorkerProcess("_worker_numpy.py", threads)
    theirs = WorkerProcess("_worker_torch.py", threads)
    try:
        sides = [("ours", ours), ("torch", theirs)]
        for repeat in range(args.repeats):
            progress(f"  {threads} thread(s), repeat {repeat + 1}/{args.repeats}")
            for dtype in args.dtypes:
                reply = ours.request(op="gemm", shape=[GEMM_N] * 3, dtype=dtype)
                rates[threads, dtype].append(reply["gflops"])
            for case in cases:
                for op in ("train", "infer"):
                    for side, worker in sides:
                        reply = worker.request(
                            op=op, case=case.to_dict(), min_seconds=args.min_seconds
                        )
                        times[side, op, case, threads].append(reply["seconds"])
                        if side == "ours" and op == "infer":
                            # The engine's NumPy calls alone, right after the
                            # engine: the two see the machine in the same state.
                            reply = ours.request(op="lean", case=case.to_dict(),
                                                 min_seconds=args.min_seconds)
                            times["lean", op, case, threads].append(reply["seconds"])
                    # The same engine on the same number of steps and batches
                    # at B = D = H = 1: what the calls cost with no arithmetic.
                    reply = ours.request(
                        op=op, case=per_call_twin(case).to_dict(),
                        min_seconds=args.min_seconds,
                    )
                    times["per-call", op, case, threads].append(reply["seconds"])
                if threads in args.fit_threads:
                    reply = ours.request(
                        op="fit", case=case.to_dict(), min_seconds=args.min_seconds
                    )
                    times["ours", "fit", case, threads].append(reply["seconds"])
                    times["ours", "fit's engine", case, threads].append(
                        reply["engine_seconds"])
            for case in cases:  # a lower bound: the best over all repeats counts
                reply = ours.request(op="minimum", case=case.to_dict(),
                                     threads=threads)
                for op in ("train", "infer"):
                    times["minimum", op, case, threads].append(reply[op])
            sides.reverse()
    finally:
        ours.close()
        theirs.close()


def run_long_sequences(cells, lengths, threads):
    """One fresh process per case, so each peak-memory figure stands alone."""
    rows = []
    for cell in cells:
        for T in lengths:
            for truncate in (0, LONG_TRUNCATE):
                out = subprocess.run(
                    [sys.executable, str(HERE / "_long_sequence.py"), cell, str(T),
                     str(truncate)],
                    env=thread_env(threads),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append((cell, T, truncate, json.loads(out.stdout)))
    return rows


def verdict(value, limit, higher_is_better=False):
    ok = value >= limit if higher_is_better else value <= limit
    return "ok" if ok else "MISS"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Figures(NamedTuple):
    """One row's medians (seconds), lower bound and GEMM-floor fractions."""

    ours: float
    theirs: float
    least: float  # NumPy's minimum, the least over the repeats
    per_call: float  # our engine at B = D = H = 1
    lean: float  # our engine's NumPy calls alone (inference; NaN for training)
    floor: float  # fraction of the GEMM floor reached by ours
    torch_floor: float  # the same for torch

    @property
    def ratio(self):
        return self.ours / self.theirs

    @property
    def rest_ratio(self):
        return (self.ours - self.per_call) / self.theirs

    @property
    def lean_ratio(self):
        return self.lean / self.theirs


def figures(op, case, threads, times, rates):
    ours = statistics.median(times["ours", op, case, threads])
    theirs = statistics.median(times["torch", op, case, threads])
    floor_seconds = (matmul_flops(case, training=op == "train")
                     / (statistics.median(rates[threads, case.dtype]) * 1e9))
    lean = times["lean", op, case, threads]
    return Figures(ours, theirs, min(times["minimum", op, case, threads]),
                   statistics.median(times["per-call", op, case, threads]),
                   statistics.median(lean) if lean else math.nan,
                   floor_seconds / ours, floor_seconds / theirs)


def fit_ratio(case, threads, times):
    """Each repeat times the engine right after the fit (same request): the
    ratio is the median of those paired ratios."""
    fits = times["ours", "fit", case, threads]
    engines = times["ours", "fit's engine", case, threads]
    return statistics.median(f / e for f, e in zip(fits, engines, strict=True))


def common_cells(f):
    """The columns that the training and inference tables share, after "target"."""
    return [f"{f.least * 1e3:.1f}", f"{f.least / f.theirs:.2f}",
            f"{f.per_call * 1e3:.1f}", f"{f.rest_ratio:.2f}"]


def training_table(cases, thread_counts, times, rates):
    header = ["cell", "dtype", "size", "thr", "ours ms", "torch ms", "ours/torch",
              "target", "GEMM floor", "floor target", "torch's floor",
              "NumPy min ms", "min/torch", "per-call ms", "rest/torch"]
    rows = []
    for case in cases:
        for threads in thread_counts:
            f = figures("train", case, threads, times, rates)
            target = floor_target = ""
            if threads == 2:
                limit = training_target(case)
                target = f"<= {limit} {verdict(f.ratio, limit)}"
                if case.size != SIZES[0]:
                    floor_target = f">= 60% {verdict(f.floor, FLOOR_TARGET, True)}"
            rows.append([case.cell, case.dtype, case.size, threads,
                         f"{f.ours * 1e3:.1f}", f"{f.theirs * 1e3:.1f}",
                         f"{f.ratio:.2f}", target, f"{f.floor:.0%}", floor_target,
                         f"{f.torch_floor:.0%}", *common_cells(f)])
    return table(header, rows)


def inference_table(cases, thread_counts, times, rates):
    header = ["cell", "dtype", "size", "thr", "ours ms", "torch ms", "ours/torch",
              "target", "GEMM floor", "torch's floor", "NumPy min ms", "min/torch",
              "per-call ms", "rest/torch", "lean ms", "lean/torch"]
    rows = []
    for case in cases:
        for threads in thread_counts:
            f = figures("infer", case, threads, times, rates)
            rows.append([case.cell, case.dtype, case.size, threads,
                         f"{f.ours * 1e3:.1f}", f"{f.theirs * 1e3:.1f}",
                         f"{f.ratio:.2f}",
                         f"<= 1.0 {verdict(f.ratio, INFERENCE_TARGET)}",
                         f"{f.floor:.0%}", f"{f.torch_floor:.0%}", *common_cells(f),
                         f"{f.lean * 1e3:.1f}", f"{f.lean_ratio:.2f}"])
    return table(header, rows)


def fit_table(cases, thread_counts, times):
    header = ["cell", "dtype", "size", "thr", "engine ms/epoch", "fit ms/epoch",
              "fit/engine", "target"]
    rows = []
    for case in cases:
        for threads in thread_counts:
            ratio = fit_ratio(case, threads, times)
            engine = statistics.median(times["ours", "fit's engine", case, threads])
            fit = statistics.median(times["ours", "fit", case, threads])
            rows.append([case.cell, case.dtype, case.size, threads,
                         f"{engine * 1e3:.1f}", f"{fit * 1e3:.1f}",
                         f"{ratio:.2f}", f"<= {FIT_LIMIT} {verdict(ratio, FIT_LIMIT)}"])
    return table(header, rows)


WHY = ("beyond NumPy's minimum", "arithmetic alone misses", "per-call cost is the gap")


def why_missed(f, limit):
    """Where a missed ratio target stands: beyond any NumPy engine (the lower
    bound alone misses), missed by the arithmetic of our passes (what is left
    without the per-call cost still misses), or by the per-call cost."""
    if f.least / f.theirs > limit:
        return WHY[0]
    if f.rest_ratio > limit:
        return WHY[1]
    return WHY[2]


def targets_summary(cases, thread_counts, times, rates, long_rows):
    """Each target of issue 5: rows, rows met, and for the ratio targets the
    missed rows sorted by :func:`why_missed`."""
    header = ["target", "rows", "met", *(f"missed: {why}" for why in WHY),
              "missed, but the lean loop meets it"]
    ratio_targets = [
        ("training ours/torch, 2 threads", "train",
         [(c, 2, training_target(c)) for c in cases if 2 in thread_counts]),
        ("inference ours/torch, every row", "infer",
         [(c, t, INFERENCE_TARGET) for c in cases for t in thread_counts]),
    ]
    lines = []
    for name, op, rows in ratio_targets:
        met, missed, lean_meets = 0, {why: [] for why in WHY}, []
        for case, threads, limit in rows:
            f = figures(op, case, threads, times, rates)
            if f.ratio <= limit:
                met += 1
                continue
            row = f"{case.cell} {case.dtype} B={case.size.B} {threads} thr"
            missed[why_missed(f, limit)].append(f"{row} ({f.ratio:.2f})")
            if f.lean_ratio <= limit:
                lean_meets.append(f"{row} ({f.ratio:.2f}, lean {f.lean_ratio:.2f})")
        measured = op == "infer"  # the lean loop predicts only
        lines.append([name, len(rows), met,
                      *("; ".join(missed[why]) or "-" for why in WHY),
                      ("; ".join(lean_meets) or "-") if measured else "not measured"])
    if 2 in thread_counts:
        floors = [c for c in cases if c.size != SIZES[0]]
        met = sum(figures("train", c, 2, times, rates).floor >= FLOOR_TARGET
                  for c in floors)
        lines.append(["GEMM floor >= 60%, 2 threads, two larger sizes", len(floors),
                      met, "", "", "", ""])
    fits = [(c, t) for c in cases for t in thread_counts
            if times["ours", "fit", c, t]]
    met = sum(fit_ratio(c, t, times) <= FIT_LIMIT for c, t in fits)
    lines.append(["end-to-end fit within 15% of the engine", len(fits), met,
                  "", "", "", ""])
    lengths = [T for _, T, _, _ in long_rows]
    if len(set(lengths)) > 1:  # --quick runs one length: nothing to compare
        peak = {(cell, T, cut): r["peak_mb"] for cell, T, cut, r in long_rows}
        cells = sorted({cell for cell, _, _, _ in long_rows})
        short, long = min(lengths), max(lengths)
        # Truncated BPTT's peak at the longest T: within 10% of its peak at the
        # shortest T, where full BPTT's grows with T.
        met = sum(peak[cell, long, LONG_TRUNCATE]
                  <= 1.1 * peak[cell, short, LONG_TRUNCATE] for cell in cells)
        lines.append([f"bptt_truncate={LONG_TRUNCATE}: peak memory at T={long} "
                      f"within 10% of T={short}", len(cells), met, "", "", "", ""])
    return table(header, lines)


def long_table(rows):
    header = ["cell", "T", "bptt_truncate", "s/step", "peak MB (tracemalloc)",
              "max RSS MB"]
    return table(header, [
        [cell, T, truncate or "None", f"{r['seconds']:.2f}", f"{r['peak_mb']:.1f}",
         f"{r['maxrss_mb']:.0f}"]
        for cell, T, truncate, r in rows
    ])


def machine_facts(rates, start_load):
    import numpy as np

    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    cpu = next(
        (line.split(":", 1)[1].strip()
         for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as simd
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as simd
    vector = next((v for k, v in (("AVX512_SKX", "AVX-512"), ("AVX2", "AVX2"))
                   if simd.get(k)), "older than AVX2")
    gemm = ", ".join(
        f"{dtype} {threads} thr {statistics.median(r):.0f}"
        for (threads, dtype), r in sorted(rates.items())
    )
    return "\n".join([
        f"- date: {date.today().isoformat()}",
        f"- CPU: {cpu}, {os.cpu_count()} cores, widest SIMD NumPy uses: {vector}",
        f"- BLAS: {blas['name']} {blas['version']} "
        f"({blas.get('openblas configuration', '').split()[0:5]})",
        f"- numpy {np.__version__}, torch {version('torch')}, "
        f"Python {platform.python_version()}",
        f"- measured GEMM rate ({GEMM_N}^3, GFLOP/s, median over repeats): {gemm}",
        f"- 1-minute load average at start / end: {start_load:.1f} / "
        f"{os.getloadavg()[0]:.1f} (the benchmark's own workers count)",
    ])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: two small sizes, one repeat, short timings")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--skip-long", action="store_true",
                        help="skip the long-sequence case")
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    args.min_seconds = 0.05 if args.quick else 0.3
    args.sizes = QUICK_SIZES if args.quick else SIZES
    args.fit_threads = [min(args.threads)]  # steadiest on a shared machine
    args.long_lengths = [200] if args.quick else [LONG_T // 2, LONG_T]
    args.long_cells = ["lstm"] if args.quick else list(CELLS)
    return args


def main():
    args = parse_args()
    cases = [Case(cell, dtype, size, BATCHES_PER_EPOCH[size]) for cell in args.cells
             for dtype in args.dtypes for size in args.sizes]
    times, rates = defaultdict(list), defaultdict(list)
    start, start_load = time.perf_counter(), os.getloadavg()[0]
    for threads in args.threads:
        progress(f"side by side with {threads} thread(s)")
        run_side_by_side(cases, threads, args, times, rates)
    long_rows = []
    if not args.skip_long:
        progress("long sequences")
        long_rows = run_long_sequences(args.long_cells, args.long_lengths,
                                       max(args.threads))
    print(machine_facts(rates, start_load))
    print(f"- command: python benchmarks/bench_training.py {' '.join(sys.argv[1:])}")
    per_epoch = ", ".join(f"{n} at {size}" for size, n in BATCHES_PER_EPOCH.items())
    print(f"- run time: {time.perf_counter() - start:.0f} s; batches per epoch: "
          f"{per_epoch}; median of {args.repeats} interleaved repeats")
    print("\n### Training: one epoch (forward + backward + Adam)\n")
    print(training_table(cases, args.threads, times, rates))
    print("\n### Inference: one pass over the same batches\n")
    print(inference_table(cases, args.threads, times, rates))
    print("\n### End-to-end `RNNClassifier.fit` against the engine alone\n")
    print(fit_table(cases, args.fit_threads, times))
    print("\n### Targets\n")
    print(targets_summary(cases, args.threads, times, rates, long_rows))
    if long_rows:
        print(f"\n### Long sequences: one training step, sequence-to-one, B=32, D=32, "
              f"H=128, float64, {max(args.threads)} threads\n")
        print(long_table(long_rows))


if __name__ == "__main__":
    main()
