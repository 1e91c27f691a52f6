"""Lesson 09: DistributedDataParallel on 2 CPU processes (gloo over loopback) matches 1 process."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, load_lesson


@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("n", [60_000, 6_000, 7])
def test_shards_are_disjoint_and_cover_the_training_set(world_size, n):
    lesson = load_lesson("09_ddp_mnist")
    for epoch in (1, 2):
        shards = [
            set(lesson.shard_of_epoch(n, rank, world_size, epoch, seed=0).tolist())
            for rank in range(world_size)
        ]
        for a in range(world_size):
            for b in range(a + 1, world_size):
                # DistributedSampler pads n up to a multiple of world_size by repeating a few indices;
                # with n divisible by the world size (as for MNIST's 60,000 and 2 or 3 ranks) there is none
                assert len(shards[a] & shards[b]) <= (-n) % world_size
        assert set().union(*shards) == set(range(n))
    assert (
        lesson.shard_of_epoch(n, 0, world_size, 1, 0).tolist()
        != lesson.shard_of_epoch(n, 0, world_size, 2, 0).tolist()
    )


def run_ddp(tmp_path, processes, *flags):
    """09 in quick mode as torchrun starts it; returns its results dict."""
    result_file = tmp_path / f"result_{processes}.json"
    env = {**os.environ, "COURSE_OFFLINE": "1", "COURSE_RESULT_JSON": str(result_file)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    result = subprocess.run(
        [*command, str(REPO / "09_ddp_mnist.py"), "--quick", "--no-figures", "--device", "cpu", *flags],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result_file.read_text())


def test_two_processes_learn_like_one(tmp_path):
    one = load_lesson("09_ddp_mnist").main(["--quick", "--no-figures", "--device", "cpu"])
    two = run_ddp(tmp_path, 2, "--save", str(tmp_path / "cnn.pt"))
    assert one["world_size"] == 1 and two["world_size"] == 2
    # 1 epoch on 6,000 images: chance is 10%; 85% shows the CNN learned. Both runs take the same global
    # batches with averaged gradients, so they must agree to well within a point.
    assert one["test_accuracy"] > 85 and two["test_accuracy"] > 85
    assert abs(one["test_accuracy"] - two["test_accuracy"]) < 1.0
    assert two["train_loss_first"] == pytest.approx(one["train_loss_first"], rel=0.02)

    # rank 0 alone wrote the checkpoint, and it is a plain lesson 07 model with the same accuracy
    reloaded = load_lesson("07_cnn_mnist").main(["--load", str(tmp_path / "cnn.pt"), "--no-figures"])
    assert reloaded["test_accuracy"] == pytest.approx(two["test_accuracy"], abs=1e-9)


def test_auto_on_a_mac_trains_on_the_cpu_and_mps_asked_for_is_refused(monkeypatch):
    import lesson_tools as kit

    lesson = load_lesson("09_ddp_mnist")
    monkeypatch.setattr(kit, "pick_device", lambda name: __import__("torch").device("mps"))
    with pytest.raises(kit.LessonError, match="no backend for mps; use --device cpu"):
        lesson.main(["--device", "mps", "--quick", "--no-figures"])
    assert lesson.main(["--quick", "--no-figures"])["world_size"] == 1  # auto: gloo on the CPU
