"""How the lessons hold up when the CPU is shared: thread and wait settings, measured three ways.

    python bench/threads.py                       # 06, 07 and 09 --quick, every setting, every scene
    python bench/threads.py --lessons 07 --repeats 3
    python bench/threads.py --readme              # put the table into bench/README.md

Each lesson runs with `--quick --no-figures` in a fresh process, in three scenes:
  quiet    alone on the machine;
  busy     beside one busy process (a Python loop that keeps one core at 100%);
  two      beside a second course process: the same lesson started at the same moment.
and with each setting of the environment:
  the lessons' own   what a learner gets: 2 threads that sleep while they wait (see lesson_tools.py);
  others             OMP_WAIT_POLICY / OMP_NUM_THREADS set in the environment, overriding that.
The table gives the median wall seconds of --repeats runs (in "two", of both processes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from run_course import replace_readme_section  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from benchmark import environment_lines  # noqa: E402

SETTINGS = {
    "the lessons' own: 2 threads, PASSIVE": {},
    "libgomp's default wait (the course before)": {"OMP_WAIT_POLICY": ""},  # empty counts as unset
    "2 threads, OMP_WAIT_POLICY=ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}
SCENES = ("quiet", "busy", "two")
SCRIPTS = {
    "06": "06_softmax_mnist.py",
    "07": "07_cnn_mnist.py",
    "08": "08_rnn.py",
    "09": "09_rnn_classification.py",
}
BUSY_LOOP = "while True: pass"


def start(lesson: str, env: dict) -> subprocess.Popen:
    command = [sys.executable, str(REPO / SCRIPTS[lesson]), "--quick", "--no-figures"]
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    return subprocess.Popen(
        command, cwd=REPO, env={**environment, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen, started: float) -> float:
    _, error = process.communicate(timeout=900)
    if process.returncode != 0:
        sys.exit(f"a run failed:\n{error.decode()}")
    return time.perf_counter() - started


def measure(lesson: str, env: dict, scene: str) -> list[float]:
    """Wall seconds of the lesson's run(s) in one scene."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if scene == "busy" else None
    try:
        if busy:
            time.sleep(0.5)  # let the loop get going
        started = time.perf_counter()
        runs = [start(lesson, env) for _ in range(2 if scene == "two" else 1)]
        return [finish(run, started) for run in runs]
    finally:
        if busy:
            busy.kill()
            busy.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", default="06,07,09", help="comma-separated lesson numbers")
    parser.add_argument("--settings", default=";".join(SETTINGS), help="semicolon-separated setting names")
    parser.add_argument("--repeats", type=int, default=1, help="runs per lesson, setting and scene")
    parser.add_argument("--readme", action="store_true", help="put the Markdown table into bench/README.md")
    args = parser.parse_args(argv)
    lessons = [name.strip() for name in args.lessons.split(",")]
    settings = [name.strip() for name in args.settings.split(";")]
    environment = environment_lines()
    print("\n".join(environment), flush=True)
    rows = ["| lesson | setting | quiet (s) | beside a busy process (s) | beside a second lesson (s) |"]
    rows.append("|---|---|---:|---:|---:|")
    for lesson in lessons:
        for setting in settings:
            cells = []
            for scene in SCENES:
                seconds = [s for _ in range(args.repeats) for s in measure(lesson, SETTINGS[setting], scene)]
                cells.append(f"{statistics.median(seconds):.1f}")
            rows.append(f"| {lesson} --quick | {setting} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    environment.append(
        f"medians of {args.repeats} run(s) per cell, wall seconds from launch to exit, start-up included; in"
        " the last column, of both lessons' runs; each setting overrides the lessons' own in the child"
        " processes only"
    )
    text = "\n".join(rows) + "\n\n" + "\n".join(f"- {line}" for line in environment) + "\n"
    if args.readme:
        replace_readme_section("threads", text, readme=REPO / "bench" / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
