"""run_course.py, the course runner: every lesson in its own process, the flags passed on, a summary."""

import re

import pytest
import torch
from conftest import run_script


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_an_expected_problem_ends_a_lesson_in_one_line_and_the_runner_goes_on(tmp_path, capsys):
    """The lesson runs as its own process, as a learner starts it: it must end with the one line of its
    LessonError (no traceback) and exit status 1, and the runner must say so and exit 1."""
    import run_course

    assert run_course.main(["--only", "01", "--quick", "--no-figures", "--device", "cuda"]) == 1
    out = capsys.readouterr().out
    assert out.count("===== ") == 2  # the one lesson asked for, then the summary
    shown = out.split("===== 01_autograd ")[1].split("\n", 1)[1].split("\n=====")[0].strip().splitlines()
    assert len(shown) == 1 and shown[0].startswith("error: --device cuda was asked for, but PyTorch sees no")
    assert re.search(r"01_autograd +[\d.]+ s  FAILED \(exit status 1\)", out)
    assert "1 lesson(s) failed: 01_autograd" in out


def test_the_runner_passes_its_flags_to_every_lesson_it_runs(monkeypatch, tmp_path):
    import run_course

    calls = []

    def fake_run(lesson, flags, own_flags=()):
        calls.append((lesson, list(flags), list(own_flags)))
        return {
            "lesson": " ".join([lesson, *own_flags]),
            "ok": True,
            "summary": "-",
            "seconds": 0.0,
            "figures": [],
        }

    monkeypatch.setattr(run_course, "run_lesson", fake_run)
    flags = ["--only", "3,11", "--quick", "--no-figures", "--device", "cpu", "--figures", str(tmp_path)]
    assert run_course.main([*flags, "--markdown", str(tmp_path / "new" / "r.md")]) == 0
    expected = ["--quick", "--no-figures", "--device", "cpu", "--figures", str(tmp_path)]
    assert calls == [
        ("03_logistic", expected, []),
        ("11_seq2seq", expected, []),
        ("11_seq2seq", expected, ["--attention"]),
    ]
    assert (tmp_path / "new" / "r.md").read_text().count("| `") == 3  # a new folder is made for it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run_course.main(["--only", "3", "--markdown", "~/summary.md"]) == 0
    assert (tmp_path / "home" / "summary.md").read_text().count("| `") == 1  # ~ is the learner's home
    calls.clear()
    assert run_course.main(["--only", "2"]) == 0 and calls == [("02_linear_regression", [], [])]
    with pytest.raises(SystemExit):
        run_course.main(["--only", "13"])


def test_the_runner_gives_a_quick_lesson_its_quick_result(tmp_path):
    # 01 --quick trains 10 epochs of the lecture's gradient descent from w = 1 at lr 0.01, worked out here
    w = 1.0
    for _ in range(10):
        for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
            w -= 0.01 * 2 * x * (x * w - y)
    done = run_script(
        "run_course.py", "--only", "01", "--quick", "--no-figures", "--markdown", "r.md", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"predict(4) = {4 * w:.2f}" in (tmp_path / "r.md").read_text()
