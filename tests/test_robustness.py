"""What learners actually do: start lessons from odd places, interrupt them, break the data, repeat runs."""

import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO, load_lesson, run_script

import lesson_tools as kit

# ----------------------------------------------------------------------------- where it is started from


@pytest.mark.parametrize("how", ["absolute", "relative", "symlink"])
def test_started_from_anywhere(how, tmp_path):
    script = REPO / "02_linear_regression.py"
    if how == "relative":
        target = os.path.relpath(script, tmp_path)
    elif how == "symlink":
        target = tmp_path / "my_lesson.py"
        target.symlink_to(script)
    else:
        target = script
    result = subprocess.run(
        [sys.executable, str(target), "--quick", "--no-figures"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COURSE_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "prediction for x = 4 after training" in result.stdout


# ----------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_stops_cleanly_with_where_it_stopped():
    process = subprocess.Popen(
        [sys.executable, str(REPO / "02_linear_regression.py"), "--epochs", "100000000", "--no-figures"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a shell that starts jobs in the background makes them ignore Ctrl-C; undo that for the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in process.stdout:
        if line.startswith("epoch  100 "):  # training is well under way
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "stopped by Ctrl-C during epoch" in stderr and "of 100000000" in stderr


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    target.write_text("the old, complete file")
    with pytest.raises(KeyboardInterrupt), kit.atomic_path(target) as temporary:
        temporary.write_text("half of the new fi")
        raise KeyboardInterrupt
    assert target.read_text() == "the old, complete file"
    assert list(tmp_path.iterdir()) == [target]


# ----------------------------------------------------------------------------- data problems


def test_data_path_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    # Running as root (as CI does) ignores permission bits, so make the file unreadable another way:
    # a folder where the file should be fails to open on every system.
    copy = tmp_path / "data"
    (copy / "diabetes").mkdir(parents=True)
    (copy / "diabetes" / "SHA256SUMS").write_bytes((REPO / "data/diabetes/SHA256SUMS").read_bytes())
    (copy / kit.DIABETES).mkdir()
    monkeypatch.setattr(kit, "DATA", copy)
    with pytest.raises(
        kit.LessonError, match=r"cannot read data file .*pima-indians-diabetes\.csv.*git checkout"
    ):
        load_lesson("03_logistic").main(["--quick", "--no-figures"])


def test_missing_checksum_list_is_named(tmp_path, monkeypatch):
    (tmp_path / "diabetes").mkdir()
    monkeypatch.setattr(kit, "DATA", tmp_path)
    with pytest.raises(kit.LessonError, match=r"SHA256SUMS is missing.*git checkout"):
        kit.data_file(kit.DIABETES)


def test_damaged_data_through_the_command_line_is_one_line(tmp_path):
    # The real data/ is never touched: the lesson runs from a copy of the repository's files.
    for name in ["03_logistic.py", "lesson_tools.py"]:
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    (tmp_path / "data" / "diabetes").mkdir(parents=True)
    (tmp_path / "data/diabetes/SHA256SUMS").write_bytes((REPO / "data/diabetes/SHA256SUMS").read_bytes())
    (tmp_path / "data" / kit.DIABETES).write_bytes((REPO / "data" / kit.DIABETES).read_bytes()[:-100])
    result = subprocess.run(
        [sys.executable, str(tmp_path / "03_logistic.py"), "--no-figures"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "data/diabetes/pima-indians-diabetes.csv is damaged" in result.stderr
    assert "git checkout -- data/diabetes/pima-indians-diabetes.csv" in result.stderr


# ----------------------------------------------------------------------------- flags and devices


@pytest.mark.parametrize(("device", "available"), [("cuda", "cuda"), ("mps", "mps")])
def test_absent_accelerator_is_refused_clearly(device, available, monkeypatch):
    import torch

    if device == "cuda":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    else:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(kit.LessonError, match=rf"--device {device} was asked for.*--device cpu"):
        load_lesson("02_linear_regression").main(["--device", device, "--no-figures"])


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_runner_reports_a_failing_lesson_and_goes_on(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "run_course.py"),
            "--only",
            "01,02",
            "--quick",
            "--no-figures",
            "--device",
            "cuda",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "01_autograd" in result.stdout and "02_linear_regression" in result.stdout  # both ran
    assert "2 lesson(s) failed" in result.stdout


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_printed_numbers_run_after_run():
    first, second = (run_script("05_dataloader.py", "--quick", "--no-figures") for _ in range(2))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


# ----------------------------------------------------------------------------- --load


@pytest.mark.parametrize("lesson", ["06_softmax_mnist", "07_cnn_mnist", "08_rnn"])
def test_load_refuses_a_checkpoint_of_another_shape(lesson, tmp_path):
    import torch

    # 08's checkpoints also carry what the model needs to be rebuilt; these describe a tiny GRU
    extra = {"vocabulary": "abc", "languages": ["x"], "cell": "gru", "embedding_size": 1, "hidden_size": 1}
    path = kit.save_checkpoint(tmp_path / "odd.pt", lesson, torch.nn.Linear(3, 1), **extra)
    with pytest.raises(kit.LessonError, match=r"--load .*odd\.pt: its weights do not fit this model"):
        load_lesson(lesson).main(["--load", str(path), "--no-figures"])


@pytest.mark.parametrize("lesson", ["06_softmax_mnist", "07_cnn_mnist", "08_rnn"])
def test_load_refuses_a_missing_file_and_a_non_checkpoint(lesson, tmp_path):
    with pytest.raises(kit.LessonError, match="no such file"):
        load_lesson(lesson).main(["--load", str(tmp_path / "nothing.pt"), "--no-figures"])
    junk = tmp_path / "notes.txt"
    junk.write_text("these are not weights")
    with pytest.raises(kit.LessonError, match="not a readable PyTorch checkpoint"):
        load_lesson(lesson).main(["--load", str(junk), "--no-figures"])
