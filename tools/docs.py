"""Write the generated parts of the documentation again, from the code that they describe.

    python tools/docs.py links     # seconds: README's flags and exercise tables, the code links of docs/
    python tools/docs.py results   # minutes: every lesson at its defaults; docs/figures and the Results
                                   # table of bench/README.md

`links` reads the lessons' own parsers and the exercises' own metadata, and points every
[`code`](NN_name.py#Lnn) link of docs/notes.md at the line that holds that code today. `results` runs
the course as `python run_course.py --figures docs/figures` does and writes what it measured, with the
machine and the day.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

import lesson_tools as kit  # noqa: E402
import run_course  # noqa: E402

from generated import machine_line, replace_section  # noqa: E402

README = REPO / "README.md"
NOTES = REPO / "docs" / "notes.md"
BENCH_README = REPO / "bench" / "README.md"
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
    spec = importlib.util.spec_from_file_location(f"_flags_{lesson}", REPO / f"{lesson}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        module.main(["--help"])
    return [flag for flag in re.findall(r"^  (-{1,2}[a-z][\w-]*)", text.getvalue(), re.M) if flag != "-h"]


def flags_table() -> str:
    """Which lesson takes which flags, generated from the parsers (README's flags section)."""
    lines = ["| lesson | shared flags it takes | its own flags |", "|---|---|---|"]
    for lesson in run_course.LESSONS:
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


def exercises_table() -> str:
    """README's exercise table, from the exercises' own metadata (exercises/check.py)."""
    spec = importlib.util.spec_from_file_location("exercises_check", REPO / "exercises" / "check.py")
    checker = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = checker
    spec.loader.exec_module(checker)
    return checker.markdown_table()


LINK = re.compile(r"\[`([^`]+)`\]\(((?:\.\./)?[\w./]+\.py)#L\d+\)")


def point_links(text: str, base: Path) -> str:
    """Point every [`code`](file.py#Lnn) link at the first line of file.py that holds the code, as code
    rather than in a comment where there is such a line."""

    def relink(match):
        code, file = match.groups()
        lines = (base / file).read_text().splitlines()
        in_code = (
            i for i, line in enumerate(lines, 1) if code in line.split("  #")[0].lstrip().removeprefix("#")
        )
        number = next((i for i in in_code if not lines[i - 1].lstrip().startswith("#")), None)
        number = number or next((i for i, line in enumerate(lines, 1) if code in line), None)
        if number is None:
            raise SystemExit(f"{kit.shown(base)} links to `{code}` in {file}, which no longer holds it")
        return f"[`{code}`]({file}#L{number})"

    return LINK.sub(relink, text)


def refresh_links(path: Path) -> None:
    text = path.read_text()
    if point_links(text, path.parent) != text:
        with kit.atomic_path(path) as temporary:
            temporary.write_text(point_links(text, path.parent))
        print(f"{kit.shown(path)}: code links updated")


def results() -> int:
    """Run every lesson at its defaults with --figures docs/figures; the Results table into bench/."""
    figures = REPO / "docs" / "figures"
    rows = [
        run_course.run_lesson(lesson, ["--figures", str(figures)], own)
        for lesson in run_course.LESSONS
        for own in [[], *run_course.EXTRA_RUNS.get(lesson, [])]
    ]
    command = "python tools/docs.py results"
    replace_section("results", run_course.markdown_table(rows, machine_line("cpu"), command), BENCH_README)
    return 0 if all(row["ok"] for row in rows) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["links", "results"], help="which parts to write again")
    args = parser.parse_args(argv)
    if args.what == "results":
        return results()
    replace_section("flags", flags_table(), README)
    replace_section("exercises", exercises_table(), README)
    refresh_links(NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
