"""Plumbing every lesson shares, kept here so that each lesson holds only its lesson.

It gives every lesson the same command line, finds and verifies the shipped data files, writes
figures and checkpoints safely (to a per-user folder when the course folder cannot be written),
records each epoch in one call, and turns expected problems (bad data, an absent GPU, a diverging
run, Ctrl-C) into one clear message instead of a traceback.

Two things here the original code does show, in one line each: choosing the device (09_2's `device =
'cuda' if cuda.is_available() else 'cpu'`) and seeding (12_2-12_4's `torch.manual_seed(777)`). pick_device and
seed_everything do the same with more care (Apple's MPS, a clear message for an absent GPU): read
them once, then trust them.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

# PyTorch's CPU threads meet at a barrier after every operation, and a thread that arrives early spins,
# burning its core while it waits. Alone on the machine, spinning is fastest; beside another busy program
# the thread it waits for may not even be running, and a lesson crawls. So the course keeps OpenMP's own
# (spinning) default and adapts the number of threads instead: before each epoch it looks at how much CPU
# the rest of the machine used, and gives PyTorch only the cores left free; beside a light load it times
# the lesson's own steps with one thread fewer too, and keeps the faster (ThreadPolicy, below). The
# measurements behind this choice: bench/README.md, "Threads: quiet and busy machines".
# A value you set yourself wins: with OMP_NUM_THREADS or OMP_WAIT_POLICY in the environment, the course
# never changes the number of threads (OMP_WAIT_POLICY=PASSIVE makes waiting threads sleep instead).

REPO = Path(__file__).resolve().parent  # data is found from here, never from the current directory
DATA = REPO / "data"


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
    """Shows each flag's default, except for on/off switches and flags whose default is spelled out."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


_UNTYPED = object()


class _LessonParser(argparse.ArgumentParser):
    """An ArgumentParser that also remembers which flags the learner typed (`typed`), so that --lecture
    replaces only the others, even where a typed value equals the default."""

    typed: set = set()

    def parse_known_args(self, args=None, namespace=None):
        if namespace is None:  # argparse fills in a default only where the namespace has no value yet
            probe = argparse.Namespace(**{a.dest: _UNTYPED for a in self._actions if a.dest != "help"})
            given, _ = super().parse_known_args(args, probe)
            self.typed = {name for name, value in vars(given).items() if value is not _UNTYPED}
        return super().parse_known_args(args, namespace)


def lesson_parser(
    description: str, *, epochs: int, lr: float, batch_size: int | None = None, seed: int | None = 0
) -> argparse.ArgumentParser:
    """The flags every lesson shares; a lesson adds its own on the returned parser. --batch-size only
    where there are batches, --seed only where something is random (seed=None: nothing is)."""
    parser = _LessonParser(description=description, formatter_class=_HelpFormatter)
    parser.add_argument("--epochs", type=positive_int, default=epochs, help="passes over the training data")
    parser.add_argument("--lr", type=positive_float, default=lr, help="learning rate")
    if batch_size is not None:
        parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="samples per step")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help="random seed: same seed, same numbers")
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="auto",
        help="where to compute; auto takes the GPU (CUDA or Apple MPS) when there is one",
    )
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run on less data")
    parser.add_argument(
        "--figures", type=Path, metavar="DIR", help="folder for PNG figures (default: figures/ in the course)"
    )
    parser.add_argument("--no-figures", action="store_true", help="do not draw figures")
    parser.add_argument("--show", action="store_true", help="also open each figure in a window")
    return parser


def add_lecture_flag(parser: argparse.ArgumentParser, lecture: dict) -> None:
    """--lecture: train with the lecture code's own settings. `lecture` maps each setting to the
    lecture's value: a flag's name (epochs, lr, batch_size, ...) to its value, or any other name to a
    pair (the lecture's choice, the lesson's choice), e.g. "optimizer": ("SGD, momentum 0.5", "AdamW")."""
    listed = ", ".join(f"{_setting(name)} {_lecture_value(value)}" for name, value in lecture.items())
    parser.add_argument(
        "--lecture", action="store_true", help=f"train with the lecture code's own settings: {listed}"
    )


def _setting(name: str) -> str:
    return name.replace("_", " ")


def _lecture_value(value) -> str:
    return (
        f"{value[0]}"
        if isinstance(value, tuple)
        else f"{value:g}"
        if isinstance(value, float)
        else f"{value}"
    )


def use_lecture_settings(args, parser: argparse.ArgumentParser, lecture: dict) -> list[str]:
    """With --lecture, put the lecture's values into args (a flag the learner typed keeps its value) and
    print one line that lists every change; without it, do nothing. Returns the changes listed."""
    if not getattr(args, "lecture", False):
        return []
    changes = []
    for name, value in lecture.items():
        if isinstance(value, tuple):  # a choice without a flag: the lesson itself looks at args.lecture
            changes.append(f"{_setting(name)} {value[0]} (not {value[1]})")
        elif name not in getattr(parser, "typed", set()):  # a flag the learner typed keeps its value
            if value != getattr(args, name):
                changes.append(
                    f"{_setting(name)} {_lecture_value(value)} (not {_lecture_value(getattr(args, name))})"
                )
            setattr(args, name, value)
    print("--lecture, the lecture code's settings: " + "; ".join(changes))
    return changes


def add_checkpoint_flags(parser: argparse.ArgumentParser, lesson: str, load: bool = True) -> None:
    """--save [PATH] and --load PATH; without a PATH, --save writes checkpoints/<lesson>.pt."""
    parser.add_argument(
        "--save",
        type=Path,
        nargs="?",
        const=True,  # a bare --save: checkpoints/<lesson>.pt in the course folder
        metavar="PATH",
        help=f"write the trained model to PATH (without PATH: checkpoints/{lesson}.pt in the course)",
    )
    if load:
        parser.add_argument(
            "--load", type=Path, metavar="PATH", help="use the model saved in PATH; no training"
        )


# --------------------------------------------------------------------------- threads


class ThreadPolicy:
    """Gives PyTorch as many CPU threads as the machine has cores free, judged again before each epoch,
    and where other programs are running, times the lesson's own steps to choose between two counts.

    Between two looks it reads how much CPU time the whole machine spent (Linux's /proc/stat) and how
    much of it was this process's own (os.times); the difference is what other programs used. A lesson
    beside another busy lesson then drops to one thread, whose work never waits for a thread that is not
    running, and takes its cores back when the other one ends. Beside a lighter load, like a video
    playing, the load alone does not say which is faster: a lesson of large operations (06's matrices)
    is faster with every thread, one of many small ones (11's characters) with one fewer. So while other
    programs use some CPU, the epoch starts with a trial: blocks of optimizer steps taking turns between
    the two counts, timed, and the faster count kept for the rest of the epoch. On a quiet machine there
    is no trial and nothing to pay for one. It changes nothing when the learner set OMP_NUM_THREADS or
    OMP_WAIT_POLICY, or where there is no /proc/stat to read (macOS, Windows).
    """

    QUIET = 0.05  # cores other programs may use with no trial: a machine's background hum
    BLOCK = 0.2  # seconds of steps per turn: a video's bursts come every few hundredths of a second
    TURNS = 3  # turns per thread count before the trial decides
    MARGIN = 0.03  # fewer threads must be this much faster per step to win: noise keeps every thread
    RETRY = 30.0  # seconds a trial's choice is kept while the load stays about the same

    def __init__(self, every: float = 1.0):
        self.every = every  # seconds between two looks: long enough to average out a program's bursts
        self.most = torch.get_num_threads()  # PyTorch's own choice, one per core: never more than that
        learner_set = any(os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"))
        self.adapt = not learner_set and self._look() is not None
        self._last = self._look()
        self.trial: dict[int, list] | None = None  # thread count: [seconds, steps, turns] while trying
        self._turn_started: float | None = None
        self._tried: list | None = None  # the last trial: [the load's thread count, when, the count kept]
        self.chosen: list[tuple[int, int]] = []  # (the load's count, the count kept) of each trial

    @staticmethod
    def _look():
        """(wall clock, CPU seconds the machine spent, CPU seconds this process spent, cores), or None."""
        try:
            with open("/proc/stat") as stat:
                ticks = [int(field) for field in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        own = os.times()
        # user, nice, system, irq, softirq: the time this machine's programs ran. Not idle and iowait, nor
        # steal (a virtual machine's host running others: fewer threads would not get that time back).
        busy = sum(ticks[i] for i in (0, 1, 2, 5, 6)) / os.sysconf("SC_CLK_TCK")
        return time.monotonic(), busy, own.user + own.system, os.cpu_count() or 1

    def others_busy(self, before, after) -> float:
        """How many cores other programs kept busy, on average, between two looks."""
        wall = after[0] - before[0]
        return max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / wall if wall > 0 else 0.0

    def threads_for(self, others: float, cores: int) -> int:
        """The cores left free, rounded, at least one and at most PyTorch's own choice. A core counts as
        taken once other programs keep half of it busy (bench/README.md, threads)."""
        return max(1, min(self.most, int(cores - others + 0.5)))

    def update(self, every: float | None = None) -> int:
        """Look again (at most once per `every` seconds) and set PyTorch's thread count; returns it.
        Called between epochs (by EpochLog), where a trial starts if other programs use some CPU and no
        trial was made for this load in the last RETRY seconds."""
        self._turn_started = None  # the time since the last step was the epoch's evaluation, not steps
        now = self._look() if self.adapt else None
        if now is not None and now[0] - self._last[0] >= (self.every if every is None else every):
            others = self.others_busy(self._last, now)
            threads = self.threads_for(others, now[3])
            if others <= self.QUIET or threads == 1:
                self.trial, self._tried = None, None
            elif self.trial is not None and self._tried[0] == threads:
                threads = torch.get_num_threads()  # the trial goes on into this epoch
            elif self._tried is None or self._tried[0] != threads or now[0] - self._tried[1] > self.RETRY:
                self.trial, self._tried = (
                    {threads: [0.0, 0, 0], threads - 1: [0.0, 0, 0]},
                    [threads, now[0], threads],
                )
            elif self.trial is None:
                threads = self._tried[2]  # the count the last trial for this load kept
            self._set(threads)
            self._last = now
        return torch.get_num_threads()

    def after_step(self, *_) -> None:
        """Called after every optimizer step (a hook on all optimizers): times the trial's turns."""
        if self.trial is None:
            return
        now = time.perf_counter()
        if self._turn_started is None:  # the first step after a look or an evaluation: start timing here
            self._turn_started, self._steps = now, 0
            return
        self._steps += 1
        if now - self._turn_started < self.BLOCK:
            return
        threads = torch.get_num_threads()
        total = self.trial.get(threads)
        if total is None:  # someone else set the thread count: theirs stands
            self.trial = None
            return
        total[0] += now - self._turn_started
        total[1] += self._steps
        total[2] += 1
        more, fewer = sorted(self.trial, reverse=True)
        if all(turns >= self.TURNS for _, _, turns in self.trial.values()):
            per_step = {count: seconds / steps for count, (seconds, steps, _) in self.trial.items()}
            keep = fewer if per_step[fewer] < (1 - self.MARGIN) * per_step[more] else more
            self.chosen.append((more, keep))
            self.trial, self._tried[2] = None, keep
            self._set(keep)
            return
        self._set(fewer if threads == more else more)  # the other count's turn
        self._turn_started, self._steps = time.perf_counter(), 0

    @staticmethod
    def _set(threads: int) -> None:
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)


THREADS = ThreadPolicy()
register_optimizer_step_post_hook(THREADS.after_step)


# --------------------------------------------------------------------------- device and seeds


def pick_device(name: str) -> torch.device:
    """'auto' takes the machine's accelerator (CUDA, MPS, ...) if there is one, else the CPU; any other
    name is obeyed exactly, or refused with a message when that device is absent."""
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
    """Same seed, same initial weights and the same shuffles."""
    random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every GPU generator, and the DataLoader's shuffling


# --------------------------------------------------------------------------- paths the learner sees


def shown(path: Path) -> str:
    """A path as the learner can open it from where they stand: relative below the current folder,
    absolute anywhere else."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _restore(path: Path) -> str:
    """The git command that brings back a shipped file, runnable from the current folder."""
    path = Path(path).resolve()
    if not path.is_relative_to(REPO) or Path.cwd().resolve() == REPO:
        return f"Restore it with: git checkout -- {shown(path)}"
    return f"Restore it with: git -C {shown(REPO)} checkout -- {path.relative_to(REPO)}"


# --------------------------------------------------------------------------- data files


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
        raise LessonError(f"{shown(sums_file)} is missing. {_restore(sums_file)}") from None
    except OSError as error:
        raise LessonError(f"cannot read {shown(sums_file)}: {error.strerror}") from None
    return {
        name.strip(): digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())
    }


def data_file(relative: str | Path) -> Path:
    """The path of a shipped data file, after checking it against the SHA256SUMS beside it.

    A missing, truncated, edited or unlisted file ends the lesson with a message that names it and says
    how to restore it, rather than failing later with a confusing parse error.
    """
    path = DATA / relative  # an absolute path stays as it is
    expected = _expected_sums(path.parent).get(path.name)
    if expected is None:
        raise LessonError(
            f"{shown(path)} is not listed in {shown(path.parent / 'SHA256SUMS')}, so it cannot be checked; "
            "the course reads only the files it ships."
        )
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        raise LessonError(f"data file {shown(path)} is missing. {_restore(path)}") from None
    except OSError as error:  # a folder, no read permission, ...
        raise LessonError(
            f"cannot read data file {shown(path)}: {error.strerror}. {_restore(path)}"
        ) from None
    if actual != expected:
        raise LessonError(
            f"data file {shown(path)} is damaged: its SHA-256 does not match "
            f"{shown(path.parent / 'SHA256SUMS')} (truncated or edited?). {_restore(path)}"
        )
    return path


# --------------------------------------------------------------------------- the diabetes table

DIABETES_CSV = "diabetes/pima-indians-diabetes.csv"  # 768 rows: 8 measurements, then 1 if diabetes followed
DIABETES_TEST_ROWS = 192  # a quarter of the rows is held out: no model ever trains on them
DIABETES_SPLIT_SEED = 20240101  # the split never moves with --seed, so results stay comparable between runs


def diabetes_split(x_data: torch.Tensor, y_data: torch.Tensor):
    """The held-out split every diabetes lesson and exercise uses: (x_train, y_train, x_test, y_test).

    The rows are shuffled by a fixed generator, so the same rows are held out on every run. Every feature
    is then put on one scale (mean 0, spread 1) using the training rows only, so that no number from the
    test rows leaks into training: raw values run from under 0.1 (pedigree) to over 800 (insulin), and one
    learning rate cannot suit weights for both.
    """
    order = torch.randperm(len(x_data), generator=torch.Generator().manual_seed(DIABETES_SPLIT_SEED))
    train, test = order[DIABETES_TEST_ROWS:], order[:DIABETES_TEST_ROWS]
    mean, std = x_data[train].mean(0), x_data[train].std(0)
    x_data = (x_data - mean) / std
    return x_data[train], y_data[train], x_data[test], y_data[test]


# --------------------------------------------------------------------------- where files are written


def _user_folders(name: str) -> list[Path]:
    """The course folder's `name`, then per-user places for a checkout the learner cannot write."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser())
    return [
        REPO / name,
        cache / "pytorch-zero-to-all" / name,
        Path(tempfile.gettempdir())
        / f"pytorch-zero-to-all-{os.getuid() if hasattr(os, 'getuid') else 0}"
        / name,
    ]


def _can_write(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def course_folder(name: str) -> Path:
    """REPO/name (figures/, checkpoints/), or a per-user folder when the course folder is read-only."""
    for folder in _user_folders(name):
        if _can_write(folder):
            return folder
    raise LessonError(
        f"cannot create a folder for {name} anywhere: {', '.join(map(shown, _user_folders(name)))}"
    )


def saved_checkpoint(lesson: str) -> Path | None:
    """Where `--save` without a PATH put this lesson's model, if it did."""
    for folder in _user_folders("checkpoints"):
        if (folder / f"{lesson}.pt").is_file():
            return folder / f"{lesson}.pt"
    return None


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


def _output_file(path: Path | None, folder: str, name: str, what: str) -> Path:
    """The file to write: the path the learner gave (from where they stand), or name in the course's
    own folder (figures/, checkpoints/) when they gave none."""
    path = course_folder(folder) / name if path is None else Path(path).expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LessonError(f"cannot create the folder for {what} {shown(path)}: {error.strerror}") from None
    if path.is_dir():
        raise LessonError(f"{what} path {shown(path)} is a folder; give a file name")
    return path


def save_checkpoint(
    path: Path | bool, lesson: str, model: torch.nn.Module, variant: str = "", **extra
) -> Path:
    """Write the model's weights atomically, tagged with the lesson that made them. path=True (a bare
    --save) means checkpoints/<lesson>.pt in the course folder, or <lesson>_<variant>.pt for a model
    trained with other options (say, variant="inception"), so that one never overwrites the other.

    Only tensors and plain values (numbers, strings, lists) go in, so torch.load(weights_only=True)
    can read the file back without running any code stored in it.
    """
    name = f"{lesson}_{variant}.pt" if variant else f"{lesson}.pt"
    path = _output_file(None if path is True else path, "checkpoints", name, "checkpoint")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        with atomic_path(path) as temporary:
            torch.save({"lesson": lesson, "model": state, **extra}, temporary)
    except OSError as error:
        raise LessonError(f"cannot write checkpoint {shown(path)}: {error.strerror}") from None
    print(f"checkpoint: {shown(path)}")
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


# --------------------------------------------------------------------------- MNIST files

# The mean and standard deviation of all MNIST training pixels scaled to [0, 1], the numbers of lecture 9's
# transforms.Normalize((0.1307,), (0.3081,)) (data/mnist/PROVENANCE.md).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

MNIST_FILES = {  # uncompressed IDX file -> its size in bytes (see data/mnist/PROVENANCE.md)
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}


def _mnist_is_prepared(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    try:
        return all((raw / name).stat().st_size == size for name, size in MNIST_FILES.items())
    except OSError:
        return False


def mnist_root() -> Path:
    """A folder in which torchvision.datasets.MNIST(root, download=True) finds MNIST already in place,
    so that it downloads nothing.

    torchvision reads uncompressed IDX files from root/MNIST/raw, so the shipped .gz files are checked
    against data/mnist/SHA256SUMS and uncompressed there once: into data/mnist/prepared, or into a
    per-user folder when the course folder cannot be written. Each file is written under a temporary
    name and renamed when complete, so lessons starting at once, or a run killed half-way, never leave a
    half file that is later trusted. (torchvision's own download=True unpacks archives only after its MD5
    check, which the shipped archives, recompressed, do not pass: given them alone, it goes to the
    network. And it writes straight onto the final name and afterwards checks only that the file exists,
    so a run killed half-way would leave a cut-off file that every later run trusts.)
    """
    places = [DATA / "mnist" / "prepared", *_user_folders("mnist")[1:]]
    for root in places:
        if _mnist_is_prepared(root):
            return root
    archives = {name: data_file(Path("mnist") / f"{name}.gz") for name in MNIST_FILES}
    problems = []
    for root in places:
        raw = root / "MNIST" / "raw"
        if not _can_write(raw):
            problems.append(shown(root))
            continue
        for name, size in MNIST_FILES.items():
            if (raw / name).is_file() and (raw / name).stat().st_size == size:
                continue
            with atomic_path(raw / name) as temporary:
                with gzip.open(archives[name], "rb") as compressed, open(temporary, "wb") as out:
                    shutil.copyfileobj(compressed, out, 1 << 20)
        return root
    raise LessonError(f"cannot write the uncompressed MNIST files anywhere: tried {', '.join(problems)}")


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
    """Save fig as <figures>/<name>.png atomically and print where it went."""
    import matplotlib.pyplot as plt

    given = args.figures / f"{name}.png" if args.figures else None
    path = _output_file(given, "figures", f"{name}.png", "figure")
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    except OSError as error:
        raise LessonError(f"cannot write figure {shown(path)}: {error.strerror}") from None
    print(f"figure: {shown(path)}")
    if args.show:
        plt.show()
    plt.close(fig)
    return path


def curves_figure(history: list[dict], right: str = "test_accuracy"):
    """The training loss and another number of each epoch (test accuracy unless said), side by side.
    Returns the figure, whose Axes hold exactly the numbers of history (tests read them back)."""
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (left, right_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [row["train_loss"] for row in history], marker="o")
    left.set(xlabel="epoch", ylabel="loss", title="Training loss")
    right_ax.plot(epochs, [row[right] for row in history], marker="o", color="tab:green")
    title = right.replace("_", " ").capitalize()
    right_ax.set(xlabel="epoch", ylabel="percent" if right.endswith(PERCENT) else "", title=title)
    for ax in (left, right_ax):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole epochs only
    return fig


def plot_curves(history: list[dict], name: str, args, right: str = "test_accuracy") -> Path:
    """curves_figure saved as <figures>/<name>.png."""
    return save_figure(curves_figure(history, right), name, args)


# --------------------------------------------------------------------------- training


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


PERCENT = ("accuracy", "match")  # numbers whose names end so are percentages, 0 to 100


class EpochLog:
    """What every lesson does after an epoch's inner loop, in one call: end_epoch(epoch, name=number, ...).

    It times the epoch, stops a diverging run (watching the first number whose name ends in "loss"),
    keeps the numbers as a row of `history` (which the figures and bench/ read) and prints them on one
    line: the first epochs, every `every`-th and the last (none with show=False), with the epoch's
    seconds where seconds=True (lessons whose epochs take seconds).
    """

    def __init__(self, epochs, lr, reference=None, every=1, show=True, seconds=False):
        self.epochs, self.lr, self.reference, self.every = epochs, lr, reference, every
        self.show, self.seconds = show, seconds
        self.history: list[dict] = []
        THREADS.update(every=0.2)  # the threads for the first epoch, from what the machine did since start-up
        self._started = time.perf_counter()

    def end_epoch(self, epoch: int, **numbers) -> dict:
        seconds = time.perf_counter() - self._started
        loss = next(name for name in numbers if name.endswith("loss"))
        # without a reference given, the first epoch's loss is the starting value divergence is judged by
        reference = (
            self.reference if self.reference is not None or not self.history else self.history[0][loss]
        )
        stop_if_diverged(numbers[loss], self.lr, f"at epoch {epoch}", reference=reference)
        row = {"epoch": epoch, **numbers, "seconds": seconds}
        self.history.append(row)
        if self.show and (epoch <= 3 or epoch % self.every == 0 or epoch == self.epochs):
            shown = [f"epoch {epoch:{len(str(self.epochs))}d}/{self.epochs}"]
            for name, value in numbers.items():
                if isinstance(value, str):
                    text = value
                elif name.endswith(PERCENT):
                    text = f"{value:.2f}%"
                else:
                    text = f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
                shown.append(f"{name.replace('_', ' ')} {text}")
            if self.seconds:
                shown.append(f"{seconds:.1f} s")
            print("   " + "   ".join(shown), flush=True)
        THREADS.update()  # the threads for the next epoch
        self._started = time.perf_counter()
        return row


RESULT_ENV = "COURSE_RESULT_JSON"  # run_course.py and bench/ ask a lesson to write its results here


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
        print("\nstopped by Ctrl-C; nothing was left half-written.", file=sys.stderr)
        sys.exit(130)
    if os.environ.get(RESULT_ENV) and isinstance(results, dict):
        with atomic_path(Path(os.environ[RESULT_ENV])) as temporary:
            temporary.write_text(json.dumps(results, default=str))
