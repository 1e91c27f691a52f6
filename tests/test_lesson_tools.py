"""lesson_tools, the plumbing every lesson shares: flags, devices, verified data, safe writes, clear errors."""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lesson_tools as kit

import pytest
import torch
from conftest import REPO, load_lesson, quick

# ----------------------------------------------------------------------------- the shared command line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epochs", "0"], "--epochs: must be a positive whole number"),
        (["--epochs", "ten"], "--epochs: expected a whole number"),
        (["--lr", "-0.1"], "--lr: must be a positive finite number"),
        (["--lr", "nan"], "--lr: must be a positive finite number"),
        (["--lr", "inf"], "--lr: must be a positive finite number"),
        (["--lr", "fast"], "--lr: expected a number"),
        (["--batch-size", "0"], "--batch-size: must be a positive whole number"),
        (["--device", "tpu"], "--device: invalid choice: 'tpu'"),
    ],
)
def test_shared_flags_refuse_bad_values_clearly(flags, message, capsys):
    parser = kit.lesson_parser("a lesson", epochs=3, lr=0.1, batch_size=8)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_shared_flags_parse_what_they_say():
    parser = kit.lesson_parser("a lesson", epochs=3, lr=0.1, batch_size=8)
    args = parser.parse_args(["--epochs", "7", "--lr", "0.5", "--batch-size", "4", "--seed", "3", "--quick"])
    assert (args.epochs, args.lr, args.batch_size, args.seed, args.quick) == (7, 0.5, 4, 3, True)
    defaults = parser.parse_args([])
    assert (defaults.epochs, defaults.lr, defaults.batch_size, defaults.seed, defaults.device) == (
        3,
        0.1,
        8,
        0,
        "auto",
    )


# ----------------------------------------------------------------------------- devices


@pytest.fixture
def fake_gpu(monkeypatch):
    """PyTorch is told a CUDA GPU is present (this machine has none, so computing on it would fail)."""
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_an_explicit_device_is_obeyed_when_a_gpu_is_present(fake_gpu):
    assert kit.pick_device("cpu") == torch.device("cpu")
    assert kit.pick_device("auto") == torch.device("cuda")
    assert kit.pick_device("cuda") == torch.device("cuda")
    quick("02_linear_regression", "--device", "cpu")  # would fail on the absent GPU had it taken "auto"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_an_absent_accelerator_is_refused_clearly(device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(kit.LessonError, match=rf"--device {device} was asked for.*--device cpu"):
        kit.pick_device(device)


# ----------------------------------------------------------------------------- verified data files


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of data/diabetes that a test may damage; data_file reads it instead of the real one."""
    shutil.copytree(REPO / "data" / "diabetes", tmp_path / "diabetes")
    monkeypatch.setattr(kit, "DATA", tmp_path)
    return tmp_path / "diabetes"


CSV = "diabetes/pima-indians-diabetes.csv"


def test_a_shipped_file_passes_its_check(data_copy):
    assert kit.data_file(CSV) == data_copy / "pima-indians-diabetes.csv"


@pytest.mark.parametrize("damage", ["truncate", "edit"])
def test_a_damaged_file_is_named_with_how_to_restore_it(damage, data_copy):
    csv = data_copy / "pima-indians-diabetes.csv"
    content = csv.read_bytes()
    csv.write_bytes(
        content[: len(content) // 2] if damage == "truncate" else content.replace(b"148", b"149", 1)
    )
    with pytest.raises(
        kit.LessonError, match=r"pima-indians-diabetes\.csv is damaged.*SHA256SUMS.*git .*checkout"
    ):
        kit.data_file(CSV)


def test_a_missing_file_a_folder_and_a_missing_checksum_list_are_named(data_copy):
    csv = data_copy / "pima-indians-diabetes.csv"
    csv.unlink()
    with pytest.raises(kit.LessonError, match=r"pima-indians-diabetes\.csv is missing.*git .*checkout"):
        kit.data_file(CSV)
    csv.mkdir()  # a folder where the file should be cannot be read, even by root
    with pytest.raises(kit.LessonError, match=r"cannot read data file .*pima-indians-diabetes\.csv"):
        kit.data_file(CSV)
    (data_copy / "SHA256SUMS").unlink()
    with pytest.raises(kit.LessonError, match=r"SHA256SUMS is missing"):
        kit.data_file(CSV)


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
@pytest.mark.parametrize("where", ["the course folder", "another folder"])
def test_the_restore_command_in_the_message_brings_the_file_back(where, tmp_path, monkeypatch):
    """The learner copies the command the message gives, from where they stand, and it works."""
    course = tmp_path / "course"
    shutil.copytree(REPO / "data" / "diabetes", course / "data" / "diabetes")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(course)], check=True)
    subprocess.run([*git, "-C", str(course), "add", "."], check=True)
    subprocess.run([*git, "-C", str(course), "commit", "-q", "-m", "data"], check=True)
    monkeypatch.setattr(kit, "REPO", course)
    monkeypatch.setattr(kit, "DATA", course / "data")
    learner = course if where == "the course folder" else tmp_path / "learner"
    learner.mkdir(exist_ok=True)
    monkeypatch.chdir(learner)
    csv = course / "data" / CSV
    original = csv.read_bytes()
    csv.write_bytes(original[:100])
    with pytest.raises(kit.LessonError) as error:
        kit.data_file(CSV)
    command = str(error.value).split("Restore it with: ")[1]
    subprocess.run(command, shell=True, cwd=learner, check=True, capture_output=True)
    assert csv.read_bytes() == original
    assert kit.data_file(CSV) == csv


def test_a_file_not_listed_in_the_checksums_is_refused(data_copy):
    (data_copy / "extra.csv").write_text("1,2,3\n")
    with pytest.raises(kit.LessonError, match=r"extra\.csv is not listed in .*SHA256SUMS"):
        kit.data_file("diabetes/extra.csv")


def test_lecture_replaces_only_the_flags_the_learner_did_not_type(capsys):
    lecture = {"epochs": 9, "lr": 0.01, "batch_size": 64, "optimizer": ("SGD, momentum 0.5", "AdamW")}
    parser = kit.lesson_parser("a lesson", epochs=4, lr=0.008, batch_size=128)
    kit.add_lecture_flag(parser, lecture)
    assert "epochs 9, lr 0.01, batch size 64, optimizer SGD, momentum 0.5" in " ".join(
        parser.format_help().split()
    )
    args = parser.parse_args(["--lecture", "--epochs", "4", "--lr", "0.5"])  # 4 is the lesson's default
    changes = kit.use_lecture_settings(args, parser, lecture)
    assert (args.epochs, args.lr, args.batch_size) == (4, 0.5, 64)
    line = capsys.readouterr().out.strip()
    assert line == "--lecture, the lecture code's settings: " + "; ".join(changes)
    assert changes == ["batch size 64 (not 128)", "optimizer SGD, momentum 0.5 (not AdamW)"]
    plain = parser.parse_args([])
    assert kit.use_lecture_settings(plain, parser, lecture) == [] and capsys.readouterr().out == ""
    assert (plain.epochs, plain.lr, plain.batch_size) == (4, 0.008, 128)


# ----------------------------------------------------------------------------- writing files safely


class Interrupted(Exception):
    pass


def half_write_then_interrupt(path, *args, **kwargs):
    """A writer stopped half-way (Ctrl-C, a full disk, a kill): it leaves some bytes behind, then fails."""
    target = path if isinstance(path, (str, os.PathLike)) else args[0]
    with open(target, "wb") as file:
        file.write(b"half a file")
    raise Interrupted


def test_an_interrupted_checkpoint_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 1)
    path = kit.save_checkpoint(tmp_path / "model.pt", "02_linear_regression", model)
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: half_write_then_interrupt(f))
    with pytest.raises(Interrupted):
        kit.save_checkpoint(path, "02_linear_regression", model)
    monkeypatch.undo()
    assert kit.load_checkpoint(path, "02_linear_regression", torch.nn.Linear(2, 1))  # still complete
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # and no temporary file left behind


def test_an_interrupted_figure_leaves_the_old_file_whole(tmp_path, monkeypatch):
    import matplotlib.figure
    import matplotlib.pyplot as plt

    args = argparse.Namespace(figures=tmp_path, show=False, no_figures=False)
    kit.start_figures(args)
    path = kit.save_figure(plt.figure(), "picture", args)
    old = path.read_bytes()
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda self, f, **k: half_write_then_interrupt(f)
    )
    with pytest.raises(Interrupted):
        kit.save_figure(plt.figure(), "picture", args)
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["picture.png"]


def test_a_checkpoint_holds_tensors_only_and_never_runs_code(tmp_path):
    marker = tmp_path / "the-file-ran-code"

    class Trap:  # unpickling this object would create the marker file
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "trap.pt"
    torch.save({"lesson": "07_cnn_mnist", "model": {}, "trap": Trap()}, path)
    with pytest.raises(kit.LessonError, match="not a readable PyTorch checkpoint"):
        kit.load_checkpoint(path, "07_cnn_mnist")
    assert not marker.exists()


def test_checkpoints_of_another_lesson_or_shape_or_no_checkpoint_at_all_are_refused(tmp_path):
    model = torch.nn.Linear(2, 1)
    other = kit.save_checkpoint(tmp_path / "other.pt", "08_rnn", model)
    with pytest.raises(kit.LessonError, match="belongs to 08_rnn, not 07_cnn_mnist"):
        kit.load_checkpoint(other, "07_cnn_mnist", model)
    shape = kit.save_checkpoint(tmp_path / "shape.pt", "07_cnn_mnist", torch.nn.Linear(3, 1))
    with pytest.raises(kit.LessonError, match="its weights do not fit this model"):
        kit.load_checkpoint(shape, "07_cnn_mnist", model)
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(kit.LessonError, match="not a readable PyTorch checkpoint"):
        kit.load_checkpoint(tmp_path / "notes.txt", "07_cnn_mnist", model)
    with pytest.raises(kit.LessonError, match="no such file"):
        kit.load_checkpoint(tmp_path / "absent.pt", "07_cnn_mnist", model)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(other.read_bytes()[:200])
    with pytest.raises(kit.LessonError, match=r"truncated\.pt: not a readable PyTorch checkpoint"):
        kit.load_checkpoint(truncated, "08_rnn", model)


def test_a_bare_save_goes_to_the_course_checkpoints_folder(course_in, capsys):
    path = kit.save_checkpoint(True, "02_linear_regression", torch.nn.Linear(1, 1))
    assert path == course_in / "checkpoints" / "02_linear_regression.pt" and path.is_file()
    assert kit.saved_checkpoint("02_linear_regression") == path
    assert kit.saved_checkpoint("03_logistic") is None


def test_the_temporary_file_is_written_beside_its_target(tmp_path, monkeypatch):
    """os.replace is atomic only within one file system: the temporary file must lie in the target's own
    folder, not in /tmp."""
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda src, dst: renames.append((Path(src), Path(dst))) or real_replace(src, dst)
    )
    (tmp_path / "sub").mkdir()
    with kit.atomic_path(tmp_path / "sub" / "notes.txt") as temporary:
        temporary.write_text("hello")
    kit.save_checkpoint(tmp_path / "m.pt", "02_linear_regression", torch.nn.Linear(1, 1))
    assert [(src.parent, dst) for src, dst in renames] == [
        (tmp_path / "sub", tmp_path / "sub" / "notes.txt"),
        (tmp_path, tmp_path / "m.pt"),
    ]


def test_a_tilde_in_a_path_is_the_learners_home(tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    checkpoint = kit.save_checkpoint(Path("~/m.pt"), "02_linear_regression", torch.nn.Linear(1, 1))
    args = argparse.Namespace(figures=Path("~/figs"), show=False, no_figures=False)
    kit.start_figures(args)
    figure = kit.save_figure(plt.figure(), "picture", args)
    assert checkpoint == home / "m.pt" and figure == home / "figs" / "picture.png"
    assert capsys.readouterr().out.splitlines() == ["checkpoint: home/m.pt", "figure: home/figs/picture.png"]
    assert kit.load_checkpoint(Path("~/m.pt"), "02_linear_regression", torch.nn.Linear(1, 1))
    assert not (tmp_path / "~").exists()


def test_a_bare_save_in_a_read_only_course_is_found_again_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(kit, "REPO", tmp_path / "course")  # holds no checkpoints/ folder
    cached = tmp_path / "cache" / "pytorch-zero-to-all" / "checkpoints" / "08_rnn.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"a checkpoint")
    assert kit.saved_checkpoint("08_rnn") == cached and kit.saved_checkpoint("09_rnn_classification") is None


def test_written_files_get_a_normal_files_mode(tmp_path):
    """mkstemp makes a private temporary file (0600); what a lesson writes must be readable as any file is."""
    umask = os.umask(0o022)
    try:
        import matplotlib.pyplot as plt

        checkpoint = kit.save_checkpoint(tmp_path / "m.pt", "02_linear_regression", torch.nn.Linear(1, 1))
        args = argparse.Namespace(figures=tmp_path, show=False, no_figures=False)
        kit.start_figures(args)
        figure = kit.save_figure(plt.figure(), "picture", args)
        with kit.atomic_path(tmp_path / "notes.txt") as temporary:
            temporary.write_text("hello")
    finally:
        os.umask(umask)
    for path in (checkpoint, figure, tmp_path / "notes.txt"):
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_an_interrupted_results_file_leaves_the_old_one_whole(tmp_path, monkeypatch):
    results = tmp_path / "result.json"
    results.write_text('{"old": 1}')
    monkeypatch.setenv(kit.RESULT_ENV, str(results))
    real_write_text = Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise Interrupted

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(Interrupted):
        kit.run(lambda: {"test_accuracy": 99.0, "summary": "a long enough result to cut in half"})
    monkeypatch.undo()
    assert json.loads(results.read_text()) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == [
        "result.json"
    ]


# ----------------------------------------------------------------------------- one call after each epoch


def test_epoch_log_records_times_prints_and_stops_divergence(capsys):
    log = kit.EpochLog(epochs=12, lr=0.1, every=5, seconds=True)
    rows = [
        log.end_epoch(epoch, train_loss=1.0 / epoch, test_accuracy=50.0 + epoch) for epoch in range(1, 13)
    ]
    assert [row["epoch"] for row in log.history] == list(range(1, 13)) and rows == log.history
    assert all(row["seconds"] >= 0 and row["test_accuracy"] == 50.0 + row["epoch"] for row in rows)
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in printed] == ["1/12", "2/12", "3/12", "5/12", "10/12", "12/12"]
    assert (
        "train loss 0.5000" in printed[1]
        and "test accuracy 52.00%" in printed[1]
        and printed[1].endswith(" s")
    )
    quiet = kit.EpochLog(epochs=3, lr=0.1, show=False)
    quiet.end_epoch(1, loss=0.7)
    assert capsys.readouterr().out == ""
    with pytest.raises(kit.LessonError, match="over 10 times its starting value 0.7 at epoch 2"):
        quiet.end_epoch(2, loss=7.5)  # judged against the first epoch's loss
    with pytest.raises(kit.LessonError, match="became nan at epoch 1"):
        kit.EpochLog(epochs=3, lr=0.1).end_epoch(1, w=2.0, loss=float("nan"))
    with pytest.raises(kit.LessonError, match="over 10 times its starting value 2.3"):
        kit.EpochLog(epochs=3, lr=0.1, reference=2.3).end_epoch(1, loss=24.0)
    climbing = kit.EpochLog(epochs=3, lr=0.1, show=False)
    climbing.end_epoch(1, loss=1.0)
    climbing.end_epoch(2, loss=5.0)  # 5 times the first epoch's: not yet diverged
    with pytest.raises(kit.LessonError, match="over 10 times its starting value 1 at epoch 3"):
        climbing.end_epoch(3, loss=20.0)  # 20 times the first epoch's, though only 4 times the last's


def test_each_epoch_line_says_that_epochs_own_seconds(monkeypatch, capsys):
    """The seconds printed for an epoch, and kept in its row, are that epoch's alone: with a clock that
    moves 2 s during epoch 1 and 3 s during epoch 2, the lines say 2.0 s and 3.0 s, not 5.0 s."""
    now = [100.0]
    monkeypatch.setattr(kit.time, "perf_counter", lambda: now[0])
    log = kit.EpochLog(epochs=2, lr=0.1, seconds=True)
    for epoch, seconds in ((1, 2.0), (2, 3.0)):
        now[0] += seconds
        log.end_epoch(epoch, train_loss=1.0)
    assert [row["seconds"] for row in log.history] == [2.0, 3.0]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-2:] for line in lines] == [["2.0", "s"], ["3.0", "s"]]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]


def test_the_curves_figure_draws_each_epochs_numbers_from_epoch_1():
    """Both panels hold exactly the history's numbers, the right one the number asked for, on epochs 1..n."""
    import matplotlib

    matplotlib.use("Agg")
    history = [
        {"epoch": e, "train_loss": 1.0 / e, "test_accuracy": 50.0 + e, "test_exact_match": 10.0 * e}
        for e in range(1, 5)
    ]
    for right in ("test_accuracy", "test_exact_match"):
        fig = kit.curves_figure(history, right)
        left, right_ax = fig.axes
        assert list(left.lines[0].get_xdata()) == [1, 2, 3, 4] == list(right_ax.lines[0].get_xdata())
        assert list(left.lines[0].get_ydata()) == [row["train_loss"] for row in history]
        assert list(right_ax.lines[0].get_ydata()) == [row[right] for row in history]
        assert (
            right_ax.get_title() == right.replace("_", " ").capitalize()
            and right_ax.get_ylabel() == "percent"
        )


# ----------------------------------------------------------------------------- paths the learner sees


def test_printed_paths_open_from_where_the_learner_stands(tmp_path, monkeypatch, capsys, course_in):
    lesson = load_lesson("01_autograd")
    learner = tmp_path / "learner"
    learner.mkdir()
    monkeypatch.chdir(learner)
    lesson.main(["--quick", "--figures", "figs"])  # a relative --figures is the learner's folder
    lesson.main(["--quick"])  # the default: figures/ in the course folder, elsewhere on disk
    monkeypatch.chdir(course_in)
    lesson.main(["--quick"])
    out = capsys.readouterr().out.splitlines()
    printed = [line.split(": ", 1)[1] for line in out if line.startswith("figure: ")]
    name = "01_loss_against_w.png"
    assert printed == [f"figs/{name}", str(course_in / "figures" / name), f"figures/{name}"]
    assert (learner / printed[0]).is_file() and (course_in / printed[2]).is_file()


def read_only(course, command):
    """command run with the course folder read-only: a ro bind mount for root (who may write anywhere),
    plain permissions for anyone else."""
    if os.geteuid() != 0:
        course.chmod(0o555)
        return command
    if not shutil.which("unshare"):
        pytest.skip("root without unshare cannot make a folder read-only")
    mount = f'mount --bind {course} {course} && mount -o remount,ro,bind {course} && exec "$@"'
    return ["unshare", "-m", "sh", "-c", mount, "sh", *command]


def test_a_read_only_course_folder_still_runs_and_says_where_its_figure_went(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    for name in ("01_autograd.py", "lesson_tools.py"):
        shutil.copy(REPO / name, course / name)
    probe = subprocess.run(read_only(course, ["touch", str(course / "probe")]), capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this machine would not make the folder read-only")
    done = subprocess.run(
        read_only(course, [sys.executable, str(course / "01_autograd.py"), "--quick"]),
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg", "XDG_CACHE_HOME": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figure = next(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("figure: "))
    assert figure == "cache/pytorch-zero-to-all/figures/01_loss_against_w.png"
    assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- MNIST files for torchvision


def mnist_copy(folder):
    """A course folder holding lesson_tools.py and links to the shipped MNIST files, nothing prepared."""
    (folder / "data" / "mnist").mkdir(parents=True)
    shutil.copy(REPO / "lesson_tools.py", folder / "lesson_tools.py")
    for path in (REPO / "data" / "mnist").iterdir():
        if path.is_file():
            (folder / "data" / "mnist" / path.name).symlink_to(path)
    return folder


def test_lessons_starting_at_once_all_get_whole_files(tmp_path, monkeypatch):
    # Threads of one process race exactly as processes would: the files are the shared state, and
    # decompressing and writing release the interpreter lock.
    from concurrent.futures import ThreadPoolExecutor

    course = mnist_copy(tmp_path)
    monkeypatch.setattr(kit, "DATA", course / "data")
    with ThreadPoolExecutor(3) as pool:
        roots = list(pool.map(lambda _: kit.mnist_root(), range(3)))
    raw = course / "data" / "mnist" / "prepared" / "MNIST" / "raw"
    assert roots == [raw.parent.parent] * 3
    assert {p.name: p.stat().st_size for p in raw.iterdir()} == kit.MNIST_FILES  # no .tmp, no half file


def test_a_run_killed_half_way_leaves_nothing_that_is_trusted(tmp_path, monkeypatch):
    course = mnist_copy(tmp_path)
    raw = course / "data" / "mnist" / "prepared" / "MNIST" / "raw"
    prepare = "import lesson_tools as kit; kit.mnist_root()"
    process = subprocess.Popen([sys.executable, "-c", prepare], cwd=course)
    deadline = time.monotonic() + 60
    while not (raw.is_dir() and any(raw.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)  # no clean-up code runs: the worst case
    process.wait()
    for path in raw.iterdir():  # whatever has its final name is complete
        assert path.name.endswith(".tmp") or path.stat().st_size == kit.MNIST_FILES[path.name]
    monkeypatch.setattr(kit, "DATA", course / "data")
    assert kit.mnist_root() == raw.parent.parent  # the next run finishes the job
    assert {p.name: p.stat().st_size for p in raw.iterdir() if not p.name.endswith(".tmp")} == kit.MNIST_FILES


def test_prepared_files_of_the_wrong_size_are_made_again(tmp_path, monkeypatch):
    course = mnist_copy(tmp_path)
    monkeypatch.setattr(kit, "DATA", course / "data")
    raw = course / "data" / "mnist" / "prepared" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in kit.MNIST_FILES:
        (raw / name).write_bytes(b"not the real file")
    assert kit.mnist_root() == raw.parent.parent
    assert {p.name: p.stat().st_size for p in raw.iterdir()} == kit.MNIST_FILES


def test_a_read_only_course_prepares_mnist_in_the_user_cache(tmp_path, monkeypatch):
    course = mnist_copy(tmp_path / "course")
    (course / "data" / "mnist" / "prepared").write_text("a file stands where the folder would go")
    monkeypatch.setattr(kit, "DATA", course / "data")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = kit.mnist_root()
    assert root == tmp_path / "cache" / "pytorch-zero-to-all" / "mnist"
    assert {p.name: p.stat().st_size for p in (root / "MNIST" / "raw").iterdir()} == kit.MNIST_FILES


def test_damaged_or_missing_mnist_archives_are_named(tmp_path, monkeypatch):
    course = mnist_copy(tmp_path)
    monkeypatch.setattr(kit, "DATA", course / "data")
    archive = course / "data" / "mnist" / "train-labels-idx1-ubyte.gz"
    archive.unlink()
    archive.write_bytes(b"cut short")
    with pytest.raises(kit.LessonError, match=r"train-labels-idx1-ubyte\.gz is damaged.*git .*checkout"):
        kit.mnist_root()
    archive.unlink()
    with pytest.raises(kit.LessonError, match=r"train-labels-idx1-ubyte\.gz is missing.*git .*checkout"):
        kit.mnist_root()


# ----------------------------------------------------------------------------- the command line ends


def test_ctrl_c_stops_cleanly(tmp_path):
    output = tmp_path / "output.txt"
    with open(output, "w") as out:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "02_linear_regression.py"), "--epochs", "100000000", "--no-figures"],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # a shell that starts jobs in the background makes them ignore Ctrl-C; undo that for the child
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not re.search(r"epoch +100/", output.read_text()) and time.monotonic() < deadline:  # training
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "\nstopped by Ctrl-C; nothing was left half-written.\n"


def test_run_turns_a_lesson_error_into_one_line_and_writes_results_for_the_runner(
    tmp_path, monkeypatch, capsys
):
    def failing():
        raise kit.LessonError("the data is gone")

    with pytest.raises(SystemExit) as exit_info:
        kit.run(failing)
    assert exit_info.value.code == 1 and capsys.readouterr().err == "error: the data is gone\n"
    monkeypatch.setenv(kit.RESULT_ENV, str(tmp_path / "result.json"))
    kit.run(lambda: {"test_accuracy": 0.75, "device": torch.device("cpu")})
    assert json.loads((tmp_path / "result.json").read_text()) == {"test_accuracy": 0.75, "device": "cpu"}


def test_stop_if_diverged_catches_nan_and_explosions():
    with pytest.raises(kit.LessonError, match=r"became nan at epoch 3.*smaller --lr, e\.g\. 0\.01"):
        kit.stop_if_diverged(float("nan"), 0.1, "at epoch 3")
    with pytest.raises(kit.LessonError, match="reached 50, over 10 times its starting value 0.73"):
        kit.stop_if_diverged(50.0, 1.0, "at epoch 2", reference=0.73)
    kit.stop_if_diverged(7.0, 1.0, "at epoch 2", reference=0.73)  # a loss that rose 10-fold or less goes on


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(os.urandom(3 << 20))
    assert kit.sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- threads


def test_the_thread_policy_gives_pytorch_the_cores_other_programs_leave_free():
    policy = kit.ThreadPolicy()
    policy.most = 4
    # two looks 2 s apart: the machine spent 6 CPU seconds, this process 2 of them, others 4: 2 cores
    assert policy.others_busy((0.0, 10.0, 1.0, 4), (2.0, 16.0, 3.0, 4)) == pytest.approx(2.0)
    assert policy.threads_for(others=0.0, cores=4) == 4  # a quiet machine keeps every thread
    assert policy.threads_for(others=0.4, cores=4) == 4  # a light load too, like a video playing
    assert policy.threads_for(others=0.6, cores=4) == 3  # over half a core: that core is taken
    assert policy.threads_for(others=2.0, cores=4) == 2
    assert policy.threads_for(others=3.9, cores=4) == 1  # always at least one
    assert policy.threads_for(others=0.0, cores=16) == 4  # never more than PyTorch's own choice


class Machine:
    """A 2-core machine on a clock the test moves: other programs keep `others` cores busy, and one
    optimizer step takes `step[n]` seconds with n threads."""

    def __init__(self, monkeypatch, others: float, step: dict[int, float]):
        self.now, self.others, self.step = 100.0, others, step
        monkeypatch.setattr(kit.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(kit.ThreadPolicy, "_look", lambda _: (self.now, self.others * self.now, 0.0, 2))
        monkeypatch.setattr(kit.ThreadPolicy, "adapt", True, raising=False)
        self.policy = kit.ThreadPolicy()
        self.policy.most = 2
        self.policy.adapt = True
        self.threads_used: list[int] = []

    def epoch(self, steps: int, evaluation: float = 0.0) -> None:
        """An epoch as EpochLog and a lesson's loop make it: a look, the steps, then an evaluation."""
        self.now += 2.0
        self.policy.update()
        for _ in range(steps):
            self.threads_used.append(torch.get_num_threads())
            self.now += self.step[torch.get_num_threads()]
            self.policy.after_step(None, (), {})
        self.now += evaluation


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_beside_a_light_load_a_trial_keeps_the_thread_count_whose_steps_are_faster(monkeypatch, two_threads):
    # many small operations (like 11's): one thread's steps are faster while a video plays
    small = Machine(monkeypatch, others=0.3, step={2: 0.040, 1: 0.030})
    small.epoch(200)
    assert small.policy.chosen == [(2, 1)]
    assert small.threads_used[-50:] == [1] * 50  # the rest of the epoch runs on the faster count
    small.epoch(200)  # the next epoch keeps it without another trial
    assert small.threads_used[-200:] == [1] * 200 and len(small.policy.chosen) == 1
    # large operations (like 06's): two threads are faster, and they stay
    large = Machine(monkeypatch, others=0.3, step={2: 0.010, 1: 0.016})
    large.epoch(400)
    assert large.policy.chosen == [(2, 2)] and large.threads_used[-100:] == [2] * 100
    # a difference within the noise keeps every thread
    even = Machine(monkeypatch, others=0.3, step={2: 0.020, 1: 0.0199})
    even.epoch(400)
    assert even.policy.chosen == [(2, 2)]


def test_a_quiet_machine_runs_no_trial_and_a_long_evaluation_is_not_counted_as_steps(
    monkeypatch, two_threads
):
    quiet = Machine(monkeypatch, others=0.01, step={2: 0.040, 1: 0.030})
    for _ in range(3):
        quiet.epoch(200)
    assert quiet.policy.chosen == [] and set(quiet.threads_used) == {2}  # never one thread, never a trial
    # one thread is faster; the first epoch ends just after one thread's first turn began, and the
    # evaluation that follows (5 s) is not a step: the trial still finds one thread the faster
    split = Machine(monkeypatch, others=0.3, step={2: 0.016, 1: 0.010})
    split.epoch(16, evaluation=5.0)
    split.epoch(400)
    assert split.policy.chosen == [(2, 1)]


def test_every_optimizer_step_reaches_the_thread_trial(monkeypatch):
    seen = []
    monkeypatch.setattr(kit.THREADS, "trial", {2: [0.0, 0, 0], 1: [0.0, 0, 0]})
    monkeypatch.setattr(kit.THREADS, "_turn_started", None)
    monkeypatch.setattr(kit.time, "perf_counter", lambda: seen.append(1) or 5.0)
    weight = torch.zeros(3, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)  # any optimizer: the hook is on all of them
    weight.sum().backward()
    optimizer.step()
    assert seen and kit.THREADS._turn_started == 5.0


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or not Path("/proc/stat").exists(), reason="needs 2 cores")
def test_a_busy_program_beside_a_lesson_takes_threads_away_and_a_learners_setting_wins(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    adaptive = kit.ThreadPolicy(every=0.5)
    adaptive.most = os.cpu_count()  # one thread per core, so that one busy core must cost a thread
    monkeypatch.setenv("OMP_NUM_THREADS", str(threads))
    learners = kit.ThreadPolicy(every=0.5)
    assert adaptive.adapt and not learners.adapt
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        assert learners.update() == threads  # the learner's OMP_NUM_THREADS is never changed
        assert adaptive.update() < os.cpu_count()
    finally:
        busy.kill()
        busy.wait()
        torch.set_num_threads(threads)
