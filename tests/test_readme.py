"""The documentation stays true: README is short enough to read in ten minutes, every link of every page
works, the code links name code that is there, the generated tables are what the code says, every lesson
reads like its lecture, the test command is the one CI runs, and Troubleshooting shows the messages the
lessons print."""

import re
import shutil
import sys

import lesson_tools as kit

import pytest
import torch
from conftest import REPO, load_lesson

sys.path.insert(0, str(REPO / "tools"))
import docs  # noqa: E402  (tools/docs.py, which writes the generated sections)

README = (REPO / "README.md").read_text()
PAGES = [
    REPO / "README.md",
    REPO / "CONTRIBUTING.md",
    REPO / "bench" / "README.md",
    REPO / "tests" / "README.md",
]
PAGES += sorted((REPO / "docs").glob("*.md")) + [
    REPO / "exercises" / "README.md",
    REPO / "data" / "README.md",
]


def section(name, text=README):
    return text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]


def anchors(page):
    """The anchors GitHub makes of a Markdown page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_readme_is_read_in_ten_minutes():
    assert len(README.splitlines()) <= 200
    for heading in (
        "## Quick start",
        "## The lessons",
        "## Exercises",
        "## What you will see",
        "## Troubleshooting",
    ):
        assert heading in README
    assert README.count("<!-- exercises:start -->") == 1  # one exercise table


def test_images_exist_and_stay_small():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 12
    sizes = [(REPO / image).stat().st_size for image in images]  # a missing image fails here
    assert sum(sizes) < 1_500_000


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_link_of_every_page_works(page):
    """Every relative link opens a file that exists, and every #anchor names a heading there."""
    for target, anchor in re.findall(r"\]\((?!https?:)([\w./-]*)(?:#([\w-]+))?\)", page.read_text()):
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name} links to {target}, which is missing"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.name} links to {target}#{anchor}, no such heading"


def test_code_links_name_code_that_is_in_the_file():
    """The line numbers are written by `python tools/docs.py links`; the code each link names must exist."""
    notes = (REPO / "docs" / "notes.md").read_text()
    assert len(docs.LINK.findall(notes)) >= 15
    assert docs.point_links(notes, REPO / "docs")  # raises SystemExit naming a link whose code is gone


def test_every_lesson_is_in_the_table_with_its_original_scripts_and_its_changes():
    lessons = sorted(path.stem for path in REPO.glob("[0-9][0-9]_*.py"))
    assert len(lessons) == 12
    table = section("lessons")
    changes = anchors(REPO / "docs" / "changes.md")
    for lesson in lessons:
        assert f"[`{lesson}.py`]({lesson}.py) ([changes](docs/changes.md#{lesson}))" in table
        assert lesson in changes
    for script in ("12_1_rnn_basics.py", "13_3_char_rnn.py", "13_4_pack_pad.py", "14_2_seq2seq_att.py"):
        assert script in table


def test_the_flags_table_is_what_the_lessons_parsers_take():
    assert section("flags").strip() == docs.flags_table().strip()  # `python tools/docs.py links`


def test_the_exercise_table_is_what_the_exercises_say():
    assert section("exercises").strip() == docs.exercises_table().strip()  # `python tools/docs.py links`


def test_generated_sections_hold_a_table_and_the_machine_it_ran_on():
    bench = (REPO / "bench" / "README.md").read_text()
    for name in ("results", "lecture-setups", "threads"):
        text = section(name, bench)
        assert "| lesson |" in text and re.search(r"20\d\d-\d\d-\d\d", text), name
    assert "FAILED" not in README  # verdicts live in bench/README.md


LESSONS = sorted(REPO.glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_a_lesson_reads_like_the_lecture(path):
    """Step 1, 2 and 3 in order; no function longer than about 60 lines; no lesson changes args; no
    measured figure in prose; the docstring ends by pointing at the lesson's exercise, which exists."""
    import ast

    text = path.read_text()
    if path.stem != "01_autograd":  # lectures 2-4 have no model class
        steps = [text.index(f"# Step {n}") for n in (1, 2, 3)]
        assert steps == sorted(steps)
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            assert node.end_lineno - node.lineno < 66, (
                f"{node.name} is {node.end_lineno - node.lineno + 1} lines"
            )
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    assert not (
                        isinstance(part, ast.Attribute) and getattr(part.value, "id", "") == "args"
                    ), f"line {node.lineno} changes args"
    assert "measured" not in text.lower()
    last = ast.get_docstring(tree).splitlines()[-1]
    exercises = re.findall(r"exercises/([\w.]+\.py)", last)
    assert last.startswith("Your turn:") and exercises
    assert all((REPO / "exercises" / name).is_file() for name in exercises)


def test_ci_runs_the_readme_test_command():
    command = re.search(r"# 2\. set up and run the tests\n(.+)\n", README).group(1)
    assert command in (REPO / ".ci" / "run").read_text()


# ----------------------------------------------------------------------------- Troubleshooting

PATTERNS = [
    re.compile(".*".join(re.escape(part) for part in snippet.split("...")))
    for snippet in re.findall(r"`([^`]+)`", section("troubleshooting"))
]


def documented(message):
    return any(pattern.match(message) for pattern in PATTERNS)


def lesson_error(function, *args):
    with pytest.raises(kit.LessonError) as error:
        function(*args)
    return f"error: {error.value}"


def test_data_messages_are_documented(tmp_path, monkeypatch):
    """As a learner sees them from the course folder."""
    shutil.copytree(REPO / "data" / "diabetes", tmp_path / "data" / "diabetes")
    monkeypatch.setattr(kit, "REPO", tmp_path)
    monkeypatch.setattr(kit, "DATA", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    csv = "diabetes/pima-indians-diabetes.csv"
    (kit.DATA / csv).write_text("cut short")
    messages = [lesson_error(kit.data_file, csv)]
    (kit.DATA / csv).unlink()
    messages.append(lesson_error(kit.data_file, csv))
    (kit.DATA / csv).mkdir()
    messages.append(lesson_error(kit.data_file, csv))
    (kit.DATA / "diabetes" / "extra.csv").write_text("")
    messages.append(lesson_error(kit.data_file, "diabetes/extra.csv"))
    for message in messages:
        assert documented(message), message


@pytest.mark.parametrize(
    "flags",
    [["--epochs", "0"], ["--batch-size", "0"], ["--lr", "-0.1"], ["--lr", "abc"], ["--device", "tpu"]],
)
def test_flag_messages_are_documented(flags, capsys):
    with pytest.raises(SystemExit):
        kit.lesson_parser("a lesson", epochs=1, lr=0.1, batch_size=8).parse_args(flags)
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert documented(message.split(": ", 1)[1]), message  # argparse starts with the program's name


def test_device_message_is_documented(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert documented(lesson_error(kit.pick_device, "cuda"))


def test_checkpoint_messages_are_documented(tmp_path):
    model = torch.nn.Linear(2, 1)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(1)}, plain)
    other = kit.save_checkpoint(tmp_path / "other.pt", "09_rnn_classification", model)
    wrong_shape = kit.save_checkpoint(tmp_path / "shape.pt", "07_cnn_mnist", torch.nn.Linear(3, 1))
    for path in [tmp_path / "missing.pt", junk, plain, other, wrong_shape]:
        message = lesson_error(kit.load_checkpoint, path, "07_cnn_mnist", model)
        assert documented(message.replace(str(path), "x.pt")), message


def test_predict_and_generate_without_a_model_are_documented(course_in):
    assert documented(lesson_error(load_lesson("09_rnn_classification").main, ["--predict", "casa"]))
    assert documented(lesson_error(load_lesson("10_char_rnn").main, ["--generate"]))


def test_training_messages_are_documented():
    assert documented(lesson_error(kit.stop_if_diverged, float("nan"), 0.1, "at epoch 3"))
    assert documented(lesson_error(kit.stop_if_diverged, 50.0, 1e6, "at epoch 2", 0.73))


def test_every_bug_names_tests_that_exist():
    """tools/bugs/ names, for every bug, the tests that must catch it (`tests/test_X.py -k words`): a
    renamed or deleted test must not leave a bug that nothing runs."""
    sys.path.insert(0, str(REPO / "tools"))
    import break_on_purpose

    bugs = break_on_purpose.all_bugs()
    assert len(bugs) >= 100
    for _, description, file, correct, _, tests in bugs:
        assert (REPO / file).is_file(), description
        assert (REPO / file).read_text().count(correct) == 1, f"{description}: its text is not in {file} once"
        path, *selection = tests.split()
        names = re.findall(r"^def (test_\w+)", (REPO / path).read_text(), re.M)
        words = [w for w in re.findall(r"\w+", " ".join(selection[1:])) if w not in ("and", "or", "not")]
        assert all(any(word in name for name in names) for word in words), f"{description}: {tests}"
