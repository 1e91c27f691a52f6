"""Time the exercise checker: `check.py --solutions` as a learner runs it, and each exercise's check.

    python bench/exercises.py             # medians of 3 runs, as a Markdown table on the screen
    python bench/exercises.py --runs 5    # medians of 5 runs
    python bench/exercises.py --readme    # also put the table into README.md, between its
                                          # <!-- exercises-bench:start --> and <!-- exercises-bench:end -->

The whole run is a fresh process started as a learner starts it, so its time includes Python's start-up
and `import torch`. Each exercise's check is timed in this process, by calling check() on the solution
with a new seed each run, after one untimed round of every check: the first optimizer step of a process
imports torch._dynamo, a cost of the process and not of the exercise that happens to come first.
"""

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from run_course import cpu_model, replace_readme_section  # noqa: E402  (shared with the course runner)

import torch  # noqa: E402

CHECK = REPO / "exercises" / "check.py"
SECTION = "exercises-bench"


def load_checker():
    spec = importlib.util.spec_from_file_location("exercises_check", CHECK)
    checker = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = checker
    spec.loader.exec_module(checker)
    return checker


def time_whole_run(runs: int) -> list[float]:
    """Wall seconds of `python exercises/check.py --solutions`, each run a fresh process."""
    seconds = []
    for run in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(CHECK), "--solutions", "--seed", str(run)], capture_output=True, text=True
        )
        seconds.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(
                f"check.py --solutions failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            )
    return seconds


def time_each_check(checker, runs: int) -> dict[str, list[float]]:
    """Seconds of each exercise's check of its solution, in this process, after one untimed round."""
    seconds = {exercise.name: [] for exercise in checker.CATALOGUE}
    for run in range(-1, runs):
        for exercise in checker.CATALOGUE:
            started = time.perf_counter()
            result = checker.check(exercise.name, checker.SOLUTIONS, seed=1000 + run)
            if result.status != "done":
                raise SystemExit(f"{exercise.name}: the solution did not pass: {result.message}")
            if run >= 0:
                seconds[exercise.name].append(time.perf_counter() - started)
    return seconds


def table(checker, each: dict[str, list[float]], whole: list[float], runs: int) -> str:
    machine = (
        f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )
    lines = [
        f"Measured by `python bench/exercises.py` on {machine}; medians of {runs} runs, each with other random inputs.",
        "",
        "| exercise | follows | what the learner writes | its check (s) |",
        "|---|---|---|---|",
    ]
    for exercise in checker.CATALOGUE:
        seconds = statistics.median(each[exercise.name])
        lines.append(
            f"| `{exercise.name}.py` | {checker.follows(exercise)} | {exercise.idea} | {seconds:.2f} |"
        )
    lines.append(
        "| **`python exercises/check.py --solutions`** | all | the whole run: start-up and `import torch` included"
        f" | **{statistics.median(whole):.1f}** |"
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the table shows medians")
    parser.add_argument(
        "--readme", action="store_true", help=f"also write the table into README.md ({SECTION})"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    readme = REPO / "README.md"
    if args.readme and f"<!-- {SECTION}:start -->" not in readme.read_text(encoding="utf-8"):
        parser.error(f"README.md has no <!-- {SECTION}:start --> ... <!-- {SECTION}:end --> section to fill")

    checker = load_checker()
    whole = time_whole_run(args.runs)
    each = time_each_check(checker, args.runs)
    text = table(checker, each, whole, args.runs)
    print(text)
    if args.readme:
        replace_readme_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
