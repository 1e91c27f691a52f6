"""Lessons 06 (softmax) and 07 (CNN) on MNIST, and the MNIST plumbing in lesson_tools.

No timing is asserted here (bench/benchmark.py checks speed and the full-length accuracy targets).
The quick runs train one epoch on 10,000 (06) or 6,000 (07) images. The accuracy threshold of 80% is
eight times chance (10% for ten digits): a model that learns nothing, or labels shuffled against their
images, stays near 10%, while the quick runs measured 89.8-90.5% (06) and 93.4-94.6% (07) over seeds
0-3, so 80% leaves room for other seeds, thread counts and BLAS libraries without letting a bug through.
"""

import argparse
import gzip
import hashlib
import importlib.util
import shutil
import struct
import sys

import pytest
import torch
from conftest import REPO, load_lesson

import lesson_tools as kit

QUICK_THRESHOLD = 80.0
softmax = load_lesson("06_softmax_mnist")
cnn = load_lesson("07_cnn_mnist")


@pytest.fixture(scope="module")
def quick06(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "06.pt"
    return softmax.main(["--quick", "--no-figures", "--save", str(path)]), path


@pytest.fixture(scope="module")
def quick07(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run07")
    path = folder / "07.pt"
    result = cnn.main(["--quick", "--figures", str(folder / "figures"), "--save", str(path)])
    return result, path, folder / "figures"


# --------------------------------------------------------------------------- the lessons


def test_worked_softmax_example_matches_cross_entropy_loss():
    by_hand, builtin = softmax.softmax_by_hand()
    assert by_hand == pytest.approx(builtin, abs=1e-6)
    assert by_hand == pytest.approx(0.4170, abs=1e-4)  # -log(softmax([2, 1, 0.1])[0])


def test_06_quick_learns_well_above_chance(quick06):
    result, _ = quick06
    assert result["test_accuracy"] > QUICK_THRESHOLD
    assert result["train_loss_last"] < 2.3  # below ln(10), the loss of a uniform guess
    assert "test accuracy" in result["summary"]


def test_07_quick_learns_and_draws_its_figures(quick07):
    result, _, figures = quick07
    assert result["test_accuracy"] > QUICK_THRESHOLD
    assert (figures / "07_cnn_mnist_curves.png").stat().st_size > 0
    assert (figures / "07_cnn_mnist_mistakes.png").stat().st_size > 0


@pytest.mark.parametrize("lesson", ["06", "07"])
def test_checkpoint_reloads_with_the_same_accuracy(lesson, quick06, quick07):
    module, (result, path, *_) = (softmax, quick06) if lesson == "06" else (cnn, quick07)
    reloaded = module.main(["--quick", "--no-figures", "--load", str(path)])
    assert reloaded["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-9)


def test_a_checkpoint_of_the_other_lesson_is_refused(quick06):
    _, path = quick06
    with pytest.raises(kit.LessonError, match="belongs to 06_softmax_mnist"):
        cnn.main(["--quick", "--no-figures", "--load", str(path)])


def test_cnn_stages_shrink_28x28_to_ten_scores(capsys):
    model = cnn.CNN()
    cnn.print_shapes(model, torch.zeros(2, 1, 28, 28))
    printed = capsys.readouterr().out
    for shape in [
        "(2, 1, 28, 28)",
        "(2, 16, 24, 24)",
        "(2, 16, 12, 12)",
        "(2, 32, 8, 8)",
        "(2, 32, 4, 4)",
        "(2, 10)",
    ]:
        assert shape in printed
    inception = cnn.CNN(inception=True)
    assert inception(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_a_diverging_run_ends_with_a_clear_message():
    with pytest.raises(kit.LessonError, match="diverged"):
        softmax.main(["--quick", "--no-figures", "--lr", "1e6"])


# --------------------------------------------------------------------------- the MNIST loader


def write_idx(path, magic, dims, payload: bytes):
    """An IDX file as LeCun describes it: big-endian magic number, dimensions, then the bytes, gzipped."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as file:
        file.write(header + payload)
    return len(header) + len(payload)


def tiny_mnist(folder, counts=(("train", 5), ("t10k", 3))):
    """Four tiny IDX files with SHA256SUMS: image k of each set has all pixels k * 60, label k."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for prefix, n in counts:
        pixels = b"".join(bytes([k * 60]) * 28 * 28 for k in range(n))
        sizes[f"{prefix}-images-idx3-ubyte"] = write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz", 2051, (n, 28, 28), pixels
        )
        sizes[f"{prefix}-labels-idx1-ubyte"] = write_idx(
            folder / f"{prefix}-labels-idx1-ubyte.gz", 2049, (n,), bytes(range(n))
        )
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(folder.glob("*.gz"))]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return sizes


def test_loader_reads_tiny_idx_files_into_normalised_tensors(tmp_path, monkeypatch):
    sizes = tiny_mnist(tmp_path / "source")
    for name, size in sizes.items():  # the shipped sizes are checked; these files are tiny
        monkeypatch.setitem(kit.MNIST_FILES, name, size)
    monkeypatch.setenv(kit.MNIST_CACHE_ENV, str(tmp_path / "cache"))
    assert cnn.softmax is softmax  # 07 (and 09) load MNIST with 06's prepare()
    for train, n in ((True, 5), (False, 3)):
        dataset = kit.mnist(train, source=tmp_path / "source")
        images, labels = softmax.prepare(dataset, torch.device("cpu"))
        assert images.shape == (n, 1, 28, 28) and images.dtype == torch.float32
        assert labels.tolist() == list(range(n))
        # pixel value v becomes (v / 255 - mean) / std, the same as transforms.Normalize
        expected = (torch.arange(n) * 60 / 255 - 0.1307) / 0.3081
        assert torch.allclose(images.mean(dim=(1, 2, 3)), expected, atol=1e-5)
        assert torch.allclose(images.amin(dim=(1, 2, 3)), images.amax(dim=(1, 2, 3)))
    assert sorted(p.name for p in (tmp_path / "cache" / "MNIST" / "raw").iterdir()) == sorted(sizes)


def test_normalised_training_images_have_mean_0_and_std_1():
    images, _ = softmax.prepare(kit.mnist(True), torch.device("cpu"), limit=20_000)
    assert images.mean().item() == pytest.approx(0.0, abs=0.02)
    assert images.std().item() == pytest.approx(1.0, abs=0.02)


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of data/mnist and an empty cache, so the files are verified and prepared afresh."""
    source = tmp_path / "mnist"
    shutil.copytree(REPO / "data" / "mnist", source, ignore=shutil.ignore_patterns("prepared"))
    monkeypatch.setenv(kit.MNIST_CACHE_ENV, str(tmp_path / "cache"))
    return source


def test_a_damaged_file_is_named_with_how_to_restore_it(shipped_copy):
    damaged = shipped_copy / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])  # truncated
    with pytest.raises(kit.LessonError) as error:
        kit.mnist(True, source=shipped_copy)
    message = str(error.value)
    assert "train-labels-idx1-ubyte.gz" in message and "SHA-256" in message and "git checkout" in message


def test_a_missing_file_offline_is_named_with_how_to_restore_it(shipped_copy):
    (shipped_copy / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(kit.LessonError) as error:
        kit.mnist(False, source=shipped_copy)
    message = str(error.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "git checkout" in message and "no download" in message


# --------------------------------------------------------------------------- the benchmark


def load_benchmark():
    spec = importlib.util.spec_from_file_location("mnist_benchmark", REPO / "bench" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_measures_a_lesson_in_a_fresh_process(monkeypatch, tmp_path):
    bench = load_benchmark()
    run = bench.run_lesson("06", seed=0, extra=["--quick"], timeout=300)
    assert run.exit_code == 0, run.log
    assert run.accuracy > QUICK_THRESHOLD and run.device == "cpu"
    assert 100 < run.peak_mb < 10_000 and run.wall > 0 and run.cpu > 0
    assert run.to_target is None  # a quick run does not reach 98%, and the table says so
    rows = bench.table([run])
    assert rows[1][2] == "not reached" and rows[1][-1] == "FAILED"
    text = bench.markdown(rows, ["CPU: test"], bench.summary([run]))
    assert text.startswith("| lesson | seed |") and "06: FAIL" in text
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- benchmark:start -->\nold table\n<!-- benchmark:end -->\nrest\n")
    bench.replace_readme_section("benchmark", text, readme)
    assert readme.read_text() == f"intro\n<!-- benchmark:start -->\n{text}<!-- benchmark:end -->\nrest\n"


def test_06_draws_its_curves(tmp_path):
    args = argparse.Namespace(figures=tmp_path, show=False, no_figures=False)
    assert kit.start_figures(args)
    softmax.plot_curves({"loss": [0.5, 0.2], "accuracy": [96.0, 98.2]}, args)
    assert (tmp_path / "06_softmax_mnist_curves.png").stat().st_size > 0
