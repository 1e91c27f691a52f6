"""Lesson 12 (the bonus): lesson 07's CNN trained by several processes with DistributedDataParallel.

No timing is asserted here (bench/ checks speed). The quick run trains one epoch on 6,000 images in one
process. Its accuracy threshold of 80% is eight times chance (10% for ten digits): a model that learns
nothing stays near 10%, while the quick runs measured 90-94%. The run under torchrun (`two_processes`,
tests/ddp_worker.py) trains 2 epochs of 512 images on 2 processes and records what each rank did.
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import lesson_tools as kit

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, frozen_optimizer, load_lesson, masked, quick, real_picture, tiny_loader
from torch.utils.data import TensorDataset

LESSON = "12_ddp_mnist"
QUICK_THRESHOLD = 80.0
EPOCH_LINE = re.compile(r"^   epoch +(\d+)/(\d+)   train loss ([\d.]+)   test accuracy ([\d.]+)%   [\d.]+ s$")
HEADER = re.compile(r"^(\d+) process\(es\), backend (\w+), device (\w+), global batch (\d+) = (\d+) x (\d+)$")
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
    """main() with the flags given, and the lines it printed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        results = load_lesson(LESSON).main(list(flags))
    return results, output.getvalue().splitlines()


def cnn_by_hand(model, x):
    """Lesson 07's CNN by hand: (convolution, 2x2 max pooling, ReLU) twice, flattened, then linear."""
    for conv in (model.conv1, model.conv2):
        x = F.max_pool2d(F.conv2d(x, conv.weight, conv.bias), 2).clamp(min=0)
    return x.flatten(1) @ model.fc.weight.T + model.fc.bias


def epoch_lines(lines):
    return [EPOCH_LINE.match(line).groups() for line in lines if EPOCH_LINE.match(line)]


# ----------------------------------------------------------------------------- one process


def test_quick_learns_on_one_process(trained):
    result, path, figures = trained(LESSON)
    assert result["world_size"] == 1 and result["local_batch"] == 128
    assert result["test_accuracy"] > QUICK_THRESHOLD and result["tested_images"] == 10_000
    assert path.is_file() and real_picture(figures / "12_ddp_mnist_1proc.png")


def test_every_printed_number_of_the_quick_run_is_what_was_computed(printed, trained):
    """The header's process count and batches, each epoch's numbers, the files written, and the curves
    figure's epochs numbered from 1."""
    lines = printed(LESSON)
    result, path, figures = trained(LESSON)
    headers = [HEADER.match(line).groups() for line in lines if HEADER.match(line)]
    assert headers == [("1", "gloo", "cpu", "128", "1", "128")]
    ((epoch, of, train_loss, accuracy),) = epoch_lines(lines)
    row = result["history"][0]
    assert (epoch, of) == ("1", "1") and row["epoch"] == 1
    assert f"{row['train_loss']:.4f}" == train_loss and f"{row['test_accuracy']:.2f}" == accuracy
    assert f"checkpoint: {path}" in lines and f"figure: {figures / '12_ddp_mnist_1proc.png'}" in lines
    loss_ax, accuracy_ax = result["figures"]["curves"].axes
    for ax, key in ((loss_ax, "train_loss"), (accuracy_ax, "test_accuracy")):
        (line,) = ax.get_lines()
        assert list(line.get_xdata()) == [1] and list(line.get_ydata()) == [row[key]]


def test_the_same_seed_prints_the_same_lines_and_the_flags_show_in_them(monkeypatch):
    """--epochs 2 prints 2 epochs and says 2; --batch-size 64 is the global batch (1 x 64 on one
    process); the same --seed prints the same lines twice."""
    few_images(monkeypatch)
    flags = ["--no-figures", "--epochs", "2", "--batch-size", "64"]
    result, lines = run(*flags)
    _, lines_again = run(*flags)
    assert masked(lines) == masked(lines_again)
    assert [HEADER.match(line).groups() for line in lines if HEADER.match(line)] == [
        ("1", "gloo", "cpu", "64", "1", "64")
    ]
    assert [row[:2] for row in epoch_lines(lines)] == [("1", "2"), ("2", "2")]
    assert [row["epoch"] for row in result["history"]] == [1, 2] and result["local_batch"] == 64


def test_refuses_mps_and_falls_back_from_auto(monkeypatch):
    monkeypatch.setattr(kit, "pick_device", lambda name: torch.device("mps"))
    with pytest.raises(kit.LessonError, match="no backend for mps; use --device cpu"):
        quick(LESSON, "--device", "mps")


@pytest.fixture
def group_of_one():
    """A process group of one, as plain `python 12_ddp_mnist.py` makes: for calling its train() and test()."""
    import torch.distributed as dist

    lesson = load_lesson(LESSON)
    lesson.start_process_group("cpu")
    yield lesson
    dist.destroy_process_group()


def test_epoch_loss_and_accuracy_over_the_whole_set(group_of_one):
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


def test_sampler_shuffles_by_seed_and_epoch_and_deals_disjoint_shards():
    lesson = load_lesson(LESSON)
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


def test_net_is_lesson_07s_cnn_computed_by_hand():
    torch.manual_seed(0)
    model = load_lesson(LESSON).Net()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cnn_by_hand(model, x), atol=1e-4, rtol=1e-4)


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
    model = load_lesson(LESSON).Net()
    kit.load_checkpoint(out / "m.pt", "12_ddp_mnist", model)


def test_under_torchrun_rank_0_alone_prints_the_header_and_each_epoch(two_processes):
    """One header, saying 2 processes and the global batch of 64 dealt as 2 x 32, then epochs 1/2 and
    2/2 once each, with the numbers both ranks reported."""
    ranks, stdout, _ = two_processes
    lines = stdout.splitlines()
    headers = [HEADER.match(line).groups() for line in lines if HEADER.match(line)]
    assert headers == [("2", "gloo", "cpu", "64", "2", "32")]
    history = ranks[0]["results"]["history"]
    assert epoch_lines(lines) == [
        (str(row["epoch"]), "2", f"{row['train_loss']:.4f}", f"{row['test_accuracy']:.2f}") for row in history
    ]
    assert [row["epoch"] for row in history] == [1, 2]


def test_images_are_normalised_as_in_lesson_07():
    """Scaled to [0, 1], then lecture 9's transforms.Normalize((0.1307,), (0.3081,)); the t10k files."""
    from torchvision import datasets

    images, labels = load_lesson(LESSON).load_mnist(train=False).tensors
    raw = datasets.MNIST(kit.mnist_root(), train=False)
    torch.testing.assert_close(images[:, 0], (raw.data.float() / 255 - 0.1307) / 0.3081)
    assert labels.equal(raw.targets)
