"""Lessons 01-05: each learns in quick mode, gradients are right, the DataLoader covers every sample."""

import math

import pytest
import torch
from conftest import load_lesson

import lesson_tools as kit

QUICK = ["--quick", "--no-figures"]


# ----------------------------------------------------------------------------- 01 autograd


def test_01_learns_w_and_predicts_about_8():
    result = load_lesson("01_autograd").main(QUICK)
    assert result["best_w_from_sweep"] == 2.0
    # before training the prediction for 4 is off by 4; quick mode (10 epochs) must cut that below 0.3
    assert result["prediction_before"] == 4.0
    assert abs(result["prediction_after"] - 8.0) < 0.3
    # the hand-derived and the autograd loop take the very same steps
    assert result["w_by_hand"] == pytest.approx(result["w_by_autograd"], abs=1e-5)


@pytest.mark.parametrize("w", [-1.5, 0.0, 1.0, 2.0, 3.7])
@pytest.mark.parametrize(("x", "y"), [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0), (-2.0, 0.5)])
def test_01_hand_gradient_equals_autograd(w, x, y):
    lesson = load_lesson("01_autograd")
    weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    lesson.loss_fn(
        torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64), weight
    ).backward()
    assert weight.grad.item() == pytest.approx(lesson.hand_gradient(x, y, w), rel=1e-12, abs=1e-12)


def test_01_gradcheck_passes_on_the_loss():
    lesson = load_lesson("01_autograd")
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    y = torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64)
    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: lesson.loss_fn(x, y, w).mean(), (w,))


def test_01_gradients_accumulate_until_zeroed():
    lesson = load_lesson("01_autograd")
    first, after_zero = lesson.show_graph_and_accumulation(torch.device("cpu"))
    assert first == lesson.hand_gradient(1.0, 2.0, 1.0) == -2.0
    assert after_zero == 0.0


# ----------------------------------------------------------------------------- 02 linear regression


def test_02_matches_least_squares():
    result = load_lesson("02_linear_regression").main(QUICK)
    assert result["loss_last"] < result["loss_first"] / 1000
    assert abs(result["prediction"] - 8.0) < 0.2
    assert result["w_least_squares"] == pytest.approx(2.0, abs=1e-4)
    assert result["w"] == pytest.approx(result["w_least_squares"], abs=0.1)


# ----------------------------------------------------------------------------- 03 and 04 on diabetes
# 64.6% of the test rows are negative, so a model that learned nothing scores 64.6% by always saying
# "no". Published logistic-regression results on this data are 75-78%; 70% is clearly beyond guessing
# yet leaves room for the run-to-run spread of 192 test rows (one row = 0.5 points).
LEARNED = 0.70


def test_03_toy_and_diabetes():
    result = load_lesson("03_logistic").main(QUICK)
    assert result["p_pass_1_hour"] < 0.5 < result["p_pass_7_hours"]
    assert result["toy_loss_last"] < result["toy_loss_first"] / 2
    assert result["loss_last"] < result["loss_first"] / 1.5
    assert result["majority_accuracy"] == pytest.approx(0.646, abs=1e-3)
    assert result["test_accuracy"] >= LEARNED


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_04_deep_network_learns(activation):
    result = load_lesson("04_wide_deep").main([*QUICK, "--activation", activation])
    assert result["loss_last"] < result["loss_first"] / 1.15
    assert result["test_accuracy"] >= LEARNED
    assert result["baseline_test_accuracy"] >= LEARNED


def test_04_hidden_sizes_are_a_choice():
    lesson = load_lesson("04_wide_deep")
    model = lesson.DeepNet(hidden=[16, 8, 4])
    assert [layer.in_features for layer in model.layers] == [8, 16, 8, 4]
    assert model(torch.zeros(5, 8)).shape == (5, 1)


# ----------------------------------------------------------------------------- 05 DataLoader


@pytest.mark.parametrize("workers", [0, 2])
def test_05_loader_covers_every_sample_once_per_epoch(workers):
    lesson = load_lesson("05_dataloader")
    dataset = lesson.DiabetesDataset(kit.data_file(kit.DIABETES))
    loader = lesson.make_loader(dataset, batch_size=32, workers=workers, seed=0)
    orders = []
    for _ in range(2):
        seen = [index for _, _, batch in loader for index in batch.tolist()]
        assert sorted(seen) == list(range(768))
        orders.append(seen)
    assert len(loader) == math.ceil(768 / 32) == 24
    assert orders[0] != orders[1]  # shuffled anew each epoch


@pytest.mark.parametrize("workers", ["0", "2"])
def test_05_trains_in_mini_batches(workers):
    result = load_lesson("05_dataloader").main([*QUICK, "--workers", workers])
    assert result["batches_per_epoch"] == result["expected_batches"] == 18
    assert result["each_sample_once_per_epoch"]
    assert result["loss_last"] < result["loss_first"] / 1.3
    assert result["test_accuracy"] >= LEARNED


# ----------------------------------------------------------------------------- shared behaviour


def test_same_seed_same_numbers():
    lesson = load_lesson("04_wide_deep")
    assert lesson.main(QUICK) == lesson.main(QUICK)
    assert lesson.main(QUICK)["loss_last"] != lesson.main([*QUICK, "--seed", "1"])["loss_last"]


def test_figures_are_written_as_png(tmp_path):
    load_lesson("02_linear_regression").main(["--quick", "--figures", str(tmp_path)])
    png = tmp_path / "02_training_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))
