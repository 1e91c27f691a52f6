"""Lesson 02 (lecture 5): every line it prints is recomputed here: gradient descent on the lecture's three
samples, from the seed's nn.Linear(1, 1), worked out in float64 (the loss of every epoch it prints, the
predictions before and after, the learned w and b), the least-squares answer solved by hand, and the
figure's data read back. --lecture trains with the summed loss and lr 0.01, recomputed the same way.

The lesson trains in float32: after 200 steps its numbers differ from float64 in the 6th digit at most,
so printed numbers (4 decimals) are compared to within one unit of their last digit.
"""

import re

import lesson_tools as kit

import pytest
import torch
from conftest import load_lesson, masked, quick
from torch import nn

LESSON = "02_linear_regression"
DATA = [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]  # the lecture's x_data and y_data, row by row
PNG = b"\x89PNG\r\n\x1a\n"
LAST_DIGIT = 1e-4  # numbers printed with 4 decimals


def start(seed):
    """The initial w and b: the lesson's first use of the random numbers is its one nn.Linear(1, 1)."""
    torch.manual_seed(seed)
    first = nn.Linear(1, 1)
    return first.weight.item(), first.bias.item()


def descend_by_hand(seed, epochs, lr, reduction="mean"):
    """Full-batch gradient descent on the squared errors, in float64: the loss of each epoch (before its
    step) and the final w and b. The sum's gradient is 3 times the mean's."""
    w, b = start(seed)
    scale = 1.0 if reduction == "sum" else 1 / len(DATA)
    losses = []
    for _ in range(epochs):
        errors = [(w * x + b - y, x) for x, y in DATA]
        losses.append(scale * sum(e * e for e, _ in errors))
        w, b = (
            w - lr * scale * 2 * sum(e * x for e, x in errors),
            b - lr * scale * 2 * sum(e for e, _ in errors),
        )
    return losses, w, b


def least_squares_by_hand():
    """The line through the data with the least squared error: slope cov(x, y) / var(x)."""
    n = len(DATA)
    mean_x, mean_y = sum(x for x, _ in DATA) / n, sum(y for _, y in DATA) / n
    w = sum((x - mean_x) * (y - mean_y) for x, y in DATA) / sum((x - mean_x) ** 2 for x, _ in DATA)
    return w, mean_y - w * mean_x


NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def values(line):
    """The numbers that follow '= ' or ': ' in a line."""
    return [float(n) for n in re.findall(rf"[=:] +({NUMBER})(?=\s|$)", line)]


def epoch_rows(lines):
    """The epoch lines, '   epoch 100/200   loss 0.0185', as (epoch, of, loss)."""
    found = (re.match(rf"\s+epoch\s+(\d+)/(\d+)\s+loss ({NUMBER})$", line) for line in lines)
    return [(int(m.group(1)), int(m.group(2)), float(m.group(3))) for m in found if m]


def line_with(lines, text):
    """The first line that holds text; text ending in ': ' must start the line."""
    return next(line for line in lines if (line.startswith(text) if text.endswith(": ") else text in line))


def check_run(lines, seed, epochs, lr, reduction, every=100):
    """Every line of one run against the descent recomputed here; returns the final w and b by hand."""
    losses, w, b = descend_by_hand(seed, epochs, lr, reduction)
    w0, b0 = start(seed)
    assert values(line_with(lines, "before training"))[-1] == pytest.approx(4 * w0 + b0, abs=LAST_DIGIT)
    what = "the sum of the squared errors" if reduction == "sum" else "the mean squared error"
    assert line_with(lines, "training: ") == f"training: loss = {what}, SGD lr {lr:g}, {epochs} epochs"
    rows = epoch_rows(lines)
    shown = [e for e in range(1, epochs + 1) if e <= 3 or e % every == 0 or e == epochs]
    assert [(epoch, of) for epoch, of, _ in rows] == [(e, epochs) for e in shown]
    for epoch, _, loss in rows:
        assert loss == pytest.approx(losses[epoch - 1], rel=1e-3, abs=LAST_DIGIT)
    assert values(line_with(lines, "after training"))[-1] == pytest.approx(4 * w + b, abs=LAST_DIGIT)
    assert values(line_with(lines, "learned")) == [
        pytest.approx(w, abs=LAST_DIGIT),
        pytest.approx(b, abs=LAST_DIGIT),
    ]
    return losses, w, b


# ----------------------------------------------------------------------------- what the learner reads


def test_prints_the_loss_of_each_promised_epoch_and_the_line_it_learned(printed, trained):
    lines = printed(LESSON, "--no-figures")
    epochs = load_lesson(LESSON).QUICK_EPOCHS
    assert epochs < load_lesson(LESSON).EPOCHS  # --quick shortens the run
    losses, w, b = check_run(lines, 0, epochs, 0.05, "mean")
    w_exact, b_exact = least_squares_by_hand()  # 2 and 0: the data are exactly y = 2x
    exact = line_with(lines, "least squares")
    assert values(exact) == [pytest.approx(w_exact, abs=LAST_DIGIT), pytest.approx(b_exact, abs=LAST_DIGIT)]
    # "the exact answer gradient descent approaches": closer at the end than at the start
    w0, b0 = start(0)
    assert abs(w - w_exact) + abs(b - b_exact) < (abs(w0 - w_exact) + abs(b0 - b_exact)) / 10
    results = trained(LESSON, "--no-figures")[0]
    assert results["losses"] == pytest.approx(losses, rel=1e-4)
    # 200 quick epochs took the loss from 14.8 to 0.0016 (a factor 9000); one that learned nothing: 1
    assert results["loss_last"] < results["loss_first"] / 1000
    assert results["w_least_squares"] == pytest.approx(w_exact, abs=1e-4)
    assert results["b_least_squares"] == pytest.approx(b_exact, abs=1e-4)
    assert abs(results["prediction"] - 8.0) < 0.2  # measured 7.92
    assert results["reduction"] == "mean"


@pytest.mark.parametrize("seed", [0, 1])
def test_lr_epochs_and_seed_reach_the_training_and_its_printout(seed, printed):
    """The loss reported for epoch 1 is the initial model's MSE, and each next one follows the step taken
    with the lr asked for: a summed loss would be 3 times as large, another lr another path."""
    flags = ("--no-figures", "--lr", "0.02", "--epochs", "4", "--seed", str(seed))
    check_run(printed(LESSON, *flags), seed, 4, 0.02, "mean")


def test_another_seed_starts_elsewhere(printed):
    # seeds 0 and 1 give other initial weights, so other first lines; the same seed the same (below)
    zero = printed(LESSON, "--no-figures", "--lr", "0.02", "--epochs", "4", "--seed", "0")
    one = printed(LESSON, "--no-figures", "--lr", "0.02", "--epochs", "4", "--seed", "1")
    assert line_with(zero, "before training") != line_with(one, "before training")


def test_the_same_run_prints_the_same_lines_twice(printed, capsys):
    flags = ("--no-figures", "--lr", "0.02", "--epochs", "4", "--seed", "1")
    first = printed(LESSON, *flags)
    torch.manual_seed(123)  # whatever drew random numbers before must not matter
    quick(LESSON, *flags[1:])
    assert masked(capsys.readouterr().out.splitlines()) == masked(first)


def test_lecture_trains_with_the_summed_loss_and_lr_0_01(printed, trained):
    lines = printed(LESSON, "--no-figures", "--lecture")
    assert lines[0] == (
        "--lecture, the lecture code's settings: lr 0.01 (not 0.05); "
        "loss the sum, MSELoss(reduction='sum') (not the mean, MSELoss())"
    )
    # the lecture's 500 epochs are the lesson's too; --quick shortens both runs alike
    check_run(lines[1:], 0, load_lesson(LESSON).QUICK_EPOCHS, 0.01, "sum")
    assert trained(LESSON, "--no-figures", "--lecture")[0]["reduction"] == "sum"


# ----------------------------------------------------------------------------- the model


def test_model_is_x_times_w_plus_b():
    torch.manual_seed(3)
    model = load_lesson(LESSON).Model()
    assert [tuple(p.shape) for p in model.parameters()] == [(1, 1), (1,)]
    w, b = model.linear.weight.item(), model.linear.bias.item()
    x = torch.tensor([[-2.0], [0.0], [1.5], [4.0]])
    with torch.no_grad():
        assert model(x).flatten().tolist() == pytest.approx([v * w + b for v in [-2.0, 0.0, 1.5, 4.0]])


# ----------------------------------------------------------------------------- figures and flags


@pytest.fixture
def windows(monkeypatch):
    """plt.show replaced by a counter: how many windows a run would have opened."""
    import matplotlib.pyplot as plt

    opened = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: opened.append(plt.gcf()))
    return opened


@pytest.mark.parametrize(
    ("flags", "name", "ylabel"),
    [
        ([], "02_training_loss", "the mean squared error (log scale)"),
        (["--lecture"], "02_training_loss_lecture", "the sum of the squared errors (log scale)"),
    ],
)
def test_figure_shows_each_epochs_loss_from_epoch_1_on_a_log_scale(
    flags, name, ylabel, tmp_path, course_in, windows, monkeypatch
):
    import matplotlib.pyplot as plt

    drawn, save = [], kit.save_figure
    # the default run writes its PNG; the --lecture run only names it (a PNG costs a second or so)
    saved = save if not flags else (lambda fig, *_: plt.close(fig))
    monkeypatch.setattr(
        kit, "save_figure", lambda fig, name, args: drawn.append((fig, name)) or saved(fig, name, args)
    )
    folder = tmp_path / "my figures"
    argv = ["--quick", "--epochs", "5", "--figures", str(folder), "--show", *flags]
    results = load_lesson(LESSON).main(argv)
    assert [drawn_name for _, drawn_name in drawn] == [name]  # a run with other options, another file
    if not flags:
        assert sorted(path.name for path in folder.iterdir()) == [f"{name}.png"]
        assert (folder / f"{name}.png").read_bytes()[:8] == PNG
        assert len(windows) == 1 and not course_in.exists()  # one figure, one window; none in the course
    (ax,) = drawn[0][0].axes
    (curve,) = ax.get_lines()
    assert list(curve.get_xdata()) == [1, 2, 3, 4, 5]
    reduction, lr = ("sum", 0.01) if flags else ("mean", 0.05)
    assert list(curve.get_ydata()) == pytest.approx(descend_by_hand(0, 5, lr, reduction)[0], rel=1e-5)
    assert list(curve.get_ydata()) == results["losses"]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == ylabel and ax.get_xlabel() == "epoch"


def test_no_figures_draws_writes_and_prints_nothing(course_in, windows, capsys):
    # not --quick: a lesson that skipped figures only in quick runs would be caught too
    load_lesson(LESSON).main(["--no-figures", "--epochs", "2"])
    assert not course_in.exists() or not any(course_in.rglob("*"))
    assert "figure:" not in capsys.readouterr().out
    assert not windows


@pytest.mark.parametrize("flags", ["--epochs 0", "--lr 0"])
def test_values_a_flag_cannot_take_are_refused(flags, capsys):
    # --quick --no-figures: were the value accepted, the run would end in seconds and the test fail
    with pytest.raises(SystemExit) as refused:
        load_lesson(LESSON).main(["--quick", "--no-figures", *flags.split()])
    assert refused.value.code == 2
    assert flags.split()[0] in capsys.readouterr().err  # the message names the flag


def test_divergence_is_stopped_with_advice():
    with pytest.raises(kit.LessonError, match=r"diverged.*smaller --lr"):
        quick(LESSON, "--lr", "1e6")
