"""Run every lesson in order and end with a summary: lesson, key result, seconds, figures.

    python run_course.py                    # every lesson at its defaults
    python run_course.py --quick            # every lesson as a seconds-long smoke run
    python run_course.py --only 03,07       # a subset
    python run_course.py --markdown results.md    # also write the summary as a Markdown table

A failing lesson does not stop the run: the others still run, and the exit status is 1 at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lesson_tools as kit

sys.path.insert(0, str(kit.REPO / "tools"))
from generated import machine_line  # noqa: E402

LESSONS = sorted(path.stem for path in kit.REPO.glob("[0-9][0-9]_*.py"))
# Besides each lesson at its defaults: lesson 11 again with attention, the other half of lecture 14.
EXTRA_RUNS = {"11_seq2seq": [["--attention"]]}


def run_lesson(lesson: str, flags: list[str], own_flags: list[str] = ()) -> dict:
    """Run one lesson in its own process, echoing its output, and collect its results."""
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder) / "result.json"
        env = {**os.environ, kit.RESULT_ENV: str(result_file)}
        print(f"\n===== {lesson} {' '.join([*own_flags, *flags])}", flush=True)
        started = time.perf_counter()
        figures = []
        with subprocess.Popen(
            [sys.executable, str(kit.REPO / f"{lesson}.py"), *own_flags, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        ) as process:
            for line in process.stdout:
                print(line, end="", flush=True)
                if line.startswith("figure: "):
                    figures.append(line.removeprefix("figure: ").strip())
        seconds = time.perf_counter() - started
        results = json.loads(result_file.read_text()) if result_file.exists() else {}
    ok = process.returncode == 0
    summary = results.get("summary", "") if ok else f"FAILED (exit status {process.returncode})"
    name = " ".join([lesson, *own_flags])
    return {"lesson": name, "ok": ok, "summary": summary, "seconds": seconds, "figures": figures}


def markdown_table(rows: list[dict], machine: str, command: str) -> str:
    lines = [
        f"Measured with `{command}` on {machine}.",
        "",
        "| lesson | key result | seconds | figures |",
        "|---|---|---:|---|",
    ]
    for row in rows:
        figures = ", ".join(f"`{Path(f).name}`" for f in row["figures"]) or "-"
        lesson, *own_flags = row["lesson"].split(" ")
        name = " ".join([f"{lesson}.py", *own_flags])
        lines.append(f"| `{name}` | {row['summary']} | {row['seconds']:.1f} | {figures} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run every lesson in quick (smoke) mode")
    parser.add_argument("--only", metavar="NN,NN", help="run only these lessons, e.g. 03,07")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="passed to every lesson")
    parser.add_argument("--no-figures", action="store_true", help="passed to every lesson")
    parser.add_argument("--figures", type=Path, metavar="DIR", help="passed to every lesson: where PNGs go")
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the summary here as Markdown"
    )
    args = parser.parse_args(argv)

    lessons = LESSONS
    if args.only:
        wanted = {part.strip().zfill(2) for part in args.only.split(",") if part.strip()}
        lessons = [lesson for lesson in LESSONS if lesson[:2] in wanted]
        unknown = wanted - {lesson[:2] for lesson in LESSONS}
        if unknown:
            parser.error(
                f"--only: no lesson numbered {', '.join(sorted(unknown))} (have {', '.join(name[:2] for name in LESSONS)})"
            )
    flags = (["--quick"] if args.quick else []) + (["--no-figures"] if args.no_figures else [])
    flags += ["--device", args.device] if args.device else []
    flags += ["--figures", str(args.figures.resolve())] if args.figures else []

    rows = []
    for lesson in lessons:
        for own_flags in [[], *EXTRA_RUNS.get(lesson, [])]:
            rows.append(run_lesson(lesson, flags, own_flags))

    machine = machine_line(args.device or "auto")
    width = max(len(row["lesson"]) for row in rows)
    print(f"\n===== summary ({machine})")
    for row in rows:
        figures = f"   [{', '.join(row['figures'])}]" if row["figures"] else ""
        print(f"{row['lesson']:<{width}}  {row['seconds']:6.1f} s  {row['summary']}{figures}")
    command = ("python run_course.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    if args.markdown:
        path = args.markdown.expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        with kit.atomic_path(path) as temporary:
            temporary.write_text(markdown_table(rows, machine, command))
        print(f"markdown: {kit.shown(path)}")
    failed = [row["lesson"] for row in rows if not row["ok"]]
    if failed:
        print(f"{len(failed)} lesson(s) failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
