"""First-run preparation of MNIST is safe: concurrent starts, kills half-way, a read-only repository."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

import lesson_tools as kit

PREPARE = "import lesson_tools as kit; print(kit.mnist_root())"


def prepared_files_are_whole(root):
    raw = root / "MNIST" / "raw"
    files = {path.name: path.stat().st_size for path in raw.iterdir() if not path.name.endswith(".tmp")}
    return all(kit.MNIST_FILES[name] == size for name, size in files.items())


def start_preparation(root):
    env = {**os.environ, kit.MNIST_CACHE_ENV: str(root), "COURSE_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", PREPARE], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )


def test_several_lessons_starting_at_once_all_get_whole_files(tmp_path):
    processes = [start_preparation(tmp_path) for _ in range(3)]
    outputs = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0]
    assert outputs == [str(tmp_path)] * 3
    assert kit._is_prepared(tmp_path) and prepared_files_are_whole(tmp_path)
    assert not list((tmp_path / "MNIST" / "raw").glob("*.tmp"))


def test_a_run_killed_half_way_leaves_nothing_that_is_trusted(tmp_path):
    process = start_preparation(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    deadline = time.time() + 60
    while not (raw.is_dir() and any(raw.iterdir())) and time.time() < deadline:  # until it writes
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)  # no clean-up code runs: the worst case
    process.wait()
    assert prepared_files_are_whole(tmp_path)  # whatever has its final name is complete
    rerun = start_preparation(tmp_path)
    assert rerun.communicate(timeout=120)[0].strip() == str(tmp_path) and rerun.returncode == 0
    assert kit._is_prepared(tmp_path)


def test_read_only_repository_falls_back_to_a_cache(tmp_path, monkeypatch):
    # Permission bits do not stop root (CI runs as root), so the repository's folder is made unusable
    # in a way that stops everyone: a plain file stands where the folder would be created.
    blocked = tmp_path / "repo-data-is-a-file"
    blocked.write_text("not a folder")
    cache = tmp_path / "cache"
    monkeypatch.setattr(kit, "_mnist_roots", lambda: [blocked / "prepared", cache])
    assert kit.mnist_root() == cache
    assert kit._is_prepared(cache)


def test_nowhere_to_write_is_a_clear_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(kit, "_mnist_roots", lambda: [blocked / "a", blocked / "b"])
    with pytest.raises(kit.LessonError, match="cannot write the uncompressed MNIST files anywhere"):
        kit.mnist_root()


def test_shipped_mnist_absent_and_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(kit.MNIST_CACHE_ENV, str(tmp_path / "cache"))
    empty = tmp_path / "mnist"
    empty.mkdir()
    with pytest.raises(kit.LessonError, match=r"shipped MNIST files are missing.*git checkout -- data/mnist"):
        kit.mnist_root(empty)
