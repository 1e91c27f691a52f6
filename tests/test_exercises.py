"""The exercise checker can fail: every solution passes, every untouched exercise is "not done yet", and
for every exercise a realistic wrong answer fails with the message that names the mistake.

Wrong answers are the solution with one edit, written to a temporary folder; the real files are never
touched. The checker runs in this process (importing torch once), except for one run from another folder.
"""

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import REPO

EXERCISES = REPO / "exercises"
SOLUTIONS = EXERCISES / "solutions"
SEED = 20240607  # the wrong answers' inputs: fixed, so that a failure here repeats

_spec = importlib.util.spec_from_file_location("exercises_check", EXERCISES / "check.py")
checker = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = checker  # dataclasses look their module up by name
_spec.loader.exec_module(checker)

NAMES = [exercise.name for exercise in checker.CATALOGUE]
FIRST_TO_WRITE = {  # the function each untouched exercise names first
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


def broken(tmp_path, name, edits, seed=SEED):
    """Check the solution of `name` with each (old, new) edit made; each old text must occur exactly once
    (or as often as a third element says)."""
    source = (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")
    for old, new, *count in edits:
        assert source.count(old) == (count[0] if count else 1), (
            f"{old!r} is not in the solution of {name} as expected"
        )
        source = source.replace(old, new)
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    return checker.check(name, tmp_path, seed)


def test_every_lesson_has_an_exercise_in_order_and_a_solution():
    assert [e.lesson for e in checker.CATALOGUE] == sorted(e.lesson for e in checker.CATALOGUE)
    assert {e.lesson for e in checker.CATALOGUE} == {f"{n:02d}" for n in range(1, 13)}
    on_disk = sorted(path.stem for path in EXERCISES.glob("[0-9]*.py"))
    assert on_disk == NAMES == sorted(path.stem for path in SOLUTIONS.glob("[0-9]*.py"))
    for exercise in checker.CATALOGUE:
        for folder in (EXERCISES, SOLUTIONS):
            text = (folder / f"{exercise.name}.py").read_text(encoding="utf-8")
            assert f"Follows {checker.follows(exercise)}." in text, exercise.name
            assert "# ---- your code here ----" in text
        assert "raise NotImplementedError" in (EXERCISES / f"{exercise.name}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes(name):
    seed = checker.new_seed()
    result = checker.check(name, SOLUTIONS, seed)
    assert result.status == "done", f"seed {seed}: {result.message}"


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
    result = checker.check(name)
    assert result.status == "not done", result.message
    assert result.message.startswith("not done yet: write " + FIRST_TO_WRITE[name])
    assert "Traceback" not in result.message


WRONG = [  # (exercise, edits of its solution, what the message must say)
    (
        "01_hand_gradients",
        [("d_loss_d_yhat * x * x, d_loss_d_yhat * x,", "d_loss_d_yhat * x * x, d_loss_d_yhat,")],
        "d loss/d w1 is",
    ),
    (
        "01_hand_gradients",
        [("d_loss_d_yhat * x * x, d_loss_d_yhat * x,", "d_loss_d_yhat * x * x, d_loss_d_yhat,")],
        "off by a factor of x: did the chain rule stop early?",
    ),
    (
        "01_hand_gradients",
        [("d_loss_d_yhat * x * x, d_loss_d_yhat * x,", "d_loss_d_yhat * x, d_loss_d_yhat * x,")],
        "d loss/d w2 is",
    ),
    (
        "01_hand_gradients",
        [("2 * (forward(x, w2, w1, b) - y)", "2 * (y - forward(x, w2, w1, b))")],
        "wrong sign",
    ),
    (
        "01_hand_gradients",
        [("2 * (forward(x, w2, w1, b) - y)", "(forward(x, w2, w1, b) - y)")],
        "Was the 2 lost?",
    ),
    ("01_hand_gradients", [("w1 -= lr * d_w1", "w1 += lr * d_w1")], "against the gradient"),
    (
        "02_optimizers",
        [("optimizer.step(closure)  #", "closure()\n        optimizer.step()  #")],
        "LBFGS looks at the loss several times",
    ),
    ("02_optimizers", [("        optimizer.zero_grad()  #", "        #")], "never zeroed"),
    ("02_optimizers", [("        return loss  #", "        #")], "returned None"),
    (
        "03_stable_bce",
        [("return 1 / (1 + torch.exp(-z))", "return torch.exp(z) / (1 + torch.exp(z))")],
        "sigmoid(1000) is nan",
    ),
    (
        "03_stable_bce",
        [("return 1 / (1 + torch.exp(-z))", "return torch.sigmoid(z)")],
        "called torch.sigmoid",
    ),
    (
        "03_stable_bce",
        [
            (
                "losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))",
                "p = sigmoid(scores)\n    losses = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))",
            )
        ],
        "the log of 0 is -inf",
    ),
    ("03_stable_bce", [("return losses.mean()", "return losses.sum()")], "times too big"),
    (
        "04_deep_network",
        [("self.activation = nn.ReLU()", "self.activation = nn.Sigmoid()")],
        "vanishing gradient",
    ),
    ("04_deep_network", [("[8] + [16] * 10", "[8] + [16] * 3")], "Model has 4 nn.Linear layers"),
    (
        "04_deep_network",
        [("return torch.sigmoid(self.out(x))", "return self.out(x)")],
        "must be probabilities",
    ),
    ("05_words_dataset", [("return padded, lengths,", "return padded.T, lengths,")], "batch_first=True"),
    (
        "05_words_dataset",
        [
            (
                "rows = list(csv.DictReader(file))",
                "rows = [dict(word=w, language=g) for w, g in csv.reader(file)]",
            )
        ],
        "Your count includes the header line",
    ),
    (
        "05_words_dataset",
        [('"".join(sorted(set("".join(self.words))))', '"".join(set("".join(self.words)))')],
        "sort them",
    ),
    ("05_words_dataset", [("{c: i + 1 for", "{c: i for")], "numbered from 1"),
    (
        "05_words_dataset",
        [("padded[row, : len(word)] = word", "padded[row, -len(word) :] = word")],
        "Pad with 0 after",
    ),
    (
        "06_softmax_cross_entropy",
        [
            (
                "scores.max(dim=1, keepdim=True).values\n    exps",
                "scores.max(dim=0, keepdim=True).values\n    exps",
            ),
            ("exps / exps.sum(dim=1, keepdim=True)", "exps / exps.sum(dim=0, keepdim=True)"),
        ],
        "the softmax ran over dim 0",
    ),
    (
        "06_softmax_cross_entropy",
        [("exps = torch.exp(shifted)", "exps = torch.exp(scores)")],
        "exp(1000) is inf",
    ),
    (
        "06_softmax_cross_entropy",
        [
            (
                "log_probabilities = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))",
                "log_probabilities = torch.log(softmax(scores))",
            )
        ],
        "-log(0) is inf",
    ),
    (
        "06_softmax_cross_entropy",
        [("return -true_class.mean()", "return -true_class.sum()")],
        "times too big",
    ),
    (
        "06_softmax_cross_entropy",
        [("exps = torch.exp(shifted)\n    return", "return torch.softmax(scores, dim=1)\n    return")],
        "called torch.softmax",
    ),
    ("07a_conv_sizes", [("// stride + 1", "// stride")], "missing the + 1"),
    ("07a_conv_sizes", [("size + 2 * padding - kernel_size", "size + padding - kernel_size")], "both sides"),
    ("07a_conv_sizes", [("// stride + 1", "/ stride + 1")], "Round down with //"),
    ("07a_conv_sizes", [("stride = kernel_size  #", "stride = 1  #")], "steps by kernel_size, not by 1"),
    (
        "07b_residual_block",
        [("return torch.relu(x + out)", "return torch.relu(out)")],
        "there is no skip connection",
    ),
    ("07b_residual_block", [("padding=1)", "padding=0)", 2)], "needs padding=1"),
    (
        "07b_residual_block",
        [
            (
                "out = self.conv2(torch.relu(self.conv1(x)))",
                "out = self.conv2(torch.relu(self.conv1(x))).detach()",
            )
        ],
        "got no gradient",
    ),
    (
        "08_rnn_step",
        [("x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", "x @ W_ih.T + h @ W_hh.T")],
        "left out the biases b_ih and b_hh",
    ),
    ("08_rnn_step", [("h @ W_hh.T + b_hh", "h @ W_hh + b_hh")], "W_hh transposed"),
    (
        "08_rnn_step",
        [("torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)", "x @ W_ih.T + b_ih + h @ W_hh.T + b_hh")],
        "left out the tanh",
    ),
    (
        "09_last_hidden",
        [("return outputs[rows, lengths - 1]", "return outputs[:, -1]")],
        "the last place of the padded batch",
    ),
    (
        "09_last_hidden",
        [("outputs[rows, lengths - 1]", "outputs[rows, lengths.clamp(max=outputs.shape[1] - 1)]")],
        "one place off",
    ),
    ("09_last_hidden", [("outputs[rows, lengths - 1]", "outputs[:, lengths - 1]")], "Index the rows too"),
    (
        "10_temperature",
        [("torch.softmax(scores / temperature", "torch.softmax(scores * temperature")],
        "multiplied, not divided",
    ),
    ("10_temperature", [(", generator=generator)", ")")], "pass generator=generator"),
    (
        "10_temperature",
        [
            (
                "probabilities = temperature_probabilities(scores, temperature)",
                "probabilities = torch.softmax(scores, dim=0)",
            )
        ],
        "drew the characters with these shares",
    ),
    (
        "11_attention_mask",
        [
            (
                "return torch.softmax(masked, dim=-1)",
                "return torch.softmax(scores, dim=-1) * real.unsqueeze(1)",
            )
        ],
        "applied the mask after the softmax",
    ),
    ("11_attention_mask", [('float("-inf")', "0.0")], "exp(0) = 1 still takes a share"),
    ("11_attention_mask", [("~real.unsqueeze(1)", "real.unsqueeze(1)")], "the wrong way round"),
    ("12_distributed_sampler", [("manual_seed(seed + epoch)", "manual_seed(seed)")], "epoch 0's order"),
    (
        "12_distributed_sampler",
        [("indices = (indices * math.ceil(total / n))[:total]", "")],
        "the same number of indices",
    ),
    (
        "12_distributed_sampler",
        [
            (
                "return indices[rank:total:world_size]",
                "return indices[rank * total // world_size : (rank + 1) * total // world_size]",
            )
        ],
        "DistributedSampler deals like cards",
    ),
]


@pytest.mark.parametrize(
    ("name", "edits", "says"), WRONG, ids=[f"{w[0][:3].rstrip('_')}-{w[2][:30]}" for w in WRONG]
)
def test_wrong_answer_fails_with_a_helpful_message(tmp_path, name, edits, says):
    result = broken(tmp_path, name, edits)
    assert result.status == "wrong", result.message
    assert says in result.message
    assert result.summary == result.message.splitlines()[0] != ""


def test_every_exercise_has_a_wrong_answer_tested():
    assert {name for name, _, _ in WRONG} == set(NAMES)


def test_a_wrong_answer_says_what_came_and_what_was_expected_on_which_input(tmp_path):
    result = broken(
        tmp_path, "08_rnn_step", [("x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", "x @ W_ih.T + h @ W_hh.T")]
    )
    assert (
        "nn.RNN gives [" in result.message
        and "yours is [" in result.message
        and "hidden_size" in result.message
    )
    again = broken(
        tmp_path, "08_rnn_step", [("x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", "x @ W_ih.T + h @ W_hh.T")]
    )
    assert again.message == result.message  # the same seed, the same inputs
    other = broken(
        tmp_path,
        "08_rnn_step",
        [("x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", "x @ W_ih.T + h @ W_hh.T")],
        SEED + 1,
    )
    assert other.message != result.message  # another seed, other inputs


def test_an_error_in_the_learners_code_shows_the_learners_own_lines_only(tmp_path):
    result = broken(tmp_path, "08_rnn_step", [("x @ W_ih.T + b_ih", "x @ W_ih + b_ih")])
    assert result.status == "error"
    assert result.message.startswith("your code raised RuntimeError")
    assert "return torch.tanh(x @ W_ih + b_ih" in result.message and "in rnn_step" in result.message
    assert "check.py" not in result.message and "torch/" not in result.message

    nested = broken(
        tmp_path, "04_deep_network", [("x = self.activation(layer(x))", "x = self.activation(layer(x)) / 0")]
    )
    assert nested.status == "wrong"  # a division by zero in tensors is inf, no exception: the check says so
    raising = broken(tmp_path, "05_words_dataset", [("lengths = torch.tensor(", "lengths = torch.tensorr(")])
    assert raising.status == "error" and "AttributeError" in raising.summary
    assert "in collate" in raising.message and "check.py" not in raising.message

    (tmp_path / "09_last_hidden.py").write_text("def last_hidden(outputs, lengths)\n    return outputs\n")
    syntax = checker.check("09_last_hidden", tmp_path, SEED)
    assert syntax.status == "error" and "SyntaxError" in syntax.message and "line 1" in syntax.message


def test_cli_lists_every_exercise_and_says_what_to_do_next(tmp_path, capsys):
    for name in NAMES:
        (tmp_path / f"{name}.py").write_text(
            (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8"), encoding="utf-8"
        )
    broken(tmp_path, "06_softmax_cross_entropy", [("return -true_class.mean()", "return -true_class.sum()")])
    (tmp_path / "09_last_hidden.py").write_text((EXERCISES / "09_last_hidden.py").read_text(encoding="utf-8"))
    capsys.readouterr()

    status = checker.main(["--folder", str(tmp_path), "--seed", str(SEED), "01", "06", "09", "12"])
    out = capsys.readouterr().out
    assert status == 1
    lines = out.splitlines()
    assert f"seed {SEED}" in lines[0]
    listed = [line.split() for line in lines[1:5]]
    assert [words[0] for words in listed] == ["done", "wrong", "not", "done"]
    assert [next(w for w in words if w.endswith(".py")) for words in listed] == [
        "01_hand_gradients.py",
        "06_softmax_cross_entropy.py",
        "09_last_hidden.py",
        "12_distributed_sampler.py",
    ]
    assert "write last_hidden()" in lines[3]
    assert "2 of 4 done." in out
    # the first not done is 06: its file, its whole message and its hint
    assert f"Next: {tmp_path / '06_softmax_cross_entropy.py'}" in out
    assert "times too big" in out and "Hint: Each row is one sample" in out
    assert f"check.py --folder {tmp_path} 06" in out

    assert checker.main(["--folder", str(tmp_path), "12"]) == 0
    assert "1 of 1 done." in capsys.readouterr().out


def test_hint_prints_the_hint_of_the_exercise_named_or_the_next_one(tmp_path, capsys):
    assert checker.main(["--hint", "04"]) == 0
    assert capsys.readouterr().out.startswith(
        "04_deep_network.py, lesson 04 (lecture 7): Put nn.ReLU() between the layers"
    )
    assert checker.main(["--hint", "07"]) == 0
    out = capsys.readouterr().out
    assert "07a_conv_sizes.py" in out and "07b_residual_block.py" in out
    (tmp_path / "01_hand_gradients.py").write_text(
        (SOLUTIONS / "01_hand_gradients.py").read_text(encoding="utf-8")
    )
    (tmp_path / "02_optimizers.py").write_text((EXERCISES / "02_optimizers.py").read_text(encoding="utf-8"))
    assert checker.main(["--folder", str(tmp_path), "01", "02", "--hint"]) == 0
    assert capsys.readouterr().out.startswith(
        "02_optimizers.py, lesson 02 (lecture 5): Inside train(), define closure()"
    )


def test_watch_checks_again_when_a_file_is_saved_and_ctrl_c_ends_it(tmp_path, capsys, monkeypatch):
    path = tmp_path / "07a_conv_sizes.py"
    path.write_text((EXERCISES / "07a_conv_sizes.py").read_text(encoding="utf-8"))
    naps = []

    def nap(seconds):  # stands in for time.sleep: the learner saves the solution, then presses Ctrl-C
        naps.append(seconds)
        if len(naps) == 1:
            path.write_text((SOLUTIONS / "07a_conv_sizes.py").read_text(encoding="utf-8"))
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(checker.time, "sleep", nap)
    assert checker.main(["--folder", str(tmp_path), "--watch", "07a"]) == 0
    out = capsys.readouterr().out
    assert out.index("not done yet") < out.index("1 of 1 done.")
    assert out.rstrip().endswith("Stopped watching.")


def test_check_py_runs_from_another_folder_and_exits_non_zero_while_any_is_not_done(tmp_path):
    for name in ("01_hand_gradients", "03_stable_bce"):
        (tmp_path / f"{name}.py").write_text((SOLUTIONS / f"{name}.py").read_text(encoding="utf-8"))
    (tmp_path / "02_optimizers.py").write_text((EXERCISES / "02_optimizers.py").read_text(encoding="utf-8"))
    done = subprocess.run(
        [sys.executable, str(EXERCISES / "check.py"), "--folder", str(tmp_path), "01", "02", "03"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "not done yet  02_optimizers.py" in done.stdout and "2 of 3 done." in done.stdout
    assert "Next: 02_optimizers.py" in done.stdout  # shown relative to where the learner stands
