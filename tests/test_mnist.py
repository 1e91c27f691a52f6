"""Lessons 06 (softmax), 07 (CNN, inception) and 12 (DDP) on MNIST.

No timing is asserted here (bench/benchmark.py checks speed and the full-length accuracy targets). The
quick runs train one epoch on 10,000 (06) or 6,000 (07, 12) images. Their accuracy threshold of 80% is
eight times chance (10% for ten digits): a model that learns nothing, or labels shuffled against their
images, stays near 10%, while the quick runs measured 90-94%, so 80% leaves room for other seeds,
thread counts and CPUs without letting a bug through. Tests of flags and numbers run on a few hundred
images (the `few_images` fixture): they check what a flag does, not how well the model learns.
"""

import json
import math
import os
import subprocess
import sys

import lesson_tools as kit

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, inputs_seen, load_lesson, quick
from torch.utils.data import DataLoader, TensorDataset

QUICK_THRESHOLD = 80.0
PNG = b"\x89PNG\r\n\x1a\n"
MNIST_LESSONS = ["06_softmax_mnist", "07_cnn_mnist"]


def real_picture(path):
    """A PNG file that shows something: not empty, not one flat colour."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    pixels = matplotlib.image.imread(path)
    return pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.05


@pytest.fixture
def few_images(monkeypatch):
    """06, 07 and 12 read 512 training and 500 test images: for tests of flags, not of learning."""

    def shrink(lesson):
        module = load_lesson(lesson)
        original = module.load_mnist
        monkeypatch.setattr(
            module, "load_mnist", lambda train, limit=None: original(train, 512 if train else 500)
        )
        return module

    return shrink


def run(lesson, *flags):
    """A lesson's main() without figures and without --quick (which would fix the epochs at 1)."""
    return load_lesson(lesson).main(["--no-figures", *flags])


def tiny_loader(n=10, batch_size=4, seed=0):
    """n random images with random labels, in batches of 4, 4 and 2: the last batch is smaller."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size)


def conv_pool_relu(conv, x):
    """One of the lecture's CNN stages by hand: convolution, 2x2 max pooling, then ReLU."""
    return F.max_pool2d(F.conv2d(x, conv.weight, conv.bias), 2).clamp(min=0)


def cnn_by_hand(model, x):
    """Lesson 07's Net (and 12's) by hand: two stages, flattened, then the linear layer."""
    h = conv_pool_relu(model.conv2, conv_pool_relu(model.conv1, x))
    return h.flatten(1) @ model.fc.weight.T + model.fc.bias


def frozen_optimizer(model):
    """An optimizer and a schedule that leave the weights where they are."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


# ----------------------------------------------------------------------------- 06 softmax


def test_worked_softmax_example_is_minus_the_log_of_the_true_class_probability():
    by_hand, builtin = load_lesson("06_softmax_mnist").softmax_by_hand()
    # logits 2.0, 1.0, 0.1 with class 0 true: -log(e^2 / (e^2 + e^1 + e^0.1)), in plain floats
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(1.0) + math.exp(0.1)))
    assert by_hand == pytest.approx(expected, abs=1e-6) and builtin == pytest.approx(expected, abs=1e-6)


def test_06_quick_learns_well_above_chance(trained):
    result, _, figures = trained("06_softmax_mnist")
    assert result["test_accuracy"] > QUICK_THRESHOLD
    assert result["history"][-1]["train_loss"] < math.log(10)  # below a uniform guess
    assert real_picture(figures / "06_softmax_mnist_curves.png")


def test_06_net_is_two_relu_layers_and_raw_scores_computed_by_hand():
    torch.manual_seed(0)
    model = load_lesson("06_softmax_mnist").Net()
    x = torch.randn(8, 1, 28, 28)
    h = (x.reshape(8, 784) @ model.l1.weight.T + model.l1.bias).clamp(min=0)
    h = (h @ model.l2.weight.T + model.l2.bias).clamp(min=0)
    expected = h @ model.l3.weight.T + model.l3.bias  # no softmax: CrossEntropyLoss applies it
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-4)


def test_mnist_images_are_normalised_to_mean_0_and_spread_1():
    images, labels = load_lesson("06_softmax_mnist").load_mnist(train=True).tensors
    assert images.shape == (60_000, 1, 28, 28) and images.dtype == torch.float32
    assert images.mean().item() == pytest.approx(0.0, abs=0.01)
    assert images.std().item() == pytest.approx(1.0, abs=0.01)
    assert labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, _ = load_lesson("07_cnn_mnist").load_mnist(train=False).tensors
    assert test_images.shape == (10_000, 1, 28, 28)  # the t10k files, not the training ones


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_epoch_loss_is_the_mean_over_images_and_test_counts_right(lesson):
    """train() and test() on 10 hand-made images in batches of 4, 4 and 2, with weights that do not move:
    the epoch's loss must be the mean over the 10 images, not the mean of the 3 batch means."""
    module = load_lesson(lesson)
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
    assert test_loss == pytest.approx(expected_loss, rel=1e-5) and accuracy == pytest.approx(
        expected_accuracy
    )


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_test_accuracy_comes_from_the_test_images(lesson, few_images, monkeypatch):
    # The test images get their neighbour's label: a model tested on them scores about 10%, whereas the
    # training images it saw would still give it far more (measured: over 60% after 512 images).
    module = few_images(lesson)
    small = module.load_mnist

    def relabelled(train, limit=None):
        data = small(train, limit)
        return data if train else TensorDataset(data.tensors[0], data.tensors[1].roll(1))

    monkeypatch.setattr(module, "load_mnist", relabelled)
    assert run(lesson, "--epochs", "2")["test_accuracy"] < 30
    monkeypatch.setattr(module, "load_mnist", small)
    assert run(lesson, "--epochs", "2")["test_accuracy"] > 50  # the same run with the true labels


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_epochs_batch_size_and_seed_flags(lesson, few_images):
    few_images(lesson)
    result = run(lesson, "--epochs", "3", "--batch-size", "100")
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3]
    assert result["batches_per_epoch"] == math.ceil(512 / 100)
    again, other = (
        run(lesson, "--epochs", "3", "--batch-size", "100"),
        run(lesson, "--epochs", "3", "--batch-size", "100", "--seed", "1"),
    )
    assert [r["train_loss"] for r in result["history"]] == [r["train_loss"] for r in again["history"]]
    assert other["history"][0]["train_loss"] != result["history"][0]["train_loss"]


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_the_learning_rate_flag_sets_the_step(lesson, few_images):
    # With a learning rate near 0 the test loss stays at a blind guess's, ln(10) = 2.30; with the
    # lesson's own it falls well below (measured: about 1.0 after 2 epochs of 512 images).
    few_images(lesson)
    frozen = run(lesson, "--epochs", "2", "--batch-size", "64", "--lr", "1e-9")["test_loss"]
    learning = run(lesson, "--epochs", "2", "--batch-size", "64")["test_loss"]
    assert frozen > 2.0 and learning < 1.8


def test_quick_trains_one_epoch_on_a_sixth_of_the_images(trained):
    result, _, _ = trained("06_softmax_mnist")
    # 10,000 images in batches of 256, one epoch; without --quick: 60,000 images, 4 epochs
    assert len(result["history"]) == 1 and result["batches_per_epoch"] == math.ceil(10_000 / 256)


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_checkpoint_reloads_with_the_same_accuracy(lesson, trained):
    result, path, _ = trained(lesson)
    reloaded = load_lesson(lesson).main(["--no-figures", "--load", str(path)])
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)


def test_a_checkpoint_of_the_other_lesson_is_refused(trained):
    _, path, _ = trained("06_softmax_mnist")
    with pytest.raises(kit.LessonError, match="belongs to 06_softmax_mnist"):
        load_lesson("07_cnn_mnist").main(["--no-figures", "--load", str(path)])


def test_a_diverging_run_ends_with_a_clear_message(few_images):
    few_images("06_softmax_mnist")
    with pytest.raises(kit.LessonError, match="diverged"):
        quick("06_softmax_mnist", "--lr", "1e6")


@pytest.mark.parametrize("lesson", MNIST_LESSONS)
def test_no_figures_writes_none_and_show_opens_each(lesson, few_images, course_in, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    few_images(lesson)
    load_lesson(lesson).main(["--quick", "--no-figures"])
    assert not (course_in / "figures").exists() and "figure:" not in capsys.readouterr().out
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    load_lesson(lesson).main(["--quick", "--show"])
    written = sorted((course_in / "figures").glob("*.png"))
    assert written and len(shown) == len(written)


# ----------------------------------------------------------------------------- 07 CNN


def test_07_quick_learns_and_draws_its_figures(trained):
    result, _, figures = trained("07_cnn_mnist")
    assert result["test_accuracy"] > QUICK_THRESHOLD and not result["inception"]
    assert real_picture(figures / "07_cnn_mnist_curves.png")
    assert real_picture(figures / "07_cnn_mnist_mistakes.png")
    assert not list(figures.glob("*.tmp"))


def test_07_cnn_is_conv_pool_relu_twice_then_linear_computed_by_hand(capsys):
    cnn = load_lesson("07_cnn_mnist")
    torch.manual_seed(0)
    model = cnn.build_model(False, torch.device("cpu"))  # as the lesson builds it: channels_last on a CPU
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cnn_by_hand(model, x), atol=1e-4, rtol=1e-4)
    cnn.show_shapes(model, x[:2])
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
    after_relu = inputs_seen(model, [model.conv2, model.fc], x)
    assert after_relu.min() == 0 and (after_relu == 0).any()  # both ReLUs are there


def test_07_inception_module_is_the_lectures_computed_by_hand():
    cnn = load_lesson("07_cnn_mnist")
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


def test_07_inception_net_is_the_lectures_computed_by_hand():
    cnn = load_lesson("07_cnn_mnist")
    torch.manual_seed(0)
    model = cnn.InceptionNet()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        h = model.incept1(conv_pool_relu(model.conv1, x))  # InceptionA is computed by hand above
        h = model.incept2(conv_pool_relu(model.conv2, h))
        expected = h.reshape(2, 1408) @ model.fc.weight.T + model.fc.bias
        torch.testing.assert_close(model(x), expected, atol=1e-4, rtol=1e-4)


def test_07_inception_flag_builds_it_and_its_checkpoint_loads_as_inception(few_images, tmp_path, capsys):
    cnn = few_images("07_cnn_mnist")
    path = tmp_path / "inception.pt"
    result = quick("07_cnn_mnist", "--inception", "--save", str(path))
    printed = capsys.readouterr().out
    assert result["inception"] and "incept1.branch5x5_2" in printed and "(4, 88, 12, 12)" in printed
    reloaded = cnn.main(["--no-figures", "--load", str(path)])  # no --inception: the checkpoint knows
    assert reloaded["inception"] and reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"])


# ----------------------------------------------------------------------------- 12 DDP


@pytest.fixture
def group_of_one():
    """A process group of one, as plain `python 12_ddp_mnist.py` makes: for calling its train() and test()."""
    import torch.distributed as dist

    lesson = load_lesson("12_ddp_mnist")
    lesson.start_process_group("cpu")
    yield lesson
    dist.destroy_process_group()


def test_12_epoch_loss_and_accuracy_over_the_whole_set(group_of_one):
    lesson = group_of_one
    torch.manual_seed(0)
    model = lesson.Net()
    loader = tiny_loader()
    dataset = loader.dataset
    images, labels = dataset.tensors
    with torch.no_grad():
        scores = model(images)
    expected_loss = -scores.log_softmax(dim=1)[range(10), labels].mean().item()
    sampler, train_loader = lesson.make_train_loader(dataset, 4, rank=0, world_size=1, seed=0)
    assert train_loader.batch_size == 4 and len(train_loader) == 3
    loss = lesson.train(
        model, torch.device("cpu"), train_loader, torch.nn.CrossEntropyLoss(), *frozen_optimizer(model)
    )
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    accuracy, tested = lesson.test(model, torch.device("cpu"), dataset, rank=0, world_size=1)
    assert tested == 10 and accuracy == pytest.approx(
        100.0 * (scores.argmax(1) == labels).float().mean().item()
    )


def test_12_sampler_shuffles_by_seed_and_epoch_and_deals_disjoint_shards():
    lesson = load_lesson("12_ddp_mnist")
    dataset = TensorDataset(torch.arange(40))

    def order(seed, epoch=0, rank=0, world_size=1):
        sampler, loader = lesson.make_train_loader(dataset, 8, rank, world_size, seed)
        sampler.set_epoch(epoch)
        return [i for (batch,) in loader for i in batch.tolist()]

    assert sorted(order(0)) == list(range(40)) and order(0) == order(0)
    assert order(1) != order(0)  # --seed reaches the sampler
    assert order(0, epoch=1) != order(0)  # set_epoch: a new shuffle
    halves = [order(0, rank=r, world_size=2) for r in (0, 1)]
    assert not set(halves[0]) & set(halves[1]) and sorted(halves[0] + halves[1]) == list(range(40))


def test_12_net_is_lesson_07s_cnn_computed_by_hand():
    torch.manual_seed(0)
    model = load_lesson("12_ddp_mnist").Net()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cnn_by_hand(model, x), atol=1e-4, rtol=1e-4)


def test_12_quick_learns_on_one_process(trained):
    result, path, _ = trained("12_ddp_mnist")
    assert result["world_size"] == 1 and result["local_batch"] == 128
    assert result["test_accuracy"] > QUICK_THRESHOLD and result["tested_images"] == 10_000
    assert path.is_file()


def test_12_refuses_mps_and_falls_back_from_auto(monkeypatch):
    monkeypatch.setattr(kit, "pick_device", lambda name: torch.device("mps"))
    with pytest.raises(kit.LessonError, match="no backend for mps; use --device cpu"):
        quick("12_ddp_mnist", "--device", "mps")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """tests/ddp_worker.py under torchrun with 2 processes: 2 epochs of 512 training images, 200 test."""
    out = tmp_path_factory.mktemp("ddp")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [
            *torchrun,
            str(REPO / "tests" / "ddp_worker.py"),
            str(out),
            "--epochs",
            "2",
            "--save",
            str(out / "m.pt"),
        ],
        cwd=out,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    return ranks, done.stdout, out


def test_one_ddp_step_equals_the_whole_global_batch(two_processes):
    """The lesson's point: each rank's half batch, gradients averaged by DDP, gives the gradient of the
    whole batch. Compared after one step, before any rounding can grow (measured gap: 2e-7 of 0.06)."""
    ranks, _, _ = two_processes
    for rank in ranks:
        assert rank["step"]["local_batch"] == 64  # the global batch of 128, halved
        assert rank["step"]["gradient_gap"] < 1e-3 * rank["step"]["gradient_scale"] + 1e-6


def test_ranks_read_disjoint_shards_that_cover_the_data_reshuffled_each_epoch(two_processes):
    ranks, _, _ = two_processes
    per_epoch = 256  # 512 images over 2 ranks
    seen = [rank["seen"] for rank in ranks]
    assert [len(s) for s in seen] == [2 * per_epoch, 2 * per_epoch]
    for epoch in range(2):
        shards = [set(s[epoch * per_epoch : (epoch + 1) * per_epoch]) for s in seen]
        assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(512))
    for s in seen:  # set_epoch: the second epoch is shuffled anew, not a repeat of the first
        assert s[:per_epoch] != s[per_epoch:]


def test_each_rank_tests_its_own_slice_and_together_they_test_every_image_once(two_processes):
    ranks, _, _ = two_processes
    slices = [set(rank["tested"]) for rank in ranks]
    assert not slices[0] & slices[1] and slices[0] | slices[1] == set(range(200))
    assert [len(rank["tested"]) for rank in ranks] == [2 * 100, 2 * 100]  # 2 epochs, each image once


def test_reported_loss_and_accuracy_are_over_all_images_of_all_ranks(two_processes):
    """With weights that do not move, the lesson's reduced mean loss per image and percent right equal the
    same numbers computed in one process over all 512 training and 200 test images."""
    ranks, _, _ = two_processes
    for rank in ranks:
        frozen = rank["frozen"]
        assert frozen["loss"] == pytest.approx(frozen["expected_loss"], rel=1e-4)
        assert frozen["accuracy"] == pytest.approx(frozen["expected_accuracy"], abs=1e-9)
        assert frozen["tested"] == 200


def test_ranks_agree_on_the_reduced_numbers_and_only_rank_0_saves(two_processes):
    ranks, stdout, out = two_processes
    results = [rank["results"] for rank in ranks]
    # --batch-size 64 is the global batch: 32 images per rank per step
    assert [r["world_size"] for r in results] == [2, 2] and [r["local_batch"] for r in results] == [32, 32]
    # every rank tested its own half of the 200 test images; the all-reduce gives both the whole count
    assert [r["tested_images"] for r in results] == [200, 200]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    losses = [[row["train_loss"] for row in r["history"]] for r in results]
    assert losses[0] == losses[1]
    assert stdout.count("checkpoint: ") == 1 and stdout.count("epoch 2/2") == 1  # rank 0 alone
    assert stdout.count("figure: ") == 1 and [p.name for p in (out / "figures").iterdir()] == [
        "12_ddp_mnist_2proc.png"
    ]
    model = load_lesson("12_ddp_mnist").Net()
    kit.load_checkpoint(out / "m.pt", "12_ddp_mnist", model)
