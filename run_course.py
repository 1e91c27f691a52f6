"""Run every lesson in order and end with a summary: lesson, key result, seconds, figures.

    python run_course.py                    # every lesson at its defaults
    python run_course.py --quick            # every lesson as a seconds-long smoke run
    python run_course.py --only 03,07       # a subset
    python run_course.py --markdown results.md    # also write the summary as a Markdown table
    python run_course.py --figures docs/figures --readme   # refresh README's figures and results table
    python run_course.py --links            # only refresh README's code links and its table of flags

A failing lesson does not stop the run: the others still run, and the exit status is 1 at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lesson_tools as kit

LESSONS = sorted(path.stem for path in kit.REPO.glob("[0-9][0-9]_*.py"))
# Besides each lesson at its defaults: lesson 11 again with attention, the other half of lecture 14.
EXTRA_RUNS = {"11_seq2seq": [["--attention"]]}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: str) -> str:
    import torch

    return (
        f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, "
        f"torch {torch.__version__}, device {device}, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )


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


def replace_readme_section(name: str, text: str, readme: Path = kit.REPO / "README.md") -> None:
    """Put text between README's <!-- name:start --> and <!-- name:end --> markers."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"README.md has no {start} ... {end} section to fill")
    before, rest = content.split(start, 1)
    after = rest.split(end, 1)[1]
    with kit.atomic_path(readme) as temporary:
        temporary.write_text(f"{before}{start}\n{text}{end}{after}")
    print(f"README.md: {name} section updated")


SHARED_FLAGS = [
    "--epochs",
    "--lr",
    "--batch-size",
    "--seed",
    "--device",
    "--quick",
    "--figures",
    "--no-figures",
    "--show",
]


def lesson_flags(lesson: str) -> list[str]:
    """The flags a lesson takes, read from its own parser's --help: the parser is the truth."""
    import contextlib
    import importlib.util
    import io

    spec = importlib.util.spec_from_file_location(f"_flags_{lesson}", kit.REPO / f"{lesson}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        module.main(["--help"])
    return [flag for flag in re.findall(r"^  (-{1,2}[a-z][\w-]*)", text.getvalue(), re.M) if flag != "-h"]


def flags_table() -> str:
    """Which lesson takes which flags, generated from the parsers (README's flags section)."""
    lines = [
        "| lesson | shared flags it takes | its own flags |",
        "|---|---|---|",
    ]
    for lesson in LESSONS:
        flags = lesson_flags(lesson)
        shared = [flag for flag in SHARED_FLAGS if flag in flags]
        shared_text = (
            "all"
            if shared == SHARED_FLAGS
            else "all but " + ", ".join(f"`{flag}`" for flag in SHARED_FLAGS if flag not in flags)
        )
        own = ", ".join(f"`{flag}`" for flag in flags if flag not in SHARED_FLAGS) or "-"
        lines.append(f"| `{lesson}.py` | {shared_text} | {own} |")
    return "\n".join(lines) + "\n"


LINK = re.compile(r"\[`([^`]+)`\]\(([\w./]+\.py)#L\d+\)")


def point_links(text: str) -> str:
    """Point every [`code`](file.py#Lnn) link at the first line of file.py that holds the code, as code
    rather than in a comment where there is such a line."""

    def relink(match):
        code, file = match.groups()
        lines = (kit.REPO / file).read_text().splitlines()
        in_code = (
            i for i, line in enumerate(lines, 1) if code in line.split("  #")[0].lstrip().removeprefix("#")
        )
        number = next((i for i in in_code if not lines[i - 1].lstrip().startswith("#")), None)
        number = number or next((i for i, line in enumerate(lines, 1) if code in line), None)
        if number is None:
            raise SystemExit(f"README.md links to `{code}` in {file}, which no longer holds it")
        return f"[`{code}`]({file}#L{number})"

    return LINK.sub(relink, text)


def refresh_links(readme: Path = kit.REPO / "README.md") -> None:
    text = readme.read_text()
    if point_links(text) != text:
        with kit.atomic_path(readme) as temporary:
            temporary.write_text(point_links(text))
        print("README.md: code links updated")


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
    parser.add_argument(
        "--readme", action="store_true", help="also put the summary into README.md's results section"
    )
    parser.add_argument(
        "--links", action="store_true", help="only refresh README's code links and flags table"
    )
    args = parser.parse_args(argv)
    if args.links:
        replace_readme_section("flags", flags_table())
        refresh_links()
        return 0

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
    if args.readme:
        replace_readme_section("results", markdown_table(rows, machine, command))
        replace_readme_section("flags", flags_table())
        refresh_links()
    failed = [row["lesson"] for row in rows if not row["ok"]]
    if failed:
        print(f"{len(failed)} lesson(s) failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
