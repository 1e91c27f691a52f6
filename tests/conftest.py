"""What the tests share: loading a lesson by file name, running one as a learner does, and the quick
training runs that several tests inspect (each trained once per session, not once per test)."""

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # lets the lessons' `import lesson_tools` work under pytest

# pytest runs the files on two worker processes (pyproject.toml: -n 2): each gets one thread, so that the
# two never wait for each other's threads; the lessons' own processes started by a test inherit it.
# `python -m pytest -p no:xdist` runs in one process with PyTorch's own thread count, another summation
# order worth checking before a change lands (CONTRIBUTING.md).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import lesson_tools as kit  # noqa: E402

import torch  # noqa: E402  (after OMP_NUM_THREADS above, which PyTorch reads as it starts)
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

# The lessons' thread count follows the machine's load (lesson_tools.ThreadPolicy); in the tests it stays
# put, so that two runs of a lesson round alike whatever else the machine is doing.
kit.THREADS.adapt = False


def load_lesson(name: str):
    """Import e.g. '03_logistic' as a module: a name that starts with a digit cannot be imported by name."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # DataLoader workers that unpickle the lesson's classes find it here
        spec.loader.exec_module(module)
    return sys.modules[name]


def quick(lesson: str, *flags: str) -> dict:
    """A lesson's --quick run without figures, in this process; returns what its main() returns."""
    return load_lesson(lesson).main(["--quick", "--no-figures", *flags])


def run_printed(lesson: str, *flags: str):
    """A lesson's main() with the given flags, in this process: (results, the lines it printed)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        results = load_lesson(lesson).main(list(flags))
    return results, output.getvalue().splitlines()


def diabetes_rows():
    """The diabetes split recomputed from the CSV, independently of the lessons' own loading."""
    import numpy as np
    import torch

    xy = np.loadtxt(REPO / "data" / kit.DIABETES_CSV, delimiter=",", skiprows=1, dtype=np.float32)
    return kit.diabetes_split(torch.from_numpy(xy[:, :-1]), torch.from_numpy(xy[:, -1:]))


def percent_right(model, x, y):
    """The percent of rows whose probability is on the right side of 0.5."""
    import torch

    with torch.no_grad():
        return 100.0 * ((model.eval()(x) > 0.5).float() == y).float().mean().item()


def run_script(script, *args, cwd, env=None, timeout=120, **popen):
    """Run a lesson as a learner does, as its own process; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def inputs_seen(model, layers, x):
    """Everything the given layers of model received in one forward pass of x, as one flat tensor."""
    import torch

    seen = []
    hooks = [
        layer.register_forward_hook(lambda _, args, out: seen.append(args[0].flatten())) for layer in layers
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return torch.cat(seen)


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    """Tests never open a window."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def course_in(monkeypatch, tmp_path):
    """The course's own output folders (figures/, checkpoints/) moved into a temporary folder, for tests
    of what a lesson writes when no path is given; the shipped data is still read from data/."""
    monkeypatch.setattr(kit, "REPO", tmp_path / "course")
    return tmp_path / "course"


@pytest.fixture(scope="session")
def _runs(tmp_path_factory):
    """The quick runs of the session: (lesson, flags) -> (results, checkpoint, figures folder, printed
    lines). Each is run once, whichever of `trained` and `printed` asks first."""
    runs = {}

    def get(lesson, *flags):
        if (lesson, flags) not in runs:
            folder = tmp_path_factory.mktemp(lesson)
            saves = "add_checkpoint_flags(" in (REPO / f"{lesson}.py").read_text()  # has --save
            argv = ["--quick", "--figures", str(folder / "figures"), *flags]
            argv += ["--save", str(folder / "model.pt")] if saves else []
            results, lines = run_printed(lesson, *argv)
            runs[lesson, flags] = (
                results,
                folder / "model.pt",
                folder / "figures",
                lines,
            )
        return runs[lesson, flags]

    return get


@pytest.fixture(scope="session")
def trained(_runs):
    """Quick runs shared by many tests: trained(lesson, *flags) -> (results, saved checkpoint, figures
    folder), run once per session with --quick, --figures, the flags given, and --save where the lesson
    has it."""
    return lambda lesson, *flags: _runs(lesson, *flags)[:3]


@pytest.fixture(scope="session")
def printed(_runs):
    """The lines the same quick run printed, as the learner reads them: printed(lesson, *flags)."""
    return lambda lesson, *flags: _runs(lesson, *flags)[3]


def masked(lines: list[str]) -> list[str]:
    """Printed lines with every time in seconds masked, for comparing two runs."""
    return [re.sub(r"\d+(\.\d+)? ?s\b", "<s>", line) for line in lines]


# ----------------------------------------------------------------------------- MNIST lessons (06, 07, 12)

PNG = b"\x89PNG\r\n\x1a\n"


def real_picture(path):
    """A PNG file that shows something: not empty, not one flat colour."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    pixels = matplotlib.image.imread(path)
    return pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.05


def tiny_loader(n=10, batch_size=4, seed=0):
    """n random images with random labels, in batches of 4, 4 and 2: the last batch is smaller."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size)


def frozen_optimizer(model):
    """An optimizer and a schedule that leave the weights where they are."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
