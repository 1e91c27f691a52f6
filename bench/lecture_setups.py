"""The lessons' settings against the lecture code's own: each lesson run both ways, as a learner runs it.

    python bench/lecture_setups.py                  # lessons 01-11, each at its defaults and with --lecture
    python bench/lecture_setups.py --only 04,05     # a subset
    python bench/lecture_setups.py --readme         # put the table into bench/README.md

Every row is one run of the lesson itself (`python NN_name.py --no-figures [--lecture]`, in its own
process, through the course runner): this script holds no model, data or training loop of its own, so a
change to a lesson's settings shows up here at the next run, and the rows without --lecture are the
lessons' Results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tools"))

import run_course  # noqa: E402

from benchmark import environment_lines  # noqa: E402
from generated import replace_section  # noqa: E402

# the lessons that have a lecture to compare with (12 is a bonus), and their extra runs (11's attention)
LESSONS = [lesson for lesson in run_course.LESSONS if lesson[:2] <= "11"]
# The lectures' recurrent networks train for 100 epochs, 10's and 11's one sample at a time: hours on a
# CPU. Their --lecture rows are cut short, and the table says how.
SHORTENED = {
    "09_rnn_classification": (["--epochs", "1"], "1 of the lecture's 100 epochs"),
    "10_char_rnn": (["--quick"], "--quick: a few hundred words of the lecture's 100 epochs"),
    "11_seq2seq": (["--quick"], "--quick: a few hundred dates of the lecture's 100 epochs"),
}


def runs(lesson: str) -> list[list[str]]:
    """The lesson's own flags for each row: at its defaults and with --lecture, and so for each extra
    run the course runner makes of it."""
    return [
        [*own, *lecture]
        for own in [[], *run_course.EXTRA_RUNS.get(lesson, [])]
        for lecture in ([], ["--lecture"])
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NN,NN", help="only these lessons, e.g. 04,05")
    parser.add_argument("--readme", action="store_true", help="put the table into bench/README.md")
    args = parser.parse_args(argv)
    wanted = {part.strip().zfill(2) for part in args.only.split(",")} if args.only else None
    lessons = [lesson for lesson in LESSONS if wanted is None or lesson[:2] in wanted]
    environment = environment_lines(argv, "lecture_setups.py")
    rows = ["| lesson | settings | key result | seconds |", "|---|---|---|---:|"]
    failed = []
    for lesson in lessons:
        for own in runs(lesson):
            short, why = SHORTENED.get(lesson, ([], "")) if "--lecture" in own else ([], "")
            row = run_course.run_lesson(lesson, ["--no-figures", *short], own)
            failed += [] if row["ok"] else [row["lesson"]]
            settings = "the lecture's (`--lecture`)" if "--lecture" in own else "the lesson's"
            settings += f", {why}" if why else ""
            flags = " ".join(flag for flag in own if flag != "--lecture")
            rows.append(
                f"| `{lesson}.py{' ' + flags if flags else ''}` | {settings} | {row['summary']} | {row['seconds']:.1f} |"
            )
    environment.append("seconds: the whole run from launch to exit, start-up and data loading included")
    text = "\n".join(rows) + "\n\n" + "\n".join(f"- {line}" for line in environment) + "\n"
    print("\n" + text)
    if args.readme:
        replace_section("lecture-setups", text, REPO / "bench" / "README.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
