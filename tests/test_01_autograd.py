"""Lesson 01 (lectures 2-4): every line it prints is recomputed here from the lecture's data by other
means (the sweep's MSE, both training loops' w and loss at every epoch they print, the worked example's
chain rule and autograd's graph, the verdicts "lowest at" and "the same w"), its figure holds the loss
curve it promises, and each flag shows in the output. 01 has nothing random, hence no --seed.

The lesson's functions work in Python floats (64 bits) except part 4's w, a float32 tensor: its printed
w may differ from the float64 descent in the 7th digit, so part 4 is compared to 6 digits.
"""

import re

import lesson_tools as kit

import pytest
import torch
from conftest import load_lesson, masked, quick

LESSON = "01_autograd"
DATA = [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]  # the lecture's x_data and y_data, pair by pair
PNG = b"\x89PNG\r\n\x1a\n"


def mse_by_hand(w):
    return sum((x * w - y) ** 2 for x, y in DATA) / len(DATA)


def descend_by_hand(epochs, lr, w=1.0):
    """The lecture's per-sample gradient descent on (x*w - y)^2, written out independently of the lesson
    (the slope, expanded, is 2*x*x*w - 2*x*y): w after each epoch."""
    after = []
    for _ in range(epochs):
        for x, y in DATA:
            w -= lr * (2 * x * x * w - 2 * x * y)
        after.append(w)
    return after


NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def numbers(line):
    return [float(n) for n in re.findall(NUMBER, line)]


def values(line):
    """The numbers that follow '= ' in a line, e.g. 'x * w = 2   s = y_pred - y = -2' -> [2.0, -2.0]."""
    return [float(n) for n in re.findall(rf"= ({NUMBER})(?=\s|$)", line)]


def part(lines, n):
    """The lines of part n) of the output, header first."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{n}) "))
    end = next((i for i, line in enumerate(lines[start + 1 :], start + 1) if re.match(r"\d\) ", line)), None)
    return lines[start:end]


def epoch_rows(lines):
    """The epoch lines, e.g. '   epoch  5/20   w 1.7791   loss 0.2277', as (epoch, of, {name: value})."""
    rows = []
    for line in lines:
        found = re.match(r"\s+epoch\s+(\d+)/(\d+)\s+(.*)$", line)
        if found:
            pairs = (item.rsplit(" ", 1) for item in found.group(3).split("   "))
            rows.append((int(found.group(1)), int(found.group(2)), {k: float(v) for k, v in pairs}))
    return rows


def shown_epochs(epochs, every=5):
    """The epochs an EpochLog(every=5) prints: 1-3, every 5th and the last."""
    return [e for e in range(1, epochs + 1) if e <= 3 or e % every == 0 or e == epochs]


def check_training_part(lines, epochs, lr, precision):
    """A training part's header, every epoch line it promises (w and the MSE of that w, recomputed) and
    the prediction for x = 4 after training."""
    assert lines[0].endswith(f"lr {lr:g}, {epochs} epochs")
    w_after = descend_by_hand(epochs, lr)
    rows = epoch_rows(lines)
    assert [(epoch, of) for epoch, of, _ in rows] == [(e, epochs) for e in shown_epochs(epochs)]
    for epoch, _, shown in rows:
        w = w_after[epoch - 1]
        assert shown["w"] == pytest.approx(w, abs=precision)
        assert shown["loss"] == pytest.approx(mse_by_hand(w), rel=1e-3, abs=precision)
    after = next(line for line in lines if "after training" in line)
    assert numbers(after)[-1] == pytest.approx(4 * w_after[-1], abs=precision)
    return w_after[-1]


# ----------------------------------------------------------------------------- what the learner reads


def test_the_sweep_prints_every_half_step_its_mse_and_where_it_is_lowest(printed, trained):
    lines = part(printed(LESSON, "--no-figures"), 1)
    grid = [i / 10 for i in range(41)]  # np.arange(0.0, 4.1, 0.1), the lecture's sweep
    shown = [numbers(line) for line in lines if line.strip().startswith("w = ")]
    assert [w for w, _ in shown] == [i / 2 for i in range(9)]  # 0.0, 0.5, ... 4.0
    for w, l in shown:
        assert l == pytest.approx(mse_by_hand(w), abs=0.005)
    lowest = min(grid, key=mse_by_hand)  # 2.0: the data are y = 2x
    verdict = next(line for line in lines if "lowest at" in line)
    assert numbers(verdict)[0] == lowest
    results = trained(LESSON, "--no-figures")[0]
    assert results["best_w_from_sweep"] == lowest
    assert results["sweep"][0] == pytest.approx(grid)
    assert results["sweep"][1] == pytest.approx([mse_by_hand(w) for w in grid])


def test_both_loops_print_each_promised_epoch_with_w_and_the_mse_of_that_w(printed, trained):
    lines = printed(LESSON, "--no-figures")
    quick_epochs = load_lesson(LESSON).QUICK_EPOCHS
    assert quick_epochs < load_lesson(LESSON).EPOCHS  # --quick shortens the run ...
    second = part(lines, 2)
    assert "   prediction for x = 4 before training: 4.0000" in second  # w starts at 1
    # ... and both loops run exactly its epochs at the default lr 0.01
    w_hand = check_training_part(second, quick_epochs, 0.01, precision=5e-5)
    w_auto = check_training_part(part(lines, 4), quick_epochs, 0.01, precision=5e-5)
    assert w_hand == w_auto
    results = trained(LESSON, "--no-figures")[0]
    assert results["w_by_hand"] == pytest.approx(w_hand, rel=1e-12)
    assert results["w_by_autograd"] == pytest.approx(w_auto, rel=1e-6)  # float32
    # the prediction for 4 hours starts at 4 (w = 1); 10 epochs bring it to 7.80, within 0.3 of 8
    assert abs(results["prediction_after"] - 8.0) < 0.3


def test_the_same_w_verdict_compares_the_two_loops_own_numbers(printed):
    verdict = printed(LESSON, "--no-figures")[-1]
    w_hand, w_auto = numbers(verdict)
    exact = descend_by_hand(10, 0.01)[-1]
    assert w_hand == pytest.approx(exact, abs=5e-7)  # printed to 6 decimals
    # part 4 in float32, step by step as autograd takes them: the same steps, rounded to 24 bits
    w = torch.tensor(1.0)
    for _ in range(10):
        for x, y in DATA:
            w = w - 0.01 * (2 * x * (x * w - y))
    assert w_auto == pytest.approx(w.item(), abs=2e-6)
    same = abs(w_hand - w_auto) <= 1e-5 * abs(w_hand)
    assert same and "ended at the same w:" in verdict


def test_epochs_and_lr_reach_both_loops_and_their_headers(printed, trained):
    lines = printed(LESSON, "--no-figures", "--epochs", "7", "--lr", "0.02")
    check_training_part(part(lines, 2), 7, 0.02, precision=5e-5)
    check_training_part(part(lines, 4), 7, 0.02, precision=5e-5)
    results = trained(LESSON, "--no-figures", "--epochs", "7", "--lr", "0.02")[0]
    assert results["w_by_hand"] == pytest.approx(descend_by_hand(7, 0.02)[-1], rel=1e-12)
    assert results["w_by_autograd"] == pytest.approx(descend_by_hand(7, 0.02)[-1], rel=1e-6)


def test_worked_example_prints_the_chain_rule_and_autograd_agrees(printed, trained):
    lines = part(printed(LESSON, "--no-figures"), 3)
    x, y, w = 2.0, 4.0, 1.0  # the lecture's second sample and start: x != w, so swapping them shows
    device = kit.pick_device("auto")
    assert lines[0].endswith(f"on {device}")
    forward = next(line for line in lines if "forward:" in line)
    assert values(forward) == [x * w, x * w - y, (x * w - y) ** 2]  # y_pred, s, loss
    local = next(line for line in lines if "local gradients:" in line)
    assert values(local) == [2 * (x * w - y), 1.0, x]  # d loss/d s = 2s, d s/d y_pred, d y_pred/d w
    expected = 2 * x * (x * w - y)  # d/dw (x*w - y)^2, worked out here: 2 * 2 * (2 - 4) = -8
    chain = next(line for line in lines if "chain rule:" in line)
    assert numbers(chain)[-4:] == [2 * (x * w - y), 1.0, x, expected]
    # autograd's graph, walked here from the loss down to w
    weight = torch.tensor(w, requires_grad=True)
    node, names = ((torch.tensor(x) * weight - torch.tensor(y)) ** 2).grad_fn, []
    while node is not None:
        names.append(type(node).__name__)
        node = next((child for child, _ in node.next_functions if child is not None), None)
    graph = next(line for line in lines if "graph" in line)
    assert graph.split(":", 1)[1].split() == " <- ".join(names).split()
    assert names == ["PowBackward0", "SubBackward0", "MulBackward0", "AccumulateGrad"]
    by_autograd = next(line for line in lines if "l.backward() gives" in line)
    assert numbers(by_autograd) == [expected, expected]
    # a second backward() without zeroing adds the same gradient again
    second = next(line for line in lines if "second backward()" in line)
    assert numbers(second)[:2] == [2 * expected, 2.0] and "2 times the first" in second
    results = trained(LESSON, "--no-figures")[0]
    assert results["backprop_by_hand"] == expected and results["backprop_by_autograd"] == expected
    assert results["graph"] == names
    assert results["gradient_after_second_backward"] == 2 * expected


def test_lecture_runs_the_lectures_10_epochs_in_both_loops(capsys):
    load_lesson(LESSON).main(["--lecture", "--no-figures"])  # not --quick: that alone caps at 10
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "--lecture, the lecture code's settings: epochs 10 (not 20)"
    check_training_part(part(lines, 2), 10, 0.01, precision=5e-5)
    check_training_part(part(lines, 4), 10, 0.01, precision=5e-5)
    # a flag the learner typed keeps its value
    load_lesson(LESSON).main(["--lecture", "--no-figures", "--epochs", "3"])
    lines = capsys.readouterr().out.splitlines()
    check_training_part(part(lines, 2), 3, 0.01, precision=5e-5)


def test_the_same_run_prints_the_same_lines_twice(printed, capsys):
    first = printed(LESSON, "--no-figures")
    quick(LESSON)
    assert masked(capsys.readouterr().out.splitlines()) == masked(first)


# ----------------------------------------------------------------------------- the functions


def test_mse_is_the_mean_of_the_three_squared_errors():
    mse = load_lesson(LESSON).mse
    # the lecture's data x = 1, 2, 3 and y = 2, 4, 6; at w = 1 the errors are -1, -2, -3
    assert mse(1.0) == pytest.approx((1 + 4 + 9) / 3)
    assert mse(0.5) == pytest.approx((1.5**2 + 3.0**2 + 4.5**2) / 3) and mse(2.0) == 0.0


@pytest.mark.parametrize("w", [-1.5, 0.0, 1.0, 3.7])
@pytest.mark.parametrize(("x", "y"), [(1.0, 2.0), (3.0, 6.0), (-2.0, 0.5)])
def test_loss_and_hand_gradient_are_the_squared_error_and_its_slope(w, x, y):
    lesson = load_lesson(LESSON)
    assert lesson.forward(x, w) == pytest.approx(x * w)
    assert lesson.loss(x, y, w) == pytest.approx((x * w - y) ** 2)
    h = 1e-6  # a central finite difference of the squared error, independent of the lesson's formulas
    slope = ((x * (w + h) - y) ** 2 - (x * (w - h) - y) ** 2) / (2 * h)
    assert lesson.gradient(x, y, w) == pytest.approx(slope, rel=1e-6, abs=1e-6)
    weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    lesson.loss(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64), weight).backward()
    assert weight.grad.item() == pytest.approx(slope, rel=1e-6, abs=1e-6)


# ----------------------------------------------------------------------------- figures and flags


@pytest.fixture
def windows(monkeypatch):
    """plt.show replaced by a counter: how many windows a run would have opened."""
    import matplotlib.pyplot as plt

    opened = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: opened.append(plt.gcf()))
    return opened


def test_figure_is_the_loss_against_w_with_a_line_at_the_lowest(tmp_path, course_in, windows, monkeypatch):
    drawn, save = [], kit.save_figure
    monkeypatch.setattr(kit, "save_figure", lambda fig, *args: drawn.append(fig) or save(fig, *args))
    folder = tmp_path / "my figures"
    load_lesson(LESSON).main(["--quick", "--epochs", "1", "--figures", str(folder), "--show"])
    assert sorted(path.name for path in folder.iterdir()) == ["01_loss_against_w.png"]
    assert (folder / "01_loss_against_w.png").read_bytes()[:8] == PNG
    assert len(windows) == 1 and not course_in.exists()  # one figure, one window; none in the course
    (ax,) = drawn[0].axes
    curve, line = ax.get_lines()
    grid = [i / 10 for i in range(41)]
    assert list(curve.get_xdata()) == pytest.approx(grid)
    assert list(curve.get_ydata()) == pytest.approx([mse_by_hand(w) for w in grid])
    assert list(line.get_xdata()) == [2.0, 2.0]  # the dotted line stands at the lowest loss
    assert ax.get_xlabel() == "w"


def test_no_figures_draws_writes_and_prints_nothing(course_in, windows, capsys):
    # not --quick: a lesson that skipped figures only in quick runs would be caught too
    load_lesson(LESSON).main(["--no-figures", "--epochs", "2"])
    assert not course_in.exists() or not any(course_in.rglob("*"))
    assert "figure:" not in capsys.readouterr().out
    assert not windows


@pytest.mark.parametrize("flags", ["--epochs 0", "--lr 0", "--seed 1"])
def test_values_a_flag_cannot_take_are_refused(flags, capsys):
    # --quick --no-figures: were the value accepted, the run would end in seconds and the test fail
    with pytest.raises(SystemExit) as refused:
        load_lesson(LESSON).main(["--quick", "--no-figures", *flags.split()])
    assert refused.value.code == 2
    assert flags.split()[0] in capsys.readouterr().err  # the message names the flag


def test_divergence_is_stopped_with_advice():
    with pytest.raises(kit.LessonError, match=r"diverged.*smaller --lr"):
        quick(LESSON, "--lr", "1e6")
