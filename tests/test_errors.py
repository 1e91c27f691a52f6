"""Expected user errors end with one clear message and a non-zero exit, never a traceback."""

import shutil

import pytest
import torch
from conftest import REPO, load_lesson, run_script

import lesson_tools as kit

LESSONS_01_05 = ["01_autograd", "02_linear_regression", "03_logistic", "04_wide_deep", "05_dataloader"]


@pytest.mark.parametrize("lesson", LESSONS_01_05)
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epochs", "0"], "--epochs: must be a positive whole number"),
        (["--epochs", "-3"], "--epochs: must be a positive whole number"),
        (["--epochs", "ten"], "--epochs: expected a whole number"),
        (["--lr", "-0.1"], "--lr: must be a positive finite number"),
        (["--lr", "nan"], "--lr: must be a positive finite number"),
        (["--lr", "fast"], "--lr: expected a number"),
        (["--device", "tpu"], "--device: invalid choice: 'tpu'"),
    ],
)
def test_bad_flags_are_refused_clearly(lesson, flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_lesson(lesson).main(flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_batch_size_is_refused(capsys):
    with pytest.raises(SystemExit):
        load_lesson("05_dataloader").main(["--batch-size", "0"])
    assert "--batch-size: must be a positive whole number" in capsys.readouterr().err


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of data/ that a test may damage; the lessons read it instead of the real one."""
    copy = tmp_path / "data"
    shutil.copytree(REPO / "data" / "diabetes", copy / "diabetes")
    monkeypatch.setattr(kit, "DATA", copy)
    return copy


@pytest.mark.parametrize("lesson", ["03_logistic", "04_wide_deep", "05_dataloader"])
def test_missing_data_file_names_it_and_how_to_restore(lesson, data_copy):
    (data_copy / kit.DIABETES).unlink()
    with pytest.raises(kit.LessonError, match=r"pima-indians-diabetes\.csv is missing.*git checkout --"):
        load_lesson(lesson).main(["--quick", "--no-figures"])


@pytest.mark.parametrize("damage", ["truncate", "edit"])
def test_damaged_data_file_is_detected(damage, data_copy):
    csv = data_copy / kit.DIABETES
    content = csv.read_bytes()
    csv.write_bytes(
        content[: len(content) // 2] if damage == "truncate" else content.replace(b"148", b"149", 1)
    )
    with pytest.raises(
        kit.LessonError, match=r"pima-indians-diabetes\.csv is damaged.*SHA256SUMS.*git checkout"
    ):
        load_lesson("03_logistic").main(["--quick", "--no-figures"])


@pytest.mark.parametrize("lesson", ["01_autograd", "02_linear_regression", "03_logistic", "04_wide_deep"])
def test_divergence_is_stopped_with_advice(lesson):
    with pytest.raises(kit.LessonError, match=r"diverged.*smaller --lr"):
        load_lesson(lesson).main(["--quick", "--no-figures", "--lr", "1e6"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_absent_cuda_is_one_clear_line_and_exit_1():
    result = run_script("03_logistic.py", "--device", "cuda", "--no-figures")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --device cuda was asked for, but PyTorch sees no CUDA GPU")
    assert "Traceback" not in result.stderr


def test_lesson_runs_from_another_folder(tmp_path):
    result = run_script("03_logistic.py", "--quick", "--figures", "figs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert (tmp_path / "figs" / "03_logistic.png").is_file()  # a relative --figures is the learner's folder
