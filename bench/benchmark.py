"""Benchmark the lessons with speed targets at their defaults: time to target, accuracy, peak memory.

    python bench/benchmark.py                      # 06, 07 and 08, seeds 0, 1, 2
    python bench/benchmark.py --lessons 07 --seeds 1
    python bench/benchmark.py --markdown bench.md  # also write the table as Markdown (- for the screen)
    python bench/benchmark.py --readme             # put the table into README.md
    python bench/benchmark.py --ddp --readme       # lesson 09 on 1 and on 2 processes, into README.md
    python bench/benchmark.py --cells --readme     # lesson 08 with each recurrent cell, into README.md

Each run is a fresh Python process started exactly as a learner would start it (`python 06_softmax_mnist.py
--no-figures --seed S`), so its wall time includes Python's start-up, `import torch` and data loading. Its
peak memory is the child's own maximum resident set size, read with os.wait4 for that child alone. The
lesson writes its results (accuracy, and when it first reached the target) as JSON to the file named by
COURSE_RESULT_JSON. The targets below are checked here, never by the tests: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from run_course import cpu_model, replace_readme_section  # noqa: E402  (shared with the course runner)

MEMORY_LIMIT_MB = 1500.0  # 1.5 GB, counted in decimal megabytes (the stricter reading)
COLUMNS_EXPLAINED = (
    "to target: wall seconds from launch until the test accuracy first reached the target; wall: the whole "
    "run, Python start-up and data loading included; CPU: user + system seconds of all its threads; "
    "peak memory: the process's maximum resident set size"
)


@dataclass(frozen=True)
class Target:
    script: str
    accuracy: float  # percent test accuracy the defaults must reach
    seconds: float  # wall seconds, start-up and data loading included
    percent_per_unit: float = 1.0  # 100 where the lesson reports accuracy as a fraction


TARGETS = {
    "06": Target("06_softmax_mnist.py", 98.0, 15.0),
    "07": Target("07_cnn_mnist.py", 99.0, 30.0),
    "08": Target("08_rnn.py", 90.0, 30.0, percent_per_unit=100.0),
}


@dataclass
class Run:
    lesson: str
    seed: int
    wall: float
    peak_mb: float
    cpu: float  # user + system CPU seconds of all its threads: above wall time when several ran
    exit_code: int
    accuracy: float | None = None
    to_target: float | None = None  # wall seconds from launch until the test accuracy reached the target
    device: str = "?"
    log: str = ""

    def passed(self, target: Target) -> bool:
        return (
            self.exit_code == 0
            and self.accuracy is not None
            and self.accuracy >= target.accuracy
            and self.wall <= target.seconds
            and self.peak_mb <= MEMORY_LIMIT_MB
        )


def run_lesson(lesson: str, seed: int, extra: list[str], timeout: float) -> Run:
    """Start one lesson in a fresh process; measure its wall time and its own peak memory."""
    target = TARGETS[lesson]
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "result.json"
        log_path = Path(folder) / "output.txt"
        env = {**os.environ, "COURSE_RESULT_JSON": str(result_path), "MPLBACKEND": "Agg"}
        command = [sys.executable, str(REPO / target.script), "--no-figures", "--seed", str(seed), *extra]
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
        child.returncode = os.waitstatus_to_exitcode(status)
        peak_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # macOS: bytes
        cpu = usage.ru_utime + usage.ru_stime
        run = Run(lesson, seed, wall, peak_kib * 1024 / 1e6, cpu, child.returncode, log=log_path.read_text())
        if result_path.is_file():
            results = json.loads(result_path.read_text())
            if results.get("test_accuracy") is not None:
                run.accuracy = results["test_accuracy"] * target.percent_per_unit
            run.device = results.get("device", "?")
            # the lesson's own clock starts after start-up; what ran after the target was reached is
            # subtracted from the wall time to give the wall time to the target, start-up included
            if results.get("seconds_to_target") is not None:
                run.to_target = wall - (results["seconds"] - results["seconds_to_target"])
            elif run.accuracy is not None and run.accuracy >= target.accuracy:
                run.to_target = wall  # tested only at the end (08): the target was reached by then
    return run


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
            "accuracy (%)",
            "peak memory (MB)",
            "device",
            "result",
        ]
    ]
    for run in runs:
        target = TARGETS[run.lesson]
        verdict = (
            "pass" if run.passed(target) else ("FAILED" if run.exit_code == 0 else f"exit {run.exit_code}")
        )
        rows.append(
            [
                run.lesson,
                str(run.seed),
                fmt(run.to_target, ".1f", "not reached"),
                f"{run.wall:.1f}",
                f"{run.cpu:.1f}",
                fmt(run.accuracy, ".2f"),
                f"{run.peak_mb:.0f}",
                run.device,
                verdict,
            ]
        )
    return rows


def summary(runs: list[Run]) -> list[str]:
    lines = []
    for lesson in sorted({run.lesson for run in runs}):
        target = TARGETS[lesson]
        mine = [run for run in runs if run.lesson == lesson]
        accuracies = [run.accuracy for run in mine if run.accuracy is not None]
        verdict = "PASS" if all(run.passed(target) for run in mine) else "FAIL"
        lines.append(
            f"{lesson}: {verdict}  target >= {target.accuracy}% in <= {target.seconds:.0f} s and <= "
            f"{MEMORY_LIMIT_MB:.0f} MB; worst accuracy {fmt(min(accuracies, default=None), '.2f')}%, "
            f"median wall {statistics.median(run.wall for run in mine):.1f} s, "
            f"slowest {max(run.wall for run in mine):.1f} s, "
            f"peak memory {max(run.peak_mb for run in mine):.0f} MB"
        )
    return lines


def plain(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows)


def markdown(rows: list[list[str]], environment: list[str], verdicts: list[str]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---:" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines + [""] + [f"- {line}" for line in environment + verdicts]) + "\n"


def cell_comparison(seeds: int, timeout: float) -> str:
    """Lesson 08 at its defaults with each recurrent cell: a Markdown table."""
    rows = ["| cell | seed | test accuracy (%) | wall (s) | CPU (s) |", "|---|---:|---:|---:|---:|"]
    for cell in ("rnn", "gru", "lstm"):
        for seed in range(seeds):
            run = run_lesson("08", seed, ["--cell", cell], timeout)
            if run.exit_code != 0:
                sys.exit(f"08 --cell {cell} failed:\n{run.log}")
            rows.append(f"| {cell} | {seed} | {run.accuracy:.1f} | {run.wall:.1f} | {run.cpu:.1f} |")
            print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


def ddp_scaling(seeds: int, timeout: float) -> str:
    """Lesson 09 at its defaults on 1 process (plain python) and on 2 (torchrun): a Markdown table."""
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
            with tempfile.TemporaryDirectory() as folder:
                result_path = Path(folder) / "result.json"
                env = {**os.environ, "COURSE_RESULT_JSON": str(result_path)}
                command = [*launcher, str(REPO / "09_ddp_mnist.py"), "--no-figures", "--seed", str(seed)]
                started = time.perf_counter()
                done = subprocess.run(
                    command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
                )
                wall = time.perf_counter() - started
                if done.returncode != 0:
                    sys.exit(f"09 on {processes} process(es) failed:\n{done.stdout}{done.stderr}")
                result = json.loads(result_path.read_text())
            rows.append(
                f"| {processes} | {seed} | {result['seconds_per_epoch']:.1f} | {wall:.1f} | {result['test_accuracy']:.2f} |"
            )
            print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


def environment_lines() -> list[str]:
    """The machine, the versions and how busy the machine was: printed above every table."""
    cores = f"{os.cpu_count()} cores"
    if hasattr(os, "sched_getaffinity"):
        cores += f" ({len(os.sched_getaffinity(0))} usable)"
    return [
        f"CPU: {cpu_model()}, {cores}",
        f"torch {package_version('torch')}, torchvision {package_version('torchvision')}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"load average before: {load_average()}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lessons", default="06,07,08", help="comma-separated lesson numbers, from 06, 07, 08"
    )
    parser.add_argument("--seeds", type=int, default=3, help="runs per lesson, with seeds 0, 1, ...")
    parser.add_argument("--device", default="auto", help="passed on to each lesson's --device")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a run is killed")
    parser.add_argument(
        "--markdown", metavar="PATH", help="also write the table as Markdown to PATH (- for stdout)"
    )
    parser.add_argument("--readme", action="store_true", help="put the Markdown table into README.md")
    parser.add_argument("--ddp", action="store_true", help="instead: lesson 09 on 1 and on 2 processes")
    parser.add_argument("--cells", action="store_true", help="instead: lesson 08 with rnn, gru and lstm")
    parser.add_argument("--verbose", action="store_true", help="print each lesson's own output")
    args = parser.parse_args(argv)
    lessons = [name.strip() for name in args.lessons.split(",") if name.strip()]
    unknown = [name for name in lessons if name not in TARGETS]
    if unknown or args.seeds < 1:
        parser.error(f"--lessons takes {', '.join(TARGETS)}; --seeds at least 1")

    environment = environment_lines()
    print("\n".join(environment), flush=True)
    if args.ddp or args.cells:
        measured = (
            ddp_scaling(args.seeds, args.timeout) if args.ddp else cell_comparison(args.seeds, args.timeout)
        )
        text = measured + "\n" + "\n".join(f"- {line}" for line in environment) + "\n"
        if args.readme:
            replace_readme_section("ddp" if args.ddp else "cells", text)
        return 0
    runs = []
    for lesson in lessons:
        for seed in range(args.seeds):
            extra = [] if args.device == "auto" else ["--device", args.device]
            run = run_lesson(lesson, seed, extra, args.timeout)
            runs.append(run)
            print(
                f"{lesson} seed {seed}: {fmt(run.accuracy, '.2f')}% in {run.wall:.1f} s, "
                f"{run.peak_mb:.0f} MB, exit {run.exit_code}   (load {load_average()})",
                flush=True,
            )
            if args.verbose or run.exit_code != 0:
                print("   | " + run.log.rstrip().replace("\n", "\n   | "))
    environment.append(f"load average after: {load_average()}")
    rows = table(runs)
    verdicts = summary(runs)
    print("\n" + plain(rows) + "\n\n" + "\n".join(environment[-1:] + verdicts))
    text = markdown(rows, environment + [COLUMNS_EXPLAINED], verdicts)
    if args.readme:
        replace_readme_section("benchmark", text)
    if args.markdown:
        if args.markdown == "-":
            print("\n" + text)
        else:
            Path(args.markdown).write_text(text)
            print(f"markdown: {args.markdown}")
    return 0 if all(run.passed(TARGETS[run.lesson]) for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
