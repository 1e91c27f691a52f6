"""Benchmark the lessons that have targets, at their defaults: time to target, result, peak memory.

    python bench/benchmark.py                      # 06, 07, 09, 10, 11 (--attention), seeds 0, 1, 2
    python bench/benchmark.py --lessons 07 --seeds 1
    python bench/benchmark.py --markdown bench.md  # also write the table as Markdown (- for the screen)
    python bench/benchmark.py --readme             # put the table into bench/README.md
    python bench/benchmark.py --cells --readme     # lesson 09 with each recurrent cell, into bench/README.md
    python bench/benchmark.py --attention --readme # lesson 11 without and with attention, into bench/README.md
    python bench/benchmark.py --ddp --readme       # lesson 12 on 1 and on 2 processes, into bench/README.md

Each run is a fresh Python process started exactly as a learner would start it (`python 06_softmax_mnist.py
--no-figures --seed S`), so its wall time includes Python's start-up, `import torch` and data loading. Its
peak memory is the child's own maximum resident set size, read with os.wait4 for that child alone. The
lesson writes what its main() returns as JSON to the file named by COURSE_RESULT_JSON: its final result,
and per epoch its result and seconds, from which the time to target is worked out here. The targets
live here, never in the lessons or the tests: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
from generated import cpu_model, replace_section  # noqa: E402

BENCH_README = REPO / "bench" / "README.md"  # the builders' README: the learners' is REPO/README.md
MEMORY_LIMIT_MB = 1500.0  # 1.5 GB, counted in decimal megabytes (the stricter reading)
COLUMNS_EXPLAINED = (
    "to target: wall seconds from launch to the end of the first epoch whose result met the target (the "
    "epochs after it subtracted from the wall time); wall: the whole run, Python start-up and data loading "
    "included; CPU: user + system seconds of all its threads; peak memory: the process's maximum resident "
    "set size"
)


@dataclass(frozen=True)
class Target:
    script: str
    flags: tuple[str, ...]
    seconds: float  # wall seconds, start-up and data loading included
    goal: str  # what the result must be, in words
    result: Callable[[dict], float]  # the final result, from what main() returned
    met: Callable[[float, dict], bool]  # whether a result meets the goal (given all the results)
    per_epoch: Callable[[dict], float | None] = lambda row: None  # an epoch's result, if it has one


TARGETS = {
    "06": Target(
        "06_softmax_mnist.py",
        (),
        15.0,
        "test accuracy >= 98.0%",
        lambda r: r["test_accuracy"],
        lambda v, r: v >= 98.0,
        lambda row: row["test_accuracy"],
    ),
    "07": Target(
        "07_cnn_mnist.py",
        (),
        30.0,
        "test accuracy >= 99.0%",
        lambda r: r["test_accuracy"],
        lambda v, r: v >= 99.0,
        lambda row: row["test_accuracy"],
    ),
    "09": Target(
        "09_rnn_classification.py",
        (),
        30.0,
        "test accuracy >= 90%",
        lambda r: r["test_accuracy"],
        lambda v, r: v >= 90.0,
    ),
    "10": Target(
        "10_char_rnn.py",
        (),
        30.0,
        "held-out nats per character below the bigram baseline's",
        lambda r: r["test_loss_per_char"],
        lambda v, r: v < r["bigram_loss_per_char"],
    ),
    "11": Target(
        "11_seq2seq.py",
        ("--attention",),
        60.0,
        "held-out exact match >= 95%",
        lambda r: r["test_exact_match"],
        lambda v, r: v >= 95.0,
        lambda row: row["test_exact_match"],
    ),
}


@dataclass
class Run:
    lesson: str
    seed: int
    wall: float
    peak_mb: float
    cpu: float  # user + system CPU seconds of all its threads: above wall time when several ran
    exit_code: int
    results: dict
    log: str = ""

    @property
    def target(self) -> Target:
        return TARGETS[self.lesson]

    @property
    def result(self) -> float | None:
        return self.target.result(self.results) if self.results else None

    @property
    def to_target(self) -> float | None:
        """Wall seconds until the target was first met: the epochs after that one are taken off."""
        if self.result is None:
            return None
        history = self.results.get("history", [])
        for i, row in enumerate(history):
            value = self.target.per_epoch(row)
            if value is not None and self.target.met(value, self.results):
                return self.wall - sum(later["seconds"] for later in history[i + 1 :])
        return self.wall if self.target.met(self.result, self.results) else None  # checked only at the end

    def verdict(self) -> str:
        """pass; or which part of the target was missed: the result, the time or the memory."""
        if self.exit_code != 0:
            return f"exit {self.exit_code}"
        if self.to_target is None or not self.target.met(self.result, self.results):
            return "result missed"
        misses = [
            part
            for part, over in (
                ("time", self.wall > self.target.seconds),
                ("memory", self.peak_mb > MEMORY_LIMIT_MB),
            )
            if over
        ]
        return f"result met, {' and '.join(misses)} over" if misses else "pass"

    def passed(self) -> bool:
        return (
            self.exit_code == 0
            and self.to_target is not None
            and self.target.met(self.result, self.results)
            and self.wall <= self.target.seconds
            and self.peak_mb <= MEMORY_LIMIT_MB
        )


def run_process(
    command: list[str], timeout: float, env: dict | None = None
) -> tuple[float, float, float, int, dict, str]:
    """Start one command in a fresh process; measure its wall time, its own peak memory and CPU time,
    and read the results it wrote. Returns (wall, peak MB, CPU s, exit code, results, output)."""
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "result.json"
        log_path = Path(folder) / "output.txt"
        env = {**os.environ, "COURSE_RESULT_JSON": str(result_path), "MPLBACKEND": "Agg", **(env or {})}
        with open(log_path, "wb") as log:  # a file, not a pipe: the child can never block on a full pipe
            started = time.perf_counter()
            child = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            timer = threading.Timer(timeout, child.send_signal, (signal.SIGKILL,))
            timer.start()
            try:
                # wait4 returns the resource usage of this child alone (ru_maxrss in KiB on Linux)
                _, status, usage = os.wait4(child.pid, 0)
            finally:
                timer.cancel()
            wall = time.perf_counter() - started
        peak_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # macOS: bytes
        results = json.loads(result_path.read_text()) if result_path.is_file() else {}
        return (
            wall,
            peak_kib * 1024 / 1e6,
            usage.ru_utime + usage.ru_stime,
            os.waitstatus_to_exitcode(status),
            results,
            log_path.read_text(),
        )


def run_lesson(lesson: str, seed: int, extra: list[str], timeout: float) -> Run:
    target = TARGETS[lesson]
    command = [
        sys.executable,
        str(REPO / target.script),
        *target.flags,
        "--no-figures",
        "--seed",
        str(seed),
        *extra,
    ]
    wall, peak_mb, cpu, exit_code, results, log = run_process(command, timeout)
    return Run(lesson, seed, wall, peak_mb, cpu, exit_code, results, log)


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def environment_lines(argv=None, script=None) -> list[str]:
    """The command, the day, the machine, the versions and how busy the machine was: printed under every
    table."""
    cores = f"{os.cpu_count()} cores"
    if hasattr(os, "sched_getaffinity"):
        cores += f" ({len(os.sched_getaffinity(0))} usable)"
    import torch

    script = script or Path(sys.argv[0]).name  # the bench/ script that was run, and its flags
    # quoted as a shell needs it, so that the line runs again as printed ("--cases 'two lessons'")
    command = " ".join([f"python bench/{script}", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    return [
        f"`{command}` on {datetime.date.today().isoformat()}",
        f"CPU: {cpu_model()} ({torch.backends.cpu.get_cpu_capability()} kernels), {cores}",
        f"torch {package_version('torch')}, torchvision {package_version('torchvision')}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')} (unset: the course's default, threads "
        f"that follow the machine's load) unless a table says otherwise; load average before: {load_average()}",
    ]


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def table(runs: list[Run]) -> list[list[str]]:
    rows = [
        [
            "lesson",
            "seed",
            "to target (s)",
            "wall (s)",
            "CPU (s)",
            "result",
            "peak memory (MB)",
            "device",
            "verdict",
        ]
    ]
    for run in runs:
        verdict = run.verdict()
        rows.append(
            [
                run.lesson,
                str(run.seed),
                fmt(run.to_target, ".1f", "not reached"),
                f"{run.wall:.1f}",
                f"{run.cpu:.1f}",
                fmt(run.result, ".3f" if run.lesson == "10" else ".2f"),
                f"{run.peak_mb:.0f}",
                run.results.get("device", "?"),
                verdict,
            ]
        )
    return rows


def summary(runs: list[Run]) -> list[str]:
    lines = []
    for lesson in sorted({run.lesson for run in runs}):
        target = TARGETS[lesson]
        mine = [run for run in runs if run.lesson == lesson]
        missed = sorted({run.verdict() for run in mine} - {"pass"})
        verdict = "target met on every seed" if not missed else f"target not met ({'; '.join(missed)})"
        lines.append(
            f"{lesson}: {verdict}; target: {target.goal} within {target.seconds:.0f} s and {MEMORY_LIMIT_MB:.0f} MB; "
            f"median wall {statistics.median(run.wall for run in mine):.1f} s, "
            f"slowest {max(run.wall for run in mine):.1f} s, peak memory {max(run.peak_mb for run in mine):.0f} MB"
        )
    return lines


def plain(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows)


def markdown(rows: list[list[str]], notes: list[str]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---:" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines + [""] + [f"- {line}" for line in notes]) + "\n"


def check(run: Run, what: str) -> None:
    if run.exit_code != 0:
        sys.exit(f"{what} failed:\n{run.log}")


def cell_comparison(seeds: int, timeout: float) -> list[str]:
    """Lesson 09 at its defaults with each recurrent cell, and with the lecture's 2-layer bidirectional GRU."""
    rows = ["| model | seed | test accuracy (%) | wall (s) | CPU (s) |", "|---|---:|---:|---:|---:|"]
    for flags in (
        ["--cell", "rnn"],
        ["--cell", "gru"],
        ["--cell", "lstm"],
        ["--layers", "2", "--bidirectional"],
    ):
        for seed in range(seeds):
            run = run_lesson("09", seed, flags, timeout)
            check(run, f"09 {' '.join(flags)}")
            rows.append(
                f"| `{' '.join(flags)}` | {seed} | {run.result:.1f} | {run.wall:.1f} | {run.cpu:.1f} |"
            )
            print(rows[-1], flush=True)
    return rows


def attention_comparison(seeds: int, timeout: float) -> list[str]:
    """Lesson 11 at its defaults without and with attention: exact match overall and by input length."""
    runs = {}
    for flags in ((), ("--attention",)):
        for seed in range(seeds):
            command = [
                sys.executable,
                str(REPO / "11_seq2seq.py"),
                *flags,
                "--no-figures",
                "--seed",
                str(seed),
            ]
            wall, _, _, exit_code, results, log = run_process(command, timeout)
            if exit_code != 0:
                sys.exit(f"11 {' '.join(flags)} failed:\n{log}")
            runs[flags, seed] = (wall, results)
            print(
                f"11 {' '.join(flags) or '(no attention)'} seed {seed}: {results['test_exact_match']:.1f}% in {wall:.1f} s",
                flush=True,
            )
    lengths = sorted(
        {length for _, results in runs.values() for length in results["accuracy_by_length"]},
        key=lambda k: int(k.split("-")[0]),
    )
    rows = [
        "| model | seed | wall (s) | exact match (%) | " + " | ".join(f"{k} chars" for k in lengths) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(lengths),
    ]
    for (flags, seed), (wall, results) in runs.items():
        by_length = " | ".join(
            fmt(results["accuracy_by_length"][k] if k in results["accuracy_by_length"] else None, ".1f")
            for k in lengths
        )
        name = "with attention (14_2)" if flags else "encoder-decoder (14_1)"
        rows.append(f"| {name} | {seed} | {wall:.1f} | {results['test_exact_match']:.1f} | {by_length} |")
    return rows


def ddp_scaling(seeds: int, timeout: float) -> list[str]:
    """Lesson 12 at its defaults on 1 process (plain python) and on 2 (torchrun)."""
    rows = [
        "| processes | seed | seconds per epoch | wall (s) | test accuracy (%) |",
        "|---:|---:|---:|---:|---:|",
    ]
    launchers = {
        1: [sys.executable],
        2: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
    }
    for processes, launcher in launchers.items():
        for seed in range(seeds):
            command = [*launcher, str(REPO / "12_ddp_mnist.py"), "--no-figures", "--seed", str(seed)]
            wall, _, _, exit_code, results, log = run_process(command, timeout)
            if exit_code != 0:
                sys.exit(f"12 on {processes} process(es) failed:\n{log}")
            rows.append(
                f"| {processes} | {seed} | {results['seconds_per_epoch']:.1f} | {wall:.1f} | {results['test_accuracy']:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lessons", default=",".join(TARGETS), help=f"comma-separated, from {', '.join(TARGETS)}"
    )
    parser.add_argument("--seeds", type=int, default=3, help="runs per lesson, with seeds 0, 1, ...")
    parser.add_argument("--device", default="auto", help="passed on to each lesson's --device")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a run is killed")
    parser.add_argument(
        "--markdown", metavar="PATH", help="also write the table as Markdown to PATH (- for stdout)"
    )
    parser.add_argument("--readme", action="store_true", help="put the Markdown table into bench/README.md")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cells", action="store_true", help="instead: lesson 09 with each recurrent cell")
    group.add_argument(
        "--attention", action="store_true", help="instead: lesson 11 without and with attention"
    )
    group.add_argument("--ddp", action="store_true", help="instead: lesson 12 on 1 and on 2 processes")
    parser.add_argument("--verbose", action="store_true", help="print each lesson's own output")
    args = parser.parse_args(argv)
    lessons = [name.strip() for name in args.lessons.split(",") if name.strip()]
    unknown = [name for name in lessons if name not in TARGETS]
    if unknown or args.seeds < 1:
        parser.error(f"--lessons takes {', '.join(TARGETS)}; --seeds at least 1")

    environment = environment_lines(argv, "benchmark.py")
    print("\n".join(environment), flush=True)
    comparisons = {"cells": cell_comparison, "attention": attention_comparison, "ddp": ddp_scaling}
    for name, compare in comparisons.items():
        if getattr(args, name):
            text = (
                "\n".join(compare(args.seeds, args.timeout))
                + "\n\n"
                + "\n".join(f"- {line}" for line in environment)
                + "\n"
            )
            print(text)
            if args.readme:
                replace_section(name, text, BENCH_README)
            return 0

    runs = []
    for lesson in lessons:
        for seed in range(args.seeds):
            extra = [] if args.device == "auto" else ["--device", args.device]
            run = run_lesson(lesson, seed, extra, args.timeout)
            runs.append(run)
            print(
                f"{lesson} seed {seed}: result {fmt(run.result, '.3f')} in {run.wall:.1f} s, "
                f"{run.peak_mb:.0f} MB, exit {run.exit_code}   (load {load_average()})",
                flush=True,
            )
            if args.verbose or run.exit_code != 0:
                print("   | " + run.log.rstrip().replace("\n", "\n   | "))
    environment.append(f"load average after: {load_average()}")
    rows = table(runs)
    verdicts = summary(runs)
    print("\n" + plain(rows) + "\n\n" + "\n".join(environment[-1:] + verdicts))
    text = markdown(rows, environment + [COLUMNS_EXPLAINED] + verdicts)
    if args.readme:
        replace_section("benchmark", text, BENCH_README)
    if args.markdown:
        if args.markdown == "-":
            print("\n" + text)
        else:
            Path(args.markdown).write_text(text)
            print(f"markdown: {args.markdown}")
    return 0 if all(run.passed() for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
