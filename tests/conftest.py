"""Lessons are scripts whose names start with a digit, so tests load them by file name."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # lets the lessons' `import lesson_tools` work under pytest


def load_lesson(name: str):
    """Import e.g. '03_logistic' from the repository root as a module."""
    import lesson_tools

    return lesson_tools.import_lesson(name)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Test machines are often shared, and two threads that must wait for each other at every operation
    then run many times slower than one: one thread keeps the suite's minutes predictable."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _offline_headless_and_isolated(monkeypatch):
    """Tests never touch the network and never open a window; a lesson's thread setting ends with it."""
    import torch

    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the same for lessons the tests start as processes
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_script(script, *args, cwd=None, env=None, timeout=120):
    """Run a lesson as a learner does, from another folder by default; returns the CompletedProcess."""
    import os
    import subprocess
    import tempfile

    environment = {
        **os.environ,
        "COURSE_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd or tempfile.gettempdir(),
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
