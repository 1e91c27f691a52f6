"""Lessons 06 (softmax), 07 (CNN, inception) and 12 (DDP) on MNIST.

No timing is asserted here (bench/benchmark.py checks speed and the full-length accuracy targets).
The quick runs train one epoch on 10,000 (06) or 6,000 (07, 12) images. Their accuracy threshold of 80%
is eight times chance (10% for ten digits): a model that learns nothing, or labels shuffled against
their images, stays near 10%, while the quick runs measured 90-94%, so 80% leaves room for other seeds,
thread counts and BLAS libraries without letting a bug through.
"""

import json
import os
import subprocess
import sys

import lesson_tools as kit

import pytest
import torch
from conftest import REPO, inputs_seen, load_lesson, quick
from torch.utils.data import TensorDataset

QUICK_THRESHOLD = 80.0
PNG = b"\x89PNG\r\n\x1a\n"


def real_picture(path):
    """A PNG file that shows something: not empty, not one flat colour."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    pixels = matplotlib.image.imread(path)
    return pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.05


# ----------------------------------------------------------------------------- 06 softmax


def test_worked_softmax_example_matches_cross_entropy_loss():
    by_hand, builtin = load_lesson("06_softmax_mnist").softmax_by_hand()
    expected = -torch.log(torch.tensor(2.0).exp() / torch.tensor([2.0, 1.0, 0.1]).exp().sum()).item()
    assert by_hand == pytest.approx(expected, abs=1e-6) and builtin == pytest.approx(expected, abs=1e-6)


def test_06_quick_learns_well_above_chance(trained):
    result, _, _ = trained("06_softmax_mnist")
    assert result["test_accuracy"] > QUICK_THRESHOLD
    assert result["history"][-1]["train_loss"] < 2.3  # below ln(10), the loss of a uniform guess


def test_06_has_relu_between_its_layers_and_no_softmax_at_the_end():
    torch.manual_seed(0)
    model = load_lesson("06_softmax_mnist").Net()
    x = torch.randn(64, 1, 28, 28)
    hidden = inputs_seen(model, [model.l2, model.l3], x)
    assert hidden.min() == 0 and (hidden == 0).float().mean() > 0.2  # ReLU cuts about half to zero
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (64, 10) and logits.min() < 0  # raw scores, not probabilities


def test_mnist_images_are_normalised_to_mean_0_and_spread_1():
    images, labels = load_lesson("06_softmax_mnist").load_mnist(train=True).tensors
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.float32
    assert images.mean().item() == pytest.approx(0.0, abs=0.01)
    assert images.std().item() == pytest.approx(1.0, abs=0.01)
    assert labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize("lesson", ["06_softmax_mnist", "07_cnn_mnist"])
def test_test_accuracy_comes_from_the_test_images(lesson, monkeypatch):
    # The test images get their neighbour's label: a model tested on them scores about 10%, whereas the
    # training images it saw would still give it 85% or more.
    module = load_lesson(lesson)
    original = module.load_mnist

    def relabelled(train, limit=None):
        data = original(train, limit)
        return data if train else TensorDataset(data.tensors[0], data.tensors[1].roll(1))

    monkeypatch.setattr(module, "load_mnist", relabelled)
    assert quick(lesson)["test_accuracy"] < 30


@pytest.mark.parametrize("lesson", ["06_softmax_mnist", "07_cnn_mnist"])
def test_checkpoint_reloads_with_the_same_accuracy(lesson, trained):
    result, path, _ = trained(lesson)
    reloaded = load_lesson(lesson).main(["--no-figures", "--load", str(path)])
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)


def test_a_checkpoint_of_the_other_lesson_is_refused(trained):
    _, path, _ = trained("06_softmax_mnist")
    with pytest.raises(kit.LessonError, match="belongs to 06_softmax_mnist"):
        load_lesson("07_cnn_mnist").main(["--no-figures", "--load", str(path)])


def test_a_diverging_run_ends_with_a_clear_message():
    with pytest.raises(kit.LessonError, match="diverged"):
        quick("06_softmax_mnist", "--lr", "1e6")


# ----------------------------------------------------------------------------- 07 CNN


def test_07_quick_learns_and_draws_its_figures(trained):
    result, _, figures = trained("07_cnn_mnist")
    assert result["test_accuracy"] > QUICK_THRESHOLD and not result["inception"]
    assert real_picture(figures / "07_cnn_mnist_curves.png")
    assert real_picture(figures / "07_cnn_mnist_mistakes.png")
    assert not list(figures.glob("*.tmp"))


def test_07_shapes_shrink_28x28_to_ten_scores_with_relu_after_each_pooling(capsys):
    cnn = load_lesson("07_cnn_mnist")
    torch.manual_seed(0)
    model = cnn.Net()
    cnn.show_shapes(model, torch.randn(2, 1, 28, 28))
    printed = capsys.readouterr().out
    # 28 - 5 + 1 = 24, pooled 12; 12 - 5 + 1 = 8, pooled 4; 20 maps of 4 x 4 = 320 numbers -> 10 scores
    for shape in [
        "(2, 1, 28, 28)",
        "(2, 10, 24, 24)",
        "(2, 10, 12, 12)",
        "(2, 20, 8, 8)",
        "(2, 20, 4, 4)",
        "(2, 10)",
    ]:
        assert shape in printed
    after_relu = inputs_seen(model, [model.conv2, model.fc], torch.randn(8, 1, 28, 28))
    assert after_relu.min() == 0 and (after_relu == 0).any()  # both ReLUs are there


def test_07_inception_module_is_the_lectures(monkeypatch, capsys):
    cnn = load_lesson("07_cnn_mnist")
    block = cnn.InceptionA(in_channels=10)
    assert block(torch.randn(2, 10, 12, 12)).shape == (2, 88, 12, 12)  # 16 + 24 + 24 + 24 channels
    branches = {name: module.out_channels for name, module in block.named_children()}
    assert branches == {
        "branch1x1": 16,
        "branch5x5_1": 16,
        "branch5x5_2": 24,
        "branch3x3dbl_1": 16,
        "branch3x3dbl_2": 24,
        "branch3x3dbl_3": 24,
        "branch_pool": 24,
    }
    load_mnist = cnn.load_mnist  # the flag is under test here, not the learning: few images suffice
    monkeypatch.setattr(cnn, "load_mnist", lambda train, limit=None: load_mnist(train, 256))
    result = quick("07_cnn_mnist", "--inception")
    printed = capsys.readouterr().out
    assert result["inception"]
    assert "incept1.branch5x5_2" in printed and "(4, 88, 12, 12)" in printed and "(4, 88, 4, 4)" in printed


# ----------------------------------------------------------------------------- 12 DDP


def test_two_processes_train_exactly_like_one(tmp_path, monkeypatch):
    """The global batch split over 2 ranks, with gradients averaged, is the same step as 1 process takes
    with the whole batch: the two runs must end with the same weights, to float rounding. Measured: the
    largest difference is 3e-7; with both ranks reading the same shard it is 0.1."""
    # auto on a Mac picks MPS, which torch.distributed cannot use: the lesson must fall back to the CPU
    lesson = load_lesson("12_ddp_mnist")
    monkeypatch.setattr(kit, "pick_device", lambda name: torch.device("mps"))
    with pytest.raises(kit.LessonError, match="no backend for mps; use --device cpu"):
        quick("12_ddp_mnist", "--device", "mps")
    one = lesson.main(["--quick", "--no-figures", "--save", str(tmp_path / "one.pt")])
    monkeypatch.undo()

    result_file = tmp_path / "two.json"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [
            *torchrun,
            str(REPO / "12_ddp_mnist.py"),
            "--quick",
            "--no-figures",
            "--save",
            str(tmp_path / "two.pt"),
        ],
        cwd=tmp_path,
        env={**os.environ, kit.RESULT_ENV: str(result_file)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    two = json.loads(result_file.read_text())
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["test_accuracy"] > QUICK_THRESHOLD
    weights = [kit.load_checkpoint(tmp_path / f"{n}.pt", "12_ddp_mnist")["model"] for n in ("one", "two")]
    assert max((weights[0][k] - weights[1][k]).abs().max().item() for k in weights[0]) < 1e-4
