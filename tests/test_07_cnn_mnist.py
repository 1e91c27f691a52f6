"""Lesson 07: a CNN for MNIST (lecture 10) and the inception network (lecture 11, --inception).

No timing is asserted here (bench/ checks speed and the full-length accuracy targets). The quick run
trains one epoch on 6,000 images. Its accuracy threshold of 80% is eight times chance (10% for ten
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
from conftest import frozen_optimizer, inputs_seen, load_lesson, masked, real_picture, tiny_loader
from torch.utils.data import TensorDataset

LESSON = "07_cnn_mnist"
QUICK_THRESHOLD = 80.0
EPOCH_LINE = re.compile(
    r"^   epoch +(\d+)/(\d+)   train loss ([\d.]+)   test loss ([\d.]+)   test accuracy ([\d.]+)%   [\d.]+ s$"
)
# lecture 9's transforms.Normalize((0.1307,), (0.3081,)), written out here rather than read from the lesson
LECTURE_MEAN, LECTURE_STD = 0.1307, 0.3081


SMALL = {}  # (train, normalise) -> the few images, read once per session


def few_images(monkeypatch):
    """The lesson, reading 512 training and 500 test images: for tests of flags, not of learning."""
    module = load_lesson(LESSON)
    original = module.load_mnist

    def small(train, limit=None, normalise=True):
        if (train, normalise) not in SMALL:
            SMALL[train, normalise] = original(train, 512 if train else 500, normalise)
        return SMALL[train, normalise]

    monkeypatch.setattr(module, "load_mnist", small)
    return module


def figure_names(monkeypatch):
    """The names main() gives the figures it saves, recorded instead of drawing them (drawing is slow)."""
    names = []
    monkeypatch.setattr(kit, "save_figure", lambda fig, name, args: names.append(name))
    return names


def run(*flags):
    """main() with the flags given, and the lines it printed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        results = load_lesson(LESSON).main(list(flags))
    return results, output.getvalue().splitlines()


def conv_pool_relu(conv, x):
    """One of the lecture's CNN stages by hand: convolution, 2x2 max pooling, then ReLU."""
    return F.max_pool2d(F.conv2d(x, conv.weight, conv.bias), 2).clamp(min=0)


def cnn_by_hand(model, x):
    """The lecture's CNN by hand: two stages, flattened, then the linear layer (raw scores)."""
    h = conv_pool_relu(model.conv2, conv_pool_relu(model.conv1, x))
    return h.flatten(1) @ model.fc.weight.T + model.fc.bias


def raw_test_pixels():
    """The t10k images as pixels in [0, 1] (the lecture's ToTensor), and their labels."""
    from torchvision import datasets

    dataset = datasets.MNIST(kit.mnist_root(), train=False)
    return dataset.data.float() / 255, dataset.targets


def epoch_lines(lines):
    return [EPOCH_LINE.match(line).groups() for line in lines if EPOCH_LINE.match(line)]


def record_inputs(monkeypatch, module):
    """Every image batch the models main() builds receive, as (smallest, largest) pixel values."""
    seen = []
    build = module.build_model

    def recording(*args, **kwargs):
        model = build(*args, **kwargs)
        model.register_forward_pre_hook(lambda _, inputs: seen.append((inputs[0].min(), inputs[0].max())))
        return model

    monkeypatch.setattr(module, "build_model", recording)
    return seen


# ----------------------------------------------------------------------------- the quick run, as printed


def test_quick_learns_and_draws_its_figures(trained):
    result, _, figures = trained(LESSON)
    assert result["test_accuracy"] > QUICK_THRESHOLD and not result["inception"]
    assert real_picture(figures / "07_cnn_mnist_curves.png")
    assert real_picture(figures / "07_cnn_mnist_mistakes.png")
    assert not list(figures.glob("*.tmp"))


def test_every_printed_number_of_the_quick_run_is_what_was_computed(printed, trained):
    """The data sizes, every layer's output shape (worked out by hand: 28 - 5 + 1 = 24, pooled 12;
    12 - 5 + 1 = 8, pooled 4; 20 x 4 x 4 = 320 -> 10), the epochs and batches announced, each epoch's
    numbers, and the files written."""
    lines = printed(LESSON)
    result, path, figures = trained(LESSON)
    assert "   6,000 training and 10,000 test images" in lines  # --quick: a tenth of the 60,000
    start = lines.index("2) The output shape of every layer, for a batch of 4 images: watch 28x28 shrink")
    shapes = [line.split(None, 1) for line in lines[start + 1 : lines.index("", start)]]
    assert [(name, shape.split("   ")[0]) for name, shape in shapes] == [
        ("input", "(4, 1, 28, 28)"),
        ("conv1", "(4, 10, 24, 24)"),
        ("mp", "(4, 10, 12, 12)"),
        ("conv2", "(4, 20, 8, 8)"),
        ("mp", "(4, 20, 4, 4)"),
        ("fc", "(4, 10)"),
    ]
    assert "3) Training: 1 epoch(s) (--quick; the full run has 4) of 47 batches of 128" in lines  # 6000 / 128
    assert result["batches_per_epoch"] == math.ceil(6000 / 128)
    ((epoch, of, train_loss, test_loss, accuracy),) = epoch_lines(lines)
    row = result["history"][0]
    assert (epoch, of) == ("1", "1") and row["epoch"] == 1
    assert [float(train_loss), float(test_loss), float(accuracy)] == pytest.approx(
        [row["train_loss"], row["test_loss"], row["test_accuracy"]], abs=5e-3
    )
    assert f"{row['test_accuracy']:.2f}" == accuracy and f"{row['test_loss']:.4f}" == test_loss
    assert f"checkpoint: {path}" in lines
    for name in ("curves", "mistakes"):
        assert f"figure: {figures / f'07_cnn_mnist_{name}.png'}" in lines


def test_the_mistakes_figure_shows_only_mistakes_titled_predicted_true(trained):
    """Each digit drawn is a test image (found here by its pixels) that the returned model gets wrong,
    titled 'predicted (true)' with the model's prediction and the image's label; the title's count of
    mistakes is the one the printed accuracy implies."""
    result, _, _ = trained(LESSON)
    fig = result["figures"]["mistakes"]
    pixels, labels = raw_test_pixels()
    flat = pixels.flatten(1)
    model = result["model"].eval()
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(drawn) == 24
    for ax in drawn:
        image = torch.as_tensor(ax.get_images()[0].get_array().data).float().flatten()
        gaps = (flat - image).abs().amax(dim=1)
        index = gaps.argmin().item()
        assert gaps[index] < 1e-4  # the picture is a test image, as pixels in [0, 1]
        predicted, true = map(int, re.fullmatch(r"(\d) \((\d)\)", ax.get_title()).groups())
        assert true == labels[index].item()
        with torch.no_grad():
            normalised = (pixels[index] - LECTURE_MEAN) / LECTURE_STD
            assert model(normalised.view(1, 1, 28, 28)).argmax().item() == predicted != true
    mistakes = round(10_000 * (1 - result["test_accuracy"] / 100))
    assert fig.get_suptitle() == f"Misclassified test digits: predicted (true), 24 of {mistakes}"


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
    --seed prints the same lines twice, another seed other numbers. The images are normalised as lecture
    9's slides do."""
    module = few_images(monkeypatch)
    seen = record_inputs(monkeypatch, module)
    flags = ["--no-figures", "--epochs", "3", "--batch-size", "100"]
    result, lines = run(*flags)
    again, lines_again = run(*flags)
    other, _ = run(*flags, "--seed", "1")
    assert masked(lines) == masked(lines_again)
    assert "3) Training: 3 epoch(s) of 6 batches of 100" in lines and result["batches_per_epoch"] == 6
    assert [row[:2] for row in epoch_lines(lines)] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3]
    assert other["history"][0]["train_loss"] != result["history"][0]["train_loss"]
    assert min(low for low, _ in seen) == pytest.approx(-LECTURE_MEAN / LECTURE_STD, abs=1e-5)


# ----------------------------------------------------------------------------- --lecture and --inception


def test_lecture_trains_with_log_softmax_nll_sgd_batches_of_64_and_raw_pixels(monkeypatch, course_in):
    """--lecture: the line that lists what it changed comes first; then 10_1's CNN ending in log_softmax
    with the NLL loss (the mean), SGD with lr 0.01 and momentum 0.5 and no schedule, batches of 64, pixels
    in [0, 1], 9 epochs announced (--quick trains 1). Its files carry "_lecture": the default run's stay."""
    module = few_images(monkeypatch)
    load_lesson(LESSON).main(["--quick", "--no-figures", "--save"])
    default = (course_in / "checkpoints" / "07_cnn_mnist.pt").read_bytes()
    seen, names = record_inputs(monkeypatch, module), figure_names(monkeypatch)
    result, lines = run("--quick", "--lecture", "--save")
    assert lines[0].startswith(
        "--lecture, the lecture code's settings: epochs 9 (not 4); lr 0.01 (not 0.008);"
    )
    assert "batch size 64 (not 128)" in lines[0] and "optimizer SGD, momentum 0.5" in lines[0]
    assert "loss F.log_softmax in the model, then F.nll_loss" in lines[0] and "pixels in [0, 1]" in lines[0]
    model, optimizer, criterion = result["model"].eval(), result["optimizer"], result["criterion"]
    x, y = torch.rand(5, 1, 28, 28), torch.tensor([3, 1, 4, 1, 5])
    with torch.no_grad():
        log_probabilities, raw = model(x), cnn_by_hand(model, x)
    torch.testing.assert_close(log_probabilities, raw.log_softmax(dim=1), atol=1e-4, rtol=1e-4)
    mean_loss = -raw.log_softmax(1)[range(5), y].mean().item()
    assert criterion(log_probabilities, y).item() == pytest.approx(mean_loss, rel=1e-4)
    assert type(optimizer) is torch.optim.SGD
    (group,) = optimizer.param_groups
    assert group["lr"] == 0.01 and group["momentum"] == 0.5  # still 0.01 after training: no schedule
    assert all("momentum_buffer" in optimizer.state[p] for p in model.parameters())
    assert result["batches_per_epoch"] == math.ceil(512 / 64)
    assert "3) Training: 1 epoch(s) (--quick; the full run has 9) of 8 batches of 64" in lines
    assert min(low for low, _ in seen) == 0.0 and max(high for _, high in seen) == 1.0  # ToTensor alone
    assert (course_in / "checkpoints" / "07_cnn_mnist.pt").read_bytes() == default
    assert names == ["07_cnn_mnist_lecture_curves", "07_cnn_mnist_lecture_mistakes"]
    assert sorted(p.name for p in (course_in / "checkpoints").iterdir()) == [
        "07_cnn_mnist.pt",
        "07_cnn_mnist_lecture.pt",
    ]
    saved = course_in / "checkpoints" / "07_cnn_mnist_lecture.pt"
    reloaded = load_lesson(LESSON).main(["--no-figures", "--load", str(saved)])  # no --lecture needed
    assert reloaded["lecture"] and not reloaded["inception"]
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)
    assert reloaded["test_loss"] == pytest.approx(result["test_loss"], rel=1e-5)


def test_inception_builds_it_and_names_its_files_for_it(monkeypatch, course_in, capsys):
    few_images(monkeypatch)
    names = figure_names(monkeypatch)
    result = load_lesson(LESSON).main(["--quick", "--inception", "--save"])
    printed = capsys.readouterr().out
    assert result["inception"] and "incept1.branch5x5_2" in printed and "(4, 88, 12, 12)" in printed
    assert [p.name for p in (course_in / "checkpoints").iterdir()] == ["07_cnn_mnist_inception.pt"]
    assert names == ["07_cnn_mnist_inception_curves", "07_cnn_mnist_inception_mistakes"]
    saved = course_in / "checkpoints" / "07_cnn_mnist_inception.pt"
    reloaded = load_lesson(LESSON).main(["--no-figures", "--load", str(saved)])  # the checkpoint knows
    assert reloaded["inception"] and reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"])


# ----------------------------------------------------------------------------- the models, the data


def test_cnn_is_conv_pool_relu_twice_then_linear_computed_by_hand(capsys):
    cnn = load_lesson(LESSON)
    torch.manual_seed(0)
    model = cnn.build_model(False, torch.device("cpu"))  # as the lesson builds it: channels_last on a CPU
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cnn_by_hand(model, x), atol=1e-4, rtol=1e-4)
    cnn.show_shapes(model, x[:2])
    printed = capsys.readouterr().out
    for shape in [
        "(2, 1, 28, 28)",
        "(2, 10, 24, 24)",
        "(2, 10, 12, 12)",
        "(2, 20, 8, 8)",
        "(2, 20, 4, 4)",
        "(2, 10)",
    ]:
        assert shape in printed
    after_relu = inputs_seen(model, [model.conv2, model.fc], x)
    assert after_relu.min() == 0 and (after_relu == 0).any()  # both ReLUs are there


def test_inception_module_is_the_lectures_computed_by_hand():
    cnn = load_lesson(LESSON)
    torch.manual_seed(0)
    block = cnn.InceptionA(in_channels=10)
    branches = {name: (m.in_channels, m.out_channels, m.kernel_size) for name, m in block.named_children()}
    assert branches == {
        "branch1x1": (10, 16, (1, 1)),
        "branch5x5_1": (10, 16, (1, 1)),
        "branch5x5_2": (16, 24, (5, 5)),
        "branch3x3dbl_1": (10, 16, (1, 1)),
        "branch3x3dbl_2": (16, 24, (3, 3)),
        "branch3x3dbl_3": (24, 24, (3, 3)),
        "branch_pool": (10, 24, (1, 1)),
    }
    x = torch.randn(2, 10, 12, 12)

    def conv(name, h, padding=0):
        layer = getattr(block, name)
        return F.conv2d(h, layer.weight, layer.bias, padding=padding)

    expected = torch.cat(
        [
            conv("branch1x1", x),
            conv("branch5x5_2", conv("branch5x5_1", x), padding=2),
            conv("branch3x3dbl_3", conv("branch3x3dbl_2", conv("branch3x3dbl_1", x), padding=1), padding=1),
            conv("branch_pool", F.avg_pool2d(x, 3, stride=1, padding=1)),
        ],
        dim=1,
    )
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected, atol=1e-4, rtol=1e-4)
    assert expected.shape == (2, 88, 12, 12)  # 16 + 24 + 24 + 24 channels, the height and width kept


def test_inception_net_is_the_lectures_computed_by_hand():
    cnn = load_lesson(LESSON)
    torch.manual_seed(0)
    model = cnn.InceptionNet()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        h = model.incept1(conv_pool_relu(model.conv1, x))  # InceptionA is computed by hand above
        h = model.incept2(conv_pool_relu(model.conv2, h))
        expected = h.reshape(2, 1408) @ model.fc.weight.T + model.fc.bias
        torch.testing.assert_close(model(x), expected, atol=1e-4, rtol=1e-4)
        lecture = cnn.InceptionNet(log_softmax=True)
        lecture.load_state_dict(model.state_dict())
        torch.testing.assert_close(lecture(x), expected.log_softmax(dim=1), atol=1e-4, rtol=1e-4)


def test_images_are_normalised_and_with_lecture_only_scaled():
    module = load_lesson(LESSON)
    pixels, labels = raw_test_pixels()
    normalised, normalised_labels = module.load_mnist(train=False).tensors
    torch.testing.assert_close(normalised[:, 0], (pixels - LECTURE_MEAN) / LECTURE_STD)
    assert normalised_labels.equal(labels)  # the t10k files, not the training ones
    plain, _ = module.load_mnist(train=False, normalise=False).tensors
    torch.testing.assert_close(plain[:, 0], pixels)


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

    def relabelled(train, limit=None, normalise=True):
        data = small(train, limit, normalise)
        return data if train else TensorDataset(data.tensors[0], data.tensors[1].roll(1))

    monkeypatch.setattr(module, "load_mnist", relabelled)
    assert run("--no-figures", "--epochs", "2")[0]["test_accuracy"] < 30
    monkeypatch.setattr(module, "load_mnist", small)
    assert run("--no-figures", "--epochs", "2")[0]["test_accuracy"] > 50  # the same run with the true labels


def test_the_learning_rate_flag_sets_the_step(monkeypatch):
    # With a learning rate near 0 the test loss stays at a blind guess's, ln(10) = 2.30; with the
    # lesson's own it falls well below (measured: about 1.0 after 2 epochs of 512 images).
    few_images(monkeypatch)
    frozen = run("--no-figures", "--epochs", "2", "--batch-size", "64", "--lr", "1e-9")[0]["test_loss"]
    learning = run("--no-figures", "--epochs", "2", "--batch-size", "64")[0]["test_loss"]
    assert frozen > 2.0 and learning < 1.8


# ----------------------------------------------------------------------------- files and errors


def test_checkpoint_reloads_with_the_same_accuracy(trained, capsys):
    result, path, _ = trained(LESSON)
    reloaded = load_lesson(LESSON).main(["--no-figures", "--load", str(path)])
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)
    assert not reloaded["inception"] and not reloaded["lecture"]
    assert capsys.readouterr().out.strip() == (
        f"Loaded {path} (CNN): test loss {result['test_loss']:.4f}, test accuracy {result['test_accuracy']:.2f}%"
    )


def test_a_checkpoint_of_another_lesson_is_refused(tmp_path):
    path = kit.save_checkpoint(tmp_path / "other.pt", "06_softmax_mnist", torch.nn.Linear(784, 10))
    with pytest.raises(kit.LessonError, match="belongs to 06_softmax_mnist"):
        load_lesson(LESSON).main(["--no-figures", "--load", str(path)])


def test_no_figures_writes_none_and_show_opens_each(monkeypatch, course_in, capsys):
    import matplotlib.pyplot as plt

    few_images(monkeypatch)
    load_lesson(LESSON).main(["--quick", "--no-figures"])
    assert not (course_in / "figures").exists() and "figure:" not in capsys.readouterr().out
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    load_lesson(LESSON).main(["--quick", "--show"])
    written = sorted((course_in / "figures").glob("*.png"))
    assert len(written) == 2 and len(shown) == len(written)
