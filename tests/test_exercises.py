"""The exercise checker can fail, and never fails a right answer: every solution and every alternative
correct answer in the check modules (CORRECT) passes, every realistic wrong answer (WRONG) fails with the
message that names its mistake, an untouched exercise is "not done yet", and the runner shows the learner
what happened: their output, their own traceback lines, a loop that never ends stopped at its line.

CORRECT and WRONG live beside each check, in exercises/checks/<exercise>.py, so a new exercise needs no
code here. They run in this process on one fixed seed (bench/exercises.py --sweep runs them on 20); the
runner's tests go through check.py's main(), whose checks run in one worker process shared by the tests.
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

EXERCISES = REPO / "exercises"
SOLUTIONS = EXERCISES / "solutions"
SEED = 20240607  # fixed, so that a failure here repeats
sys.path.insert(0, str(EXERCISES))
from checks import common  # noqa: E402

_spec = importlib.util.spec_from_file_location("exercises_check", EXERCISES / "check.py")
checker = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = checker  # dataclasses look their module up by name
_spec.loader.exec_module(checker)

NAMES = common.names()
SPECS = {name: common.load_check(name) for name in NAMES}
FIRST_TO_WRITE = {  # the function each untouched exercise names first (the new exercises: any)
    "01_hand_gradients": "gradients()",
    "02_optimizers": "train()",
    "03_stable_bce": "sigmoid()",
    "04_deep_network": "Model.__init__()",
    "05_words_dataset": "WordsDataset.__init__()",
    "06_softmax_cross_entropy": "softmax()",
    "07a_conv_sizes": "conv_output_size()",
    "07b_residual_block": "ResidualBlock.__init__()",
    "08_rnn_step": "rnn_step()",
    "09_last_hidden": "last_hidden()",
    "10_temperature": "temperature_probabilities()",
    "11_attention_mask": "attention_weights()",
    "12_distributed_sampler": "split_indices()",
}
CORRECT = [(name, style) for name in NAMES for style in ["solution", *SPECS[name].CORRECT]]
WRONG = [(name, mistake) for name in NAMES for mistake in SPECS[name].WRONG]


def solution(name):
    return (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")


def answer(name, change):
    return solution(name) if change is None else common.apply(solution(name), change)


def write(folder, name, text):
    (folder / f"{name}.py").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module", autouse=True)
def _one_worker():
    yield
    checker.close_worker()


def test_every_exercise_has_its_files_metadata_and_answers():
    catalogue = checker.catalogue()
    assert [e.name for e in catalogue] == NAMES == sorted(NAMES)
    assert [e.lesson for e in catalogue] == sorted(e.lesson for e in catalogue)  # in lesson order
    assert {f"{n:02d}" for n in range(1, 13)} <= {e.lesson for e in catalogue}
    assert len({e.number for e in catalogue}) == len(catalogue)
    for exercise in catalogue:
        spec = SPECS[exercise.name]
        assert spec.NAME == exercise.name and exercise.number == exercise.lesson + exercise.number[2:]
        assert exercise.idea and exercise.lecture and len(exercise.hints) >= 2, exercise.name
        assert len(spec.CORRECT) >= 3 and len(spec.WRONG) >= 5, exercise.name
        for folder in (EXERCISES, SOLUTIONS):
            text = (folder / f"{exercise.name}.py").read_text(encoding="utf-8")
            assert f"Follows {checker.follows(exercise)}." in text, exercise.name
            assert "# ---- your code here ----" in text
        assert "raise NotImplementedError" in (EXERCISES / f"{exercise.name}.py").read_text(encoding="utf-8")


def test_no_hint_is_a_finished_line_of_the_solution():
    for name in NAMES:
        code = [line.split("#")[0].strip() for line in solution(name).splitlines()]
        finished = [
            line
            for line in code
            if len(line) >= 16 and not line.startswith(("def ", "class ", "import ", "from "))
        ]
        for hint in SPECS[name].HINTS:
            flat = " ".join(hint.split())
            assert not [line for line in finished if line in flat], (name, hint)


@pytest.mark.parametrize(("name", "style"), CORRECT, ids=[f"{n[:3].rstrip('_')}-{s}" for n, s in CORRECT])
def test_a_correct_answer_passes(name, style):
    source = answer(name, None if style == "solution" else SPECS[name].CORRECT[style])
    result = common.run_check(name, SOLUTIONS, SEED, source=source)
    assert result["status"] == "done", f"{name}, {style}: {result['message']}"


@pytest.mark.parametrize(("name", "mistake"), WRONG, ids=[f"{n[:3].rstrip('_')}-{m}" for n, m in WRONG])
def test_a_wrong_answer_fails_and_its_message_names_the_mistake(name, mistake):
    change, says = SPECS[name].WRONG[mistake]
    result = common.run_check(name, SOLUTIONS, SEED, source=answer(name, change))
    assert result["status"] in ("wrong", "error"), f"{name}, {mistake}: accepted"
    assert says in result["message"], result["message"]
    assert result["summary"] == result["message"].splitlines()[0] != ""


def _edited(path):
    """Whether a learner has changed this shipped file (then its untouched state cannot be tested)."""
    try:
        changed = subprocess.run(
            ["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--", str(path)], timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return changed.returncode == 1


@pytest.mark.parametrize("name", NAMES)
def test_untouched_exercise_is_not_done_and_names_its_function(name):
    path = EXERCISES / f"{name}.py"
    if _edited(path):
        pytest.skip(f"{path.name} has been edited since the last commit")
    result = common.run_check(name, EXERCISES, SEED)
    assert result["status"] == "not done", result["message"]
    assert result["message"].startswith("not done yet: write " + FIRST_TO_WRITE.get(name, ""))
    assert "Traceback" not in result["message"]


def test_a_forbidden_function_is_refused_however_it_is_reached():
    reached = {
        "imported under another name": [
            ("import torch\n", "import torch\nfrom torch import softmax as probabilities\n"),
            ("    exps = torch.exp(shifted)\n    return", "    return probabilities(scores, 1)\n    return"),
        ],
        "looked up at run time": [
            (
                "    exps = torch.exp(shifted)\n    return",
                '    return getattr(torch, "soft" + "max")(scores, 1)\n    return',
            )
        ],
        "hidden by an except": [
            (
                "    exps = torch.exp(shifted)\n    return",
                '    try:\n        getattr(torch.nn.functional, "softmax")(scores, 1)\n    except Exception:\n'
                "        pass\n    exps = torch.exp(shifted)\n    return",
            )
        ],
    }
    for how, change in reached.items():
        result = common.run_check(
            "06_softmax_cross_entropy", SOLUTIONS, SEED, source=answer("06_softmax_cross_entropy", change)
        )
        assert (
            result["status"] == "wrong"
            and "softmax" in result["summary"]
            and "your code uses" in result["summary"]
        ), how


# --------------------------------------------------------------------------- the runner, as the learner sees it


def test_numbers_match_exactly_and_an_unknown_one_names_the_nearest():
    assert [e.name for e in checker.find("07")] == [n for n in NAMES if n.startswith("07")]
    assert [e.name for e in checker.find("07a")] == ["07a_conv_sizes"]
    assert [e.name for e in checker.find("01")] == [n for n in NAMES if re.match(r"01[a-z]?_", n)]
    assert [e.name for e in checker.find("exercises/06_softmax_cross_entropy.py")] == [
        "06_softmax_cross_entropy"
    ]
    with pytest.raises(SystemExit, match=r"no exercise 1\b.*nearest: 01"):
        checker.find("1")
    with pytest.raises(SystemExit, match="no exercise 13.*nearest: 12"):
        checker.find("13")


def test_the_table_lists_every_exercise_with_its_lesson_lecture_slide_and_idea(capsys):
    assert checker.main(["--table"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == len(NAMES)
    for row, exercise in zip(rows, checker.catalogue()):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells == [
            f"[`{exercise.name}.py`](exercises/{exercise.name}.py)",
            exercise.lesson,
            exercise.lecture,
            exercise.slide,
            exercise.idea,
        ]


def test_hints_come_one_at_a_time_when_asked_and_never_with_a_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    hints = SPECS["06_softmax_cross_entropy"].HINTS
    for step in range(len(hints) + 1):
        assert checker.main(["--hint", "06_softmax_cross_entropy"]) == 0
        out = capsys.readouterr().out
        shown = min(step, len(hints) - 1)
        assert f"Hint {shown + 1} of {len(hints)}" in out and " ".join(hints[shown].split()[:6]) in " ".join(
            out.split()
        )
    assert "last hint" in out
    with pytest.raises(SystemExit, match="no exercise 1"):
        checker.main(["--hint", "1"])

    write(
        tmp_path,
        "06_softmax_cross_entropy",
        answer("06_softmax_cross_entropy", SPECS["06_softmax_cross_entropy"].WRONG["sum, not mean"][0]),
    )
    assert checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "06_softmax_cross_entropy"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "times too big" in out and "--hint 06" in out
    assert not any(" ".join(hint.split()[:6]) in out for hint in hints)


def test_a_run_lists_every_exercise_shows_its_output_and_says_what_to_do_next(tmp_path, capsys):
    printing = solution("01_hand_gradients").replace(
        "    w2, w1, b = 0.0, 0.0, 0.0\n",
        '    w2, w1, b = 0.0, 0.0, 0.0\n    print("starting at", w2, w1, b)\n',
    )
    write(tmp_path, "01_hand_gradients", printing)
    write(
        tmp_path,
        "06_softmax_cross_entropy",
        answer("06_softmax_cross_entropy", SPECS["06_softmax_cross_entropy"].WRONG["sum, not mean"][0]),
    )
    write(tmp_path, "09_last_hidden", (EXERCISES / "09_last_hidden.py").read_text(encoding="utf-8"))
    write(tmp_path, "12_distributed_sampler", solution("12_distributed_sampler"))
    status = checker.main(
        [
            "--folder",
            str(tmp_path),
            "--seed",
            str(SEED),
            *(n for n in NAMES if n[:2] in ("01", "06", "09", "12") and n[2] == "_"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    lines = out.splitlines()
    assert f"seed {SEED}" in lines[0]
    verdicts = [line.split()[:2] for line in lines if re.match(r"  (done|wrong|not done|error) ", line)]
    assert [v[0] for v in verdicts] == ["done", "wrong", "not", "done"]
    assert "      your code printed:" in out and "      | starting at 0.0 0.0 0.0" in out
    assert out.index("| starting at") < out.index("06_softmax_cross_entropy.py")  # under its own exercise
    assert "write last_hidden()" in out and "2 of 4 done." in out
    assert f"Next: {tmp_path / '06_softmax_cross_entropy.py'}" in out and "times too big" in out
    assert f"check.py --folder {tmp_path} 06" in out

    assert (
        checker.main(["--folder", str(tmp_path), "12_distributed_sampler"]) == 0
    )  # 0 only when every one selected is done
    assert "1 of 1 done." in capsys.readouterr().out


def test_the_seed_repeats_the_inputs_and_the_starting_weights(tmp_path, capsys):
    block = answer("07b_residual_block", SPECS["07b_residual_block"].WRONG["5x5 kernels"][0]).replace(
        "        self.conv2 = nn",
        "        print('start', self.conv1.weight.flatten()[:3].tolist())\n        self.conv2 = nn",
    )
    write(tmp_path, "07b_residual_block", block)
    write(tmp_path, "08_rnn_step", answer("08_rnn_step", SPECS["08_rnn_step"].WRONG["no biases"][0]))
    outs = []
    for seed in (SEED, SEED, SEED + 1):
        checker.main(["--folder", str(tmp_path), "--seed", str(seed), "07b", "08_rnn_step"])
        out = capsys.readouterr().out
        outs.append(out[out.index("\n") :])  # all but the line naming the seed
    assert "| start [" in outs[0] and "nn.RNN gives [" in outs[0]
    assert outs[0] == outs[1]
    started = [re.search(r"\| start (.*)", out).group(1) for out in outs]
    assert started[0] != started[2] and outs[0] != outs[2]


def test_the_learners_traceback_keeps_all_their_lines_and_none_of_the_checkers(tmp_path, capsys):
    nested = solution("08_rnn_step").replace(
        "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
        "    return torch.tanh(mix(x, W_ih, b_ih) + mix(h, W_hh, b_hh))\n\n\ndef mix(v, W, b):\n    return v @ W + b",
    )
    write(tmp_path, "08_rnn_step", nested)
    write(tmp_path, "09_last_hidden", "def last_hidden(outputs, lengths)\n    return outputs\n")
    assert checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "08_rnn_step"]) == 1
    out = capsys.readouterr().out
    message = out[out.index("Next:") :]
    assert "your code raised RuntimeError" in message
    assert "in rnn_step" in message and "return torch.tanh(mix(x, W_ih, b_ih)" in message
    assert "in mix" in message and "return v @ W + b" in message
    assert (
        "check.py" not in message.split("Check it alone")[0]
        and "checks" not in message
        and "torch/" not in message
    )
    assert checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "09_last_hidden"]) == 1
    out = capsys.readouterr().out
    assert "SyntaxError" in out and "line 1" in out


def test_watch_checks_again_when_a_file_is_saved_and_ctrl_c_ends_it(tmp_path, capsys, monkeypatch):
    path = tmp_path / "07a_conv_sizes.py"
    path.write_text((EXERCISES / "07a_conv_sizes.py").read_text(encoding="utf-8"))
    naps = []

    def nap(seconds):  # stands in for time.sleep: the learner saves the solution, then presses Ctrl-C
        naps.append(seconds)
        if len(naps) == 1:
            path.write_text(solution("07a_conv_sizes"))
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(checker.time, "sleep", nap)
    assert checker.main(["--folder", str(tmp_path), "--watch", "07a"]) == 0
    out = capsys.readouterr().out
    assert out.index("not done yet") < out.index("1 of 1 done.")
    assert out.rstrip().endswith("Stopped watching.")


def test_what_one_exercise_changes_in_the_process_does_not_fail_the_next(tmp_path, capsys):
    """The checks share one worker process: a file that changes torch's defaults or closes sys.stdout at
    its top must not make a later correct answer fail (nor be blamed for ending the process)."""
    changes = (
        "import sys\nimport torch\n\ntorch.set_default_dtype(torch.float64)\ntorch.set_grad_enabled(False)\n"
        "torch.use_deterministic_algorithms(True)\nsys.stdout.close()\n"
    )
    write(tmp_path, "01_hand_gradients", changes + solution("01_hand_gradients"))
    write(tmp_path, "07a_conv_sizes", solution("07a_conv_sizes"))
    write(tmp_path, "09_last_hidden", solution("09_last_hidden"))  # an nn.RNN in float32: dtype-sensitive
    checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "01_hand_gradients", "07a", "09"])
    out = capsys.readouterr().out
    lines = {
        line.split()[1]: line.split()[0]
        for line in out.splitlines()
        if line.startswith("  ") and ".py" in line
    }
    assert lines["07a_conv_sizes.py"] == lines["09_last_hidden.py"] == "done", out
    assert "ended the process" not in out, out


def test_nothing_the_learners_code_does_passes_for_done(tmp_path, capsys):
    """Last in this file: it ends the shared worker twice (a loop that never ends, then os._exit)."""
    fake = (
        "import sys\n"
        + solution("05_words_dataset")
        + '\nprint("  done          05_words_dataset.py")\nprint("1 of 1 done.")\nsys.stdout.flush()\nsys.exit(0)\n'
    )
    write(tmp_path, "05_words_dataset", fake)
    write(tmp_path, "07a_conv_sizes", solution("07a_conv_sizes"))
    write(
        tmp_path,
        "08_rnn_step",
        solution("08_rnn_step").replace(
            "    # ---- your code here ----\n",
            "    # ---- your code here ----\n    while True:\n        pass\n",
        ),
    )
    write(tmp_path, "09_last_hidden", "import os\n\nos._exit(0)\n")
    names = [
        "05_words_dataset",
        "07a_conv_sizes",
        "08_rnn_step",
        "09_last_hidden",
    ]  # the worker ends in the last two
    status = checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "--time-limit", "2", *names])
    out = capsys.readouterr().out
    assert status == 1
    verdicts = [
        line.split()[0] for line in out.splitlines() if re.match(r"  (done|wrong|not done|error) ", line)
    ]
    assert verdicts == ["error", "done", "error", "error"], out
    assert "stopped after 2 s at line" in out and "in rnn_step()" in out
    looping = (tmp_path / "08_rnn_step.py").read_text().splitlines().index("        pass") + 1
    assert f"stopped after 2 s at line {looping - 1}" in out or f"stopped after 2 s at line {looping}" in out
    assert "your code ended the process (exit status 0)" in out
    assert "SystemExit" in out and "1 of 4 done." in out
    assert "      | 1 of 1 done." in out  # the fake lines are shown as the learner's output, marked as such
    assert out.index("| 1 of 1 done.") < out.index("07a_conv_sizes.py")


def test_ctrl_c_and_a_closed_pipe_end_quietly(tmp_path):
    write(tmp_path, "07a_conv_sizes", solution("07a_conv_sizes"))
    command = [sys.executable, str(EXERCISES / "check.py"), "--folder", str(tmp_path), "07a"]
    piped = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert piped.stdout.readline().startswith("Checking")
    piped.stdout.close()  # as `| head -1` does
    assert "Traceback" not in piped.stderr.read()
    piped.wait(timeout=120)

    stopped = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert stopped.stdout.readline().startswith("Checking")
    time.sleep(0.3)
    os.killpg(stopped.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, worker included
    out, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 130 and "Traceback" not in out + err and "Stopped by Ctrl-C." in err
