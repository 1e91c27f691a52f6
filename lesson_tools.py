"""Plumbing shared by every lesson, so that each lesson script holds only the lesson.

Nothing in here is PyTorch you need to learn for the lectures. It gives every lesson the same command
line, picks the device, seeds the random generators, finds and verifies the shipped data files, saves
figures and checkpoints safely, and turns expected problems (bad data, an absent GPU, a diverging run,
Ctrl-C) into one clear message instead of a traceback.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent  # data is found from here, never from the current directory
DATA = REPO / "data"
FIGURES = REPO / "figures"
CHECKPOINTS = REPO / "checkpoints"


class LessonError(Exception):
    """An expected problem the learner can fix: reported as one message and a non-zero exit."""


# --------------------------------------------------------------------------- command line


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except for on/off switches and where the lesson chooses it later."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def lesson_parser(
    description: str, *, epochs: int | None, lr: float | None, batch_size: int | None = None, seed: int = 0
) -> argparse.ArgumentParser:
    """The flags every lesson shares; a lesson adds its own on the returned parser.

    epochs=None or lr=None: the lesson picks the default itself (None arrives when the flag is not
    given) and says how in the parser's epilog.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    later = " (default: see below)"
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs,
        help="passes over the training data" + later * (epochs is None),
    )
    parser.add_argument("--lr", type=positive_float, default=lr, help="learning rate" + later * (lr is None))
    if batch_size is not None:
        parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="samples per step")
    parser.add_argument("--seed", type=int, default=seed, help="random seed: same seed, same numbers on CPU")
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="auto",
        help="where to compute; auto takes the GPU (CUDA or Apple MPS) when there is one",
    )
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run on less data")
    parser.add_argument("--figures", type=Path, default=FIGURES, metavar="DIR", help="folder for PNG figures")
    parser.add_argument("--no-figures", action="store_true", help="do not draw figures")
    parser.add_argument("--show", action="store_true", help="also open each figure in a window")
    return parser


def add_checkpoint_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--save", type=Path, metavar="PATH", help="write the trained model to PATH")
    parser.add_argument("--load", type=Path, metavar="PATH", help="evaluate the model saved in PATH")


# --------------------------------------------------------------------------- device and seeds


def pick_device(name: str) -> torch.device:
    """'auto' takes the machine's accelerator (CUDA, MPS, ...) if there is one, else the CPU."""
    if name == "auto":
        if torch.accelerator.is_available():
            return torch.accelerator.current_accelerator()
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LessonError(
            "--device cuda was asked for, but PyTorch sees no CUDA GPU here "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False). "
            "Use --device cpu, or --device auto to take whatever is there."
        )
    if name == "mps" and not torch.backends.mps.is_available():
        raise LessonError(
            "--device mps was asked for, but Apple's Metal (MPS) backend is not available here "
            "(it needs a Mac with Apple silicon and a macOS build of PyTorch). Use --device cpu or auto."
        )
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Same seed, same initial weights and the same shuffles: the printed numbers repeat on a CPU."""
    random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every GPU generator


# --------------------------------------------------------------------------- data files


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sums(folder: Path) -> dict[str, str]:
    sums_file = folder / "SHA256SUMS"
    try:
        lines = sums_file.read_text().splitlines()
    except FileNotFoundError:
        raise LessonError(
            f"{_display(sums_file)} is missing. Restore it with: git checkout -- {_display(sums_file)}"
        ) from None
    except OSError as error:
        raise LessonError(f"cannot read {_display(sums_file)}: {error.strerror}") from None
    return {
        name.strip(): digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())
    }


def data_file(relative: str | Path) -> Path:
    """The path of a shipped data file, after checking it against the SHA256SUMS beside it.

    A missing, truncated or edited file ends the lesson with a message that names it and says how to
    restore it, rather than failing later with a confusing parse error.
    """
    path = DATA / relative  # an absolute path stays as it is
    restore = f"Restore it with: git checkout -- {_display(path)}"
    expected = _expected_sums(path.parent).get(path.name)
    if expected is None:
        raise LessonError(f"{_display(path)} is not listed in {_display(path.parent / 'SHA256SUMS')}.")
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        raise LessonError(f"data file {_display(path)} is missing. {restore}") from None
    except OSError as error:  # a folder, no read permission, ...
        raise LessonError(f"cannot read data file {_display(path)}: {error.strerror}. {restore}") from None
    if actual != expected:
        raise LessonError(
            f"data file {_display(path)} is damaged: its SHA-256 does not match "
            f"{_display(path.parent / 'SHA256SUMS')} (truncated or edited?). {restore}"
        )
    return path


# --------------------------------------------------------------------------- MNIST files

MNIST_FILES = {  # uncompressed IDX file -> its size in bytes (see data/mnist/PROVENANCE.md)
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
MNIST_CACHE_ENV = "COURSE_MNIST_ROOT"  # override where the uncompressed files go (tests use it)
OFFLINE_ENV = "COURSE_OFFLINE"  # set to 1 to never try torchvision's download


def _mnist_roots() -> list[Path]:
    """Where uncompressed MNIST may live: the repo's data/ if writable, else a per-user cache."""
    if os.environ.get(MNIST_CACHE_ENV):
        return [Path(os.environ[MNIST_CACHE_ENV])]
    user_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pytorch-zero-to-all"
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
    return [
        DATA / "mnist" / "prepared",
        user_cache,
        Path(tempfile.gettempdir()) / f"pytorch-zero-to-all-{user}",
    ]


def _is_prepared(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    try:
        return all((raw / name).stat().st_size == size for name, size in MNIST_FILES.items())
    except OSError:
        return False


def _prepare(root: Path, archives: dict[str, Path]) -> None:
    """Uncompress the shipped .gz files into root/MNIST/raw, where torchvision.datasets.MNIST looks.

    Each file is written under a unique temporary name and renamed only when complete, so several
    lessons starting at once, or a run killed half-way, never leave a half file that is later trusted.
    """
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, size in MNIST_FILES.items():
        target = raw / name
        if target.is_file() and target.stat().st_size == size:
            continue
        with atomic_path(target) as temporary:
            with gzip.open(archives[name], "rb") as compressed, open(temporary, "wb") as out:
                shutil.copyfileobj(compressed, out, 1 << 20)
            if temporary.stat().st_size != size:
                raise LessonError(f"{_display(archives[name])} uncompressed to the wrong size")


def mnist_root(source: Path = DATA / "mnist") -> Path:
    """A folder holding MNIST/raw/<the four IDX files>, ready for torchvision.datasets.MNIST.

    Prepared once from the shipped, checksum-verified .gz files; if those are missing, torchvision's
    downloader is tried; offline, the message says how to restore them.
    """
    roots = _mnist_roots()
    for root in roots:
        if _is_prepared(root):
            return root
    missing = [
        _display(source / f"{name}.gz") for name in MNIST_FILES if not (source / f"{name}.gz").exists()
    ]
    if missing:
        return _download_mnist(roots[min(1, len(roots) - 1)], missing)  # the per-user cache
    # verify before uncompressing: a damaged file is named, never trusted
    archives = {name: data_file(source / f"{name}.gz") for name in MNIST_FILES}
    problems = []
    for root in roots:
        try:
            _prepare(root, archives)
            return root
        except OSError as error:  # read-only repository, full disk: try the next place
            problems.append(f"{_display(root)}: {error.strerror or error}")
    raise LessonError("cannot write the uncompressed MNIST files anywhere: " + "; ".join(problems))


def _download_mnist(root: Path, missing: list[str]) -> Path:
    restore = (
        f"The shipped MNIST files are missing ({', '.join(missing)}). Restore them with: "
        "git checkout -- data/mnist"
    )
    if os.environ.get(OFFLINE_ENV) == "1":
        raise LessonError(restore + f" ({OFFLINE_ENV}=1, so no download was tried).")
    from torchvision import datasets

    print(f"{restore.split('. ')[0]}; trying torchvision's download into {root} ...")
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        for train in (True, False):
            datasets.MNIST(root, train=train, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError when offline
        raise LessonError(
            f"{restore}. The download failed too ({type(error).__name__}); are you offline?"
        ) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    return root


def mnist(train: bool, source: Path = DATA / "mnist"):
    """torchvision.datasets.MNIST over the shipped files, with no download."""
    from torchvision import datasets

    return datasets.MNIST(mnist_root(source), train=train, download=False)


# --------------------------------------------------------------------------- safe writing


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside target; rename it onto target only if the block succeeds.

    A reader therefore sees the old file or the complete new one, never half of one, even if the
    program is interrupted (Ctrl-C, kill) while writing.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it private; give it a normal file's mode
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _writable_parent(path: Path, what: str) -> Path:
    path = Path(path).expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LessonError(f"cannot create the folder for {what} {path}: {error.strerror}") from None
    if path.is_dir():
        raise LessonError(f"{what} path {path} is a folder; give a file name")
    return path


def save_checkpoint(path: Path, lesson: str, model: torch.nn.Module, **extra) -> Path:
    """Write the model's weights atomically, tagged with the lesson that made them."""
    path = _writable_parent(path, "checkpoint")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        with atomic_path(path) as temporary:
            torch.save({"lesson": lesson, "model": state, **extra}, temporary)
    except OSError as error:
        raise LessonError(f"cannot write checkpoint {path}: {error.strerror}") from None
    print(f"checkpoint: {path}")
    return path


def load_checkpoint(path: Path, lesson: str, model: torch.nn.Module | None = None) -> dict:
    """Read a checkpoint with weights_only=True: tensors and plain values only, never arbitrary code."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LessonError(
            f"--load {path}: no such file" if not path.exists() else f"--load {path}: not a file"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors, truncated zip archives, non-torch files ...
        raise LessonError(
            f"--load {path}: not a readable PyTorch checkpoint ({type(error).__name__})"
        ) from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "lesson" not in checkpoint:
        raise LessonError(f"--load {path}: not a checkpoint written by this course (--save)")
    if checkpoint["lesson"] != lesson:
        raise LessonError(f"--load {path}: that checkpoint belongs to {checkpoint['lesson']}, not {lesson}")
    if model is not None:
        load_weights(model, checkpoint, path)
    return checkpoint


def load_weights(model: torch.nn.Module, checkpoint: dict, path: Path) -> None:
    """Put a checkpoint's weights into model; a model of another shape gets a clear message."""
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        first = str(error).strip().splitlines()[1:2] or [str(error)]
        raise LessonError(
            f"--load {path}: its weights do not fit this model (was it saved with other "
            f"options?): {first[0].strip()}"
        ) from None


# --------------------------------------------------------------------------- figures


def start_figures(args) -> bool:
    """True if figures are wanted; picks a window-less backend unless --show asks for windows."""
    if args.no_figures:
        return False
    import matplotlib

    if not args.show:
        matplotlib.use("Agg")  # draws to files only, so nothing ever waits for a window
    return True


def save_figure(fig, name: str, args) -> Path:
    """Save fig as <figures>/<name>.png atomically and print its path."""
    import matplotlib.pyplot as plt

    path = _writable_parent(Path(args.figures) / f"{name}.png", "figure")
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    except OSError as error:
        raise LessonError(f"cannot write figure {path}: {error.strerror}") from None
    print(f"figure: {_display(path)}")
    if args.show:
        plt.show()
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- training helpers


class _Progress:
    epoch = 0
    epochs = 0


progress = _Progress()


def epoch_range(epochs: int):
    """range(1, epochs + 1) that remembers the current epoch, for the Ctrl-C summary."""
    progress.epochs = epochs
    for epoch in range(1, epochs + 1):
        progress.epoch = epoch
        yield epoch


def stop_if_diverged(loss: float, lr: float, where: str = "", reference: float | None = None) -> None:
    """Stop a diverging run at once instead of printing nan for the rest of it.

    A loss that is not a finite number has diverged. So has one that climbed to over 10 times its
    starting value (pass it as reference=: the first epoch's loss, or a blind guess's): BCELoss caps
    its value, and Adam's bounded steps can keep a wrecked model's loss finite, so neither shows a nan.
    """
    exploded = reference is not None and loss > 10 * reference
    if not math.isfinite(loss) or exploded:
        what = (
            f"reached {loss:.4g}, over 10 times its starting value {reference:.4g}"
            if exploded
            else f"became {loss}"
        )
        raise LessonError(
            f"training diverged: the loss {what}{' ' + where if where else ''}. "
            f"The learning rate {lr:g} is too large for this model; try a smaller --lr, e.g. {lr / 10:g}."
        )


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def import_lesson(name: str):
    """Import another lesson by file name, e.g. import_lesson("07_cnn_mnist"): a name that starts with a
    digit cannot be written in an import statement."""
    import importlib.util

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # worker processes that unpickle its classes find it by this name
        spec.loader.exec_module(module)
    return sys.modules[name]


RESULT_ENV = "COURSE_RESULT_JSON"  # run_course.py asks a lesson to write its results here


def run(main) -> None:
    """Run a lesson's main() as a command: expected problems end with one line and exit status 1."""
    try:
        results = main()
    except LessonError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # the output went to a program that stopped reading, e.g. `| head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(1)
    except KeyboardInterrupt:
        where = f" during epoch {progress.epoch} of {progress.epochs}" if progress.epoch else ""
        print(f"\nstopped by Ctrl-C{where}; nothing was left half-written.", file=sys.stderr)
        sys.exit(130)
    if os.environ.get(RESULT_ENV) and isinstance(results, dict):
        with atomic_path(Path(os.environ[RESULT_ENV])) as temporary:
            temporary.write_text(json.dumps(results, default=str))


# --------------------------------------------------------------------------- the diabetes table

DIABETES = "diabetes/pima-indians-diabetes.csv"
SPLIT_SEED = 20240101  # the train/test split never changes with --seed, so results stay comparable


def load_diabetes_table() -> tuple[torch.Tensor, torch.Tensor]:
    """The verified diabetes CSV as float tensors: 8 feature columns, and the 0/1 label as a column."""
    import numpy as np

    table = np.loadtxt(data_file(DIABETES), delimiter=",", skiprows=1, dtype=np.float32)
    return torch.from_numpy(table[:, :-1]), torch.from_numpy(table[:, -1:])


def fixed_split(n: int, test_fraction: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a train/test split that is the same on every run and every machine."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = round(n * test_fraction)
    return order[n_test:], order[:n_test]
