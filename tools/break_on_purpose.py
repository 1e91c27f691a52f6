"""Put realistic bugs into a copy of the course, one at a time, and run the tests that must catch each.

python tools/break_on_purpose.py              # every bug (several minutes)
python tools/break_on_purpose.py 05 leak      # only the bugs whose description contains "05" or "leak"
python tools/break_on_purpose.py --readme     # ... and write the results into tests/README.md

The course is copied once into a temporary folder (the files git tracks, and new files it does not
ignore); each bug is one edit of that copy, undone after its tests ran. The working tree is never
written, so a run that is killed half-way leaves your files as they were.

The bugs are data, in tools/bugs/ (one file per course file they edit; read_bugs says the format). A bug
whose text is no longer in its file is reported as not applied: after an edit of the lesson, write the
bug again. Add a bug there with every new test, and watch the test fail on it.
"""

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# ----------------------------------------------------------------------------- the bugs
BUGS_FOLDER = Path(__file__).resolve().parent / "bugs"  # one file per course file the bugs edit


def read_bugs(path: Path) -> list[tuple[str, str, str, str, str, str]]:
    """The bugs of one file of tools/bugs/, each (class, description, file, correct text, broken text,
    tests). The format, one block per bug, texts taken exactly as written (leading spaces kept):

        === description
        class: ...
        file: the course file to edit
        tests: what pytest runs, e.g. tests/test_07_cnn_mnist.py -k mistakes
        --- correct
        the text as it is in the file
        --- broken
        the text that replaces it
    """
    bugs = []
    for block in path.read_text(encoding="utf-8").split("\n=== ")[0:]:
        block = block.removeprefix("=== ").rstrip("\n")
        if not block.strip():
            continue
        head, _, rest = block.partition("\n--- correct\n")
        correct, _, broken = rest.partition("\n--- broken\n")
        description, *fields = head.splitlines()
        meta = dict(field.split(": ", 1) for field in fields)
        bugs.append((meta["class"], description, meta["file"], correct, broken, meta["tests"]))
    return bugs


def all_bugs() -> list[tuple[str, str, str, str, str, str]]:
    return [bug for path in sorted(BUGS_FOLDER.glob("*.txt")) for bug in read_bugs(path)]


def course_files() -> list[Path]:
    """What a fresh clone would hold, plus new files not yet committed (but nothing git ignores)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (REPO / name).is_file()]


def copy_course(into: Path) -> Path:
    for name in course_files():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, into / name)
    return into


def run_bug(copy: Path, bug) -> tuple[str, str]:
    kind, description, file, correct, broken, tests = bug
    path = copy / file
    original = path.read_text(encoding="utf-8")
    if original.count(correct) != 1:
        return "NOT APPLIED", f"the text occurs {original.count(correct)} times in {file}"
    path.write_text(original.replace(correct, broken), encoding="utf-8")
    try:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            *tests.split(),
        ]
        done = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=600)
    finally:
        path.write_text(original, encoding="utf-8")
    failed = [
        line.split(" - ")[0].removeprefix("FAILED ").removeprefix("ERROR ")
        for line in done.stdout.splitlines()
        if line.startswith(("FAILED", "ERROR"))
    ]
    if done.returncode == 0:
        return "SURVIVED", "no test failed"
    if not failed:
        return "BROKEN RUN", done.stdout[-500:] + done.stderr[-500:]
    return "caught", "; ".join(failed)


def markdown(rows) -> str:
    caught = sum(verdict == "caught" for *_, verdict, _ in rows)
    lines = [
        f"Run with `python tools/break_on_purpose.py --readme` on {datetime.date.today().isoformat()}: "
        f"{caught} of {len(rows)} bugs caught.",
        "",
        "| class | bug put into a copy of the course | result |",
        "|---|---|---|",
    ]
    for kind, description, verdict, detail in rows:
        where = (
            ", ".join(f"`{name.split('/')[-1]}`" for name in detail.split("; "))
            if verdict == "caught"
            else detail
        )
        lines.append(f"| {kind} | {description} | {verdict}: {where} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only", nargs="*", help="run only bugs whose class, description or file contains one of these"
    )
    parser.add_argument("--readme", action="store_true", help="write the results into tests/README.md")
    args = parser.parse_args(argv)
    bugs = [
        bug
        for bug in all_bugs()
        if not args.only or any(w in f"{bug[0]} {bug[1]} {bug[2]}" for w in args.only)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="break-on-purpose-") as folder:
        copy = copy_course(Path(folder))
        print(f"copied the course into {copy}", flush=True)
        for bug in bugs:
            verdict, detail = run_bug(copy, bug)
            rows.append((bug[0], bug[1], verdict, detail))
            print(f"{bug[1]}: {verdict}: {detail}", flush=True)
    missed = [row[1] for row in rows if row[2] != "caught"]
    print(
        f"\n{len(rows) - len(missed)} of {len(rows)} bugs caught"
        + (f"; not caught: {missed}" if missed else "")
    )
    if args.readme:
        from generated import replace_section  # tools/generated.py, beside this file

        replace_section("bugs", markdown(rows), REPO / "tests" / "README.md")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
