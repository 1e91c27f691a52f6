"""Lesson 06: softmax and cross-entropy worked by hand, then a fully connected MNIST classifier.

No timing is asserted here (bench/ checks speed and the full-length accuracy targets). The quick run
trains one epoch on 10,000 images. Its accuracy threshold of 80% is eight times chance (10% for ten
digits): a model that learns nothing, or labels shuffled against their images, stays near 10%, while the
quick runs measured 90-94%, so 80% leaves room for other seeds, thread counts and CPUs without letting a
bug through. Tests of flags and numbers run on a few hundred images (`few_images`): they check what a
flag does, not how well the model learns.
"""

import contextlib
import io
import math
import re

import lesson_tools as kit

import pytest
import torch
import torch.nn.functional as F
from conftest import frozen_optimizer, inputs_seen, load_lesson, masked, quick, real_picture, tiny_loader
from torch.utils.data import TensorDataset

LESSON = "06_softmax_mnist"
QUICK_THRESHOLD = 80.0
EPOCH_LINE = re.compile(
    r"^   epoch +(\d+)/(\d+)   train loss ([\d.]+)   test loss ([\d.]+)   test accuracy ([\d.]+)%   [\d.]+ s$"
)
# lecture 9's transforms.Normalize((0.1307,), (0.3081,)), written out here rather than read from the lesson
LECTURE_MEAN, LECTURE_STD = 0.1307, 0.3081


SMALL = {}  # train -> the few images, read once per session


def few_images(monkeypatch):
    """The lesson, reading 512 training and 500 test images: for tests of flags, not of learning."""
    module = load_lesson(LESSON)
    original = module.load_mnist

    def small(train, limit=None):
        if train not in SMALL:
            SMALL[train] = original(train, 512 if train else 500)
        return SMALL[train]

    monkeypatch.setattr(module, "load_mnist", small)
    return module


def run(*flags):
    """main() without figures and without --quick (which would fix the epochs at 1), and what it printed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        results = load_lesson(LESSON).main(["--no-figures", *flags])
    return results, output.getvalue().splitlines()


def mnist_test_set():
    """The t10k images as the lecture prepares them (ToTensor, then Normalize), and their labels."""
    from torchvision import datasets

    dataset = datasets.MNIST(kit.mnist_root(), train=False)
    return ((dataset.data.float() / 255 - LECTURE_MEAN) / LECTURE_STD).unsqueeze(1), dataset.targets


def softmax(logits):
    exps = [math.exp(v) for v in logits]
    return [e / sum(exps) for e in exps]


def numbers(text):
    return [float(v) for v in re.findall(r"-?\d+\.\d+", text)]


def epoch_lines(lines):
    return [EPOCH_LINE.match(line).groups() for line in lines if EPOCH_LINE.match(line)]


# ----------------------------------------------------------------------------- the worked example


def test_the_worked_example_prints_the_lectures_losses_as_computed_by_hand(printed, trained):
    """Every number of part 1 recomputed in plain floats from the lecture's logits (09_01_softmax_loss.py):
    the softmax, the prediction, the loss of the true class by hand and by nn.CrossEntropyLoss, the verdict
    that the wrong guess costs more, and the batch losses as the mean over the rows."""
    lines = printed(LESSON)
    part = lines[lines.index("1) Softmax and cross-entropy, worked by hand (lecture 9)") + 1 :]
    assert part[0].startswith("   Y = [0]: the true class")  # 09_01's target, class 0
    losses = {}
    for name, logits in (("Y_pred1", [2.0, 1.0, 0.1]), ("Y_pred2", [0.5, 2.0, 0.3])):
        line = next(line for line in part if line.startswith(f"   {name} = "))
        shown = numbers(line)
        p = softmax(logits)
        loss = -math.log(p[0])  # the true class is 0
        assert shown[:3] == logits and shown[3:6] == pytest.approx(p, abs=5e-4)
        assert f"predicts {p.index(max(p))};" in line
        assert shown[6] == pytest.approx(p[0], abs=5e-4)  # -log(probability of the true class)
        assert shown[7] == pytest.approx(loss, abs=5e-5) and shown[8] == pytest.approx(loss, abs=5e-5)
        losses[name] = loss
    verdict = next(line for line in part if "costs more" in line)
    assert "wrong guess costs more" in verdict and losses["Y_pred2"] > losses["Y_pred1"]
    batch = next(line for line in part if line.startswith("   a batch of 3, Y = [2, 0, 1]:"))
    targets = [2, 0, 1]
    rows1 = [[0.1, 0.2, 0.9], [1.1, 0.1, 0.2], [0.2, 2.1, 0.1]]
    rows2 = [[0.8, 0.2, 0.3], [0.2, 0.3, 0.5], [0.2, 0.2, 0.5]]
    means = [sum(-math.log(softmax(r)[t]) for r, t in zip(rows, targets)) / 3 for rows in (rows1, rows2)]
    assert numbers(batch) == pytest.approx(means, abs=5e-5)
    assert "(Y_pred1 predicts [2, 0, 1])" in batch and "(Y_pred2 predicts [0, 2, 2])" in batch
    worked = trained(LESSON)[0]["worked_example"]  # what main() returns is what it printed
    assert worked["Y_pred1"] == pytest.approx((losses["Y_pred1"],) * 2, abs=1e-6)
    assert worked["batch"] == pytest.approx(means, abs=1e-6)


# ----------------------------------------------------------------------------- the quick run, as printed


def test_quick_learns_well_above_chance(trained):
    result, _, figures = trained(LESSON)
    assert result["test_accuracy"] > QUICK_THRESHOLD
    assert result["history"][-1]["train_loss"] < math.log(10)  # below a uniform guess
    assert real_picture(figures / "06_softmax_mnist_curves.png")


def test_every_printed_number_of_the_quick_run_is_what_was_computed(printed, trained):
    """The data sizes, the network, the epochs and batches announced, and each epoch's numbers: the test
    loss and accuracy recounted here from the returned model on the t10k images (the lecture's average
    loss per image, summed then divided)."""
    lines = printed(LESSON)
    result, path, figures = trained(LESSON)
    model = result["model"].eval()
    assert "   10,000 training and 10,000 test images" in lines  # --quick: a sixth of the 60,000
    shown_layers = [
        tuple(map(int, found))
        for found in re.findall(r"in_features=(\d+), out_features=(\d+)", "\n".join(lines))
    ]
    assert shown_layers == [(784, 512), (512, 256), (256, 10)]
    assert [
        (m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)
    ] == shown_layers
    assert (
        "3) Training: 1 epoch(s) (--quick; the full run has 4) of 40 batches of 256" in lines
    )  # ceil(10,000 / 256)
    assert result["batches_per_epoch"] == 40
    ((epoch, of, train_loss, test_loss, accuracy),) = epoch_lines(lines)
    assert (epoch, of) == ("1", "1")
    row = result["history"][0]
    assert [float(train_loss), float(test_loss)] == pytest.approx(
        [row["train_loss"], row["test_loss"]], abs=5e-5
    )
    images, labels = mnist_test_set()
    with torch.no_grad():
        scores = torch.cat([model(batch) for batch in images.split(1000)])
    assert float(test_loss) == pytest.approx(F.cross_entropy(scores, labels).item(), abs=2e-4)
    assert float(accuracy) == pytest.approx(
        100.0 * (scores.argmax(1) == labels).float().mean().item(), abs=0.02
    )
    assert f"checkpoint: {path}" in lines and f"figure: {figures / '06_softmax_mnist_curves.png'}" in lines


def test_the_curves_figure_shows_each_epoch_from_1(trained):
    """The figure main() saved: the training loss and test accuracy of each epoch, at epochs 1, 2, ..."""
    result, _, _ = trained(LESSON)
    loss_ax, accuracy_ax = result["figures"]["curves"].axes
    history = result["history"]
    for ax, key in ((loss_ax, "train_loss"), (accuracy_ax, "test_accuracy")):
        (line,) = ax.get_lines()
        assert list(line.get_xdata()) == list(range(1, len(history) + 1))
        assert list(line.get_ydata()) == [row[key] for row in history]


def test_the_same_seed_prints_the_same_lines_and_the_flags_show_in_them(monkeypatch):
    """--epochs 3 prints 3 epochs and says 3; --batch-size 100 makes ceil(512 / 100) batches; the same
    --seed prints the same lines twice (the worked example included), another seed other numbers."""
    few_images(monkeypatch)
    flags = ["--epochs", "3", "--batch-size", "100"]
    result, lines = run(*flags)
    again, lines_again = run(*flags)
    other, _ = run(*flags, "--seed", "1")
    assert masked(lines) == masked(lines_again)
    assert "3) Training: 3 epoch(s) of 6 batches of 100" in lines and result["batches_per_epoch"] == 6
    assert [row[:2] for row in epoch_lines(lines)] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3]
    assert other["history"][0]["train_loss"] != result["history"][0]["train_loss"]


# ----------------------------------------------------------------------------- --lecture


def test_lecture_trains_the_lectures_network_with_its_sgd_and_batches(monkeypatch, course_in):
    """--lecture: the line that lists what it changed comes first; then 09_2's network (784-520-320-240-120-10
    with ReLUs, l1..l5), SGD with lr 0.01 and momentum 0.5 and no schedule, batches of 64, the mean
    cross-entropy, and 9 epochs announced (--quick trains 1). A bare --save and the figure carry
    "_lecture" in their names: the default run's files stay as they were."""
    few_images(monkeypatch)
    load_lesson(LESSON).main(["--quick", "--no-figures", "--save"])
    default = (course_in / "checkpoints" / "06_softmax_mnist.pt").read_bytes()
    names = []  # the figures' names, recorded instead of drawing them (drawing is slow)
    monkeypatch.setattr(kit, "save_figure", lambda fig, name, args: names.append(name))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = load_lesson(LESSON).main(["--quick", "--lecture", "--save"])
    lines = output.getvalue().splitlines()
    assert lines[0].startswith(
        "--lecture, the lecture code's settings: epochs 9 (not 4); lr 0.01 (not 0.003);"
    )
    assert "batch size 64 (not 256)" in lines[0] and "optimizer SGD, momentum 0.5" in lines[0]
    model, optimizer, criterion = result["model"], result["optimizer"], result["criterion"]
    layers = dict(model.named_children())
    assert list(layers) == ["l1", "l2", "l3", "l4", "l5"] and type(model).__name__ == "LectureNet"
    sizes = [(784, 520), (520, 320), (320, 240), (240, 120), (120, 10)]
    assert [(m.in_features, m.out_features) for m in layers.values()] == sizes
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        h = x.reshape(5, 784)
        for layer in list(layers.values())[:-1]:
            h = (h @ layer.weight.T + layer.bias).clamp(min=0)
        expected = h @ model.l5.weight.T + model.l5.bias
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-4)
    assert type(optimizer) is torch.optim.SGD
    (group,) = optimizer.param_groups
    assert group["lr"] == 0.01 and group["momentum"] == 0.5  # still 0.01 after training: no schedule
    assert all("momentum_buffer" in optimizer.state[p] for p in model.parameters())  # SGD's momentum was used
    y = torch.tensor([3, 1, 4, 1, 5])
    with torch.no_grad():
        scores = model(x)
    mean_loss = -scores.log_softmax(1)[range(5), y].mean().item()
    assert criterion(scores, y).item() == pytest.approx(mean_loss, rel=1e-5)
    assert result["batches_per_epoch"] == math.ceil(512 / 64)
    assert "3) Training: 1 epoch(s) (--quick; the full run has 9) of 8 batches of 64" in lines
    assert (course_in / "checkpoints" / "06_softmax_mnist.pt").read_bytes() == default
    saved = course_in / "checkpoints" / "06_softmax_mnist_lecture.pt"
    assert names == ["06_softmax_mnist_lecture_curves"]
    assert sorted(p.name for p in (course_in / "checkpoints").iterdir()) == [
        "06_softmax_mnist.pt",
        saved.name,
    ]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        reloaded = load_lesson(LESSON).main(["--no-figures", "--load", str(saved)])  # no --lecture needed
    assert reloaded["lecture"] and reloaded["test_accuracy"] == pytest.approx(
        result["test_accuracy"], abs=1e-9
    )
    assert output.getvalue().strip() == (  # the line names the network the checkpoint holds
        f"Loaded {saved} (the lecture's LectureNet): test loss {reloaded['test_loss']:.4f}, "
        f"test accuracy {reloaded['test_accuracy']:.2f}%"
    )


# ----------------------------------------------------------------------------- the model, the data


def test_net_is_two_relu_layers_and_raw_scores_computed_by_hand():
    torch.manual_seed(0)
    model = load_lesson(LESSON).Net()
    x = torch.randn(8, 1, 28, 28)
    h = (x.reshape(8, 784) @ model.l1.weight.T + model.l1.bias).clamp(min=0)
    h = (h @ model.l2.weight.T + model.l2.bias).clamp(min=0)
    expected = h @ model.l3.weight.T + model.l3.bias  # no softmax: CrossEntropyLoss applies it
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-4)
    after_relu = inputs_seen(model, [model.l2, model.l3], x)
    assert after_relu.min() == 0 and (after_relu == 0).any()


def test_mnist_images_are_normalised_as_the_lectures_slides_do():
    images, labels = load_lesson(LESSON).load_mnist(train=True).tensors
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.float32
    assert images.mean().item() == pytest.approx(0.0, abs=0.01)
    assert images.std().item() == pytest.approx(1.0, abs=0.01)
    assert images.min().item() == pytest.approx(-LECTURE_MEAN / LECTURE_STD, abs=1e-5)
    assert labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, _ = load_lesson(LESSON).load_mnist(train=False).tensors
    torch.testing.assert_close(test_images, mnist_test_set()[0])  # the t10k files, not the training ones


def test_epoch_loss_is_the_mean_over_images_and_test_counts_right():
    """train() and test() on 10 hand-made images in batches of 4, 4 and 2, with weights that do not move:
    the epoch's loss must be the mean over the 10 images, not the mean of the 3 batch means."""
    module = load_lesson(LESSON)
    torch.manual_seed(0)
    model = module.Net()
    loader = tiny_loader()
    images, labels = loader.dataset.tensors
    with torch.no_grad():
        scores = model(images)
    expected_loss = -scores.log_softmax(dim=1)[range(10), labels].mean().item()
    expected_accuracy = 100.0 * sum(scores[i].argmax().item() == labels[i].item() for i in range(10)) / 10
    criterion = torch.nn.CrossEntropyLoss()
    loss = module.train(model, torch.device("cpu"), loader, criterion, *frozen_optimizer(model))
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    test_loss, accuracy = module.test(model, torch.device("cpu"), loader, criterion)
    assert test_loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == pytest.approx(expected_accuracy)


def test_test_accuracy_comes_from_the_test_images(monkeypatch):
    # The test images get their neighbour's label: a model tested on them scores about 10%, whereas the
    # training images it saw would still give it far more (measured: over 60% after 512 images).
    module = few_images(monkeypatch)
    small = module.load_mnist

    def relabelled(train, limit=None):
        data = small(train, limit)
        return data if train else TensorDataset(data.tensors[0], data.tensors[1].roll(1))

    monkeypatch.setattr(module, "load_mnist", relabelled)
    assert run("--epochs", "2")[0]["test_accuracy"] < 30
    monkeypatch.setattr(module, "load_mnist", small)
    assert run("--epochs", "2")[0]["test_accuracy"] > 50  # the same run with the true labels


def test_the_learning_rate_flag_sets_the_step(monkeypatch):
    # With a learning rate near 0 the test loss stays at a blind guess's, ln(10) = 2.30; with the
    # lesson's own it falls well below (measured: about 1.0 after 2 epochs of 512 images).
    few_images(monkeypatch)
    frozen = run("--epochs", "2", "--batch-size", "64", "--lr", "1e-9")[0]["test_loss"]
    learning = run("--epochs", "2", "--batch-size", "64")[0]["test_loss"]
    assert frozen > 2.0 and learning < 1.8


# ----------------------------------------------------------------------------- files and errors


def test_checkpoint_reloads_with_the_same_accuracy(trained, capsys):
    result, path, _ = trained(LESSON)
    reloaded = load_lesson(LESSON).main(["--no-figures", "--load", str(path)])
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)
    assert not reloaded["lecture"]
    printed_line = capsys.readouterr().out.strip()
    assert printed_line == (
        f"Loaded {path} (Net): test loss {result['test_loss']:.4f}, test accuracy {result['test_accuracy']:.2f}%"
    )


def test_a_diverging_run_ends_with_a_clear_message(monkeypatch):
    few_images(monkeypatch)
    with pytest.raises(kit.LessonError, match="diverged"):
        quick(LESSON, "--lr", "1e6")


def test_no_figures_writes_none_and_show_opens_each(monkeypatch, course_in, capsys):
    import matplotlib.pyplot as plt

    few_images(monkeypatch)
    load_lesson(LESSON).main(["--quick", "--no-figures"])
    assert not (course_in / "figures").exists() and "figure:" not in capsys.readouterr().out
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    load_lesson(LESSON).main(["--quick", "--show"])
    written = sorted((course_in / "figures").glob("*.png"))
    assert written and len(shown) == len(written)
