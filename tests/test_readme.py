"""README stays true: its images exist and are small, its line links point at the code they name, its
test command is the one CI runs, and Troubleshooting shows the messages the lessons really print."""

import re
import shutil

import pytest
import torch
from conftest import REPO, load_lesson

import lesson_tools as kit

README = (REPO / "README.md").read_text()


def section(name):
    return README.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]


def test_images_exist_and_stay_small():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 10
    sizes = [(REPO / image).stat().st_size for image in images]  # a missing image fails here
    assert sum(sizes) < 1_000_000


@pytest.mark.parametrize(
    ("text", "target", "line"), re.findall(r"\[([^\]]+)\]\(([\w./]+\.py)#L(\d+)\)", README)
)
def test_line_links_point_at_what_they_name(text, target, line):
    lines = (REPO / target).read_text().splitlines()
    assert int(line) <= len(lines), f"{target} has no line {line}"
    snippet = re.fullmatch(r"`([^`]+)`", text)
    if snippet:  # a link named after code must land on a line holding that code
        assert snippet.group(1) in lines[int(line) - 1], f"{target}#L{line} is now: {lines[int(line) - 1]!r}"


def test_file_links_exist():
    for target in re.findall(r"\]\(([\w./-]+)\)", README):
        assert (REPO / target).exists(), target


def test_every_lesson_is_in_the_table():
    lessons = sorted(path.name for path in REPO.glob("[0-9][0-9]_*.py"))
    assert len(lessons) == 9
    for lesson in lessons:
        assert f"[`{lesson}`]({lesson})" in section("lessons")


def test_ci_runs_the_readme_test_command():
    command = re.search(r"# 2\. set up and run the tests\n(.+)\n", README).group(1)
    assert command in (REPO / ".ci" / "run").read_text()


# ----------------------------------------------------------------------------- Troubleshooting

PATTERNS = [
    re.compile(".*".join(re.escape(part) for part in snippet.split("...")).replace(r"\ /\ ", " / "))
    for snippet in re.findall(r"`([^`]+)`", section("troubleshooting"))
]


def documented(message):
    return any(pattern.match(message) for pattern in PATTERNS)


def lesson_error(function, *args):
    with pytest.raises(kit.LessonError) as error:
        function(*args)
    return f"error: {error.value}"


def test_data_messages_are_documented(tmp_path, monkeypatch):
    shutil.copytree(REPO / "data" / "diabetes", tmp_path / "diabetes")
    monkeypatch.setattr(kit, "DATA", tmp_path)
    csv = tmp_path / kit.DIABETES
    csv.write_text("cut short")
    messages = [lesson_error(kit.data_file, kit.DIABETES)]
    csv.unlink()
    messages.append(lesson_error(kit.data_file, kit.DIABETES))
    csv.mkdir()
    messages.append(lesson_error(kit.data_file, kit.DIABETES))
    monkeypatch.setenv(kit.MNIST_CACHE_ENV, str(tmp_path / "cache"))
    messages.append(lesson_error(kit.mnist_root, tmp_path / "no-mnist-here"))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(kit, "_mnist_roots", lambda: [blocked / "x"])
    monkeypatch.setattr(kit, "DATA", REPO / "data")
    messages.append(lesson_error(kit.mnist_root))
    for message in messages:
        assert documented(message.replace(f"{tmp_path}/", "data/")), message


@pytest.mark.parametrize(
    "flags",
    [["--epochs", "0"], ["--batch-size", "0"], ["--lr", "-0.1"], ["--lr", "abc"], ["--device", "tpu"]],
)
def test_flag_messages_are_documented(flags, capsys):
    with pytest.raises(SystemExit):
        load_lesson("05_dataloader").main(flags)
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
    other = kit.save_checkpoint(tmp_path / "other.pt", "08_rnn", model)
    wrong_shape = kit.save_checkpoint(tmp_path / "shape.pt", "07_cnn_mnist", torch.nn.Linear(3, 1))
    for path in [tmp_path / "missing.pt", junk, plain, other, wrong_shape]:
        message = lesson_error(kit.load_checkpoint, path, "07_cnn_mnist", model)
        assert documented(message.replace(str(path), "x.pt")), message


def test_training_messages_are_documented():
    assert documented(lesson_error(kit.stop_if_diverged, float("nan"), 0.1, "at epoch 3"))
    assert documented(lesson_error(kit.stop_if_diverged, 50.0, 1e6, "at epoch 2", 0.73))
