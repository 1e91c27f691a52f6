"""Time the exercise checker: `check.py --solutions` as a learner runs it, and each exercise's check.

    python bench/exercises.py             # medians of 3 runs, as a Markdown table on the screen
    python bench/exercises.py --runs 5    # medians of 5 runs
    python bench/exercises.py --readme    # also put the table into bench/README.md, between its
                                          # <!-- exercises-bench:start --> and <!-- exercises-bench:end -->
    python bench/exercises.py --sweep 20  # instead: every solution, CORRECT and WRONG answer on 20 seeds
    python bench/exercises.py --sweep 20 --only 05b,06c   # the sweep for some exercises only

The sweep is the maintainer's check that no correct answer is ever rejected and no wrong one accepted:
tests/test_exercises.py runs each answer on one seed, this runs it on many (a few minutes).

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
sys.path.insert(0, str(REPO / "tools"))
import torch  # noqa: E402
from generated import cpu_model, replace_section  # noqa: E402

CHECK = REPO / "exercises" / "check.py"
sys.path.insert(0, str(REPO / "exercises"))
from checks import common  # noqa: E402

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
    seconds = {exercise.name: [] for exercise in checker.catalogue()}
    for run in range(-1, runs):
        for exercise in checker.catalogue():
            started = time.perf_counter()
            result = common.run_check(exercise.name, checker.SOLUTIONS, seed=1000 + run)
            if result["status"] != "done":
                raise SystemExit(f"{exercise.name}: the solution did not pass: {result['message']}")
            if run >= 0:
                seconds[exercise.name].append(time.perf_counter() - started)
    return seconds


def sweep(seeds: int, only: list[str] | None = None) -> int:
    """Every exercise's solution and CORRECT answers must pass, and its WRONG answers fail with their
    message, on each of `seeds` seeds drawn afresh; prints every miss and a summary; returns 1 on a miss."""
    common.warm_up()
    rejected = accepted = misnamed = runs = 0
    for name in common.names():
        if only and not any(name.split("_")[0] == number for number in only):
            continue
        spec = common.load_check(name)
        source = (common.SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")
        answers = [("solution", source, None)]
        answers += [(style, common.apply(source, change), None) for style, change in spec.CORRECT.items()]
        answers += [(m, common.apply(source, change), says) for m, (change, says) in spec.WRONG.items()]
        started = time.perf_counter()
        for seed in (int.from_bytes(os.urandom(4), "little") % 10**9 for _ in range(seeds)):
            for label, text, says in answers:
                result = common.run_check(name, common.SOLUTIONS, seed, source=text)
                runs += 1
                if says is None and result["status"] != "done":
                    rejected += 1
                    print(f"REJECTED {name} [{label}] seed {seed}: {result['message']}\n", flush=True)
                elif says is not None and (result["status"] == "done" or says not in result["message"]):
                    accepted += result["status"] == "done"
                    misnamed += result["status"] != "done"
                    print(
                        f"MISSED {name} [{label}] seed {seed}: {result['status']}: {result['message']}\n",
                        flush=True,
                    )
        print(
            f"{name}: {len(answers)} answers x {seeds} seeds, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    print(
        f"\n{runs} checks: {rejected} correct answers rejected, {accepted} wrong answers accepted,"
        f" {misnamed} wrong answers failed with another message than their own."
    )
    return 1 if rejected or accepted or misnamed else 0


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
    for exercise in checker.catalogue():
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
        "--readme", action="store_true", help=f"also write the table into bench/README.md ({SECTION})"
    )
    parser.add_argument(
        "--sweep", type=int, metavar="SEEDS", help="instead: every answer of every check on SEEDS seeds"
    )
    parser.add_argument("--only", metavar="NN,NN", help="with --sweep: only these exercises, e.g. 05b,06c")
    args = parser.parse_args(argv)
    if args.sweep:
        return sweep(args.sweep, args.only.split(",") if args.only else None)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    readme = REPO / "bench" / "README.md"
    if args.readme and f"<!-- {SECTION}:start -->" not in readme.read_text(encoding="utf-8"):
        parser.error(
            f"bench/README.md has no <!-- {SECTION}:start --> ... <!-- {SECTION}:end --> section to fill"
        )

    checker = load_checker()
    whole = time_whole_run(args.runs)
    each = time_each_check(checker, args.runs)
    text = table(checker, each, whole, args.runs)
    print(text)
    if args.readme:
        replace_section(SECTION, text, readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
