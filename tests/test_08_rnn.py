"""Lesson 08 (an RNN cell, hihell -> ihello): the cell is the lecture's formula; every number the shapes
demo and the training print is recomputed here; the run is the same twice with a seed; each flag shows
in the output or the figure; --lecture trains with 12_2's and 12_3's own settings."""

import re

import lesson_tools as kit

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import load_lesson, masked, quick

rnn = load_lesson("08_rnn")
LESSON = "08_rnn"
EPOCH_LINE = re.compile(r"^\s+epoch\s+(\d+)/(\d+)\s+loss (\S+)\s+predicted string (\w+)$")
VECTOR = r"\[(-?[\d.]+), (-?[\d.]+)\]"


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_printed(capsys, *flags):
    """A --quick run in this process without figures: (results, the lines it printed)."""
    capsys.readouterr()
    result = quick(LESSON, *flags)
    return result, capsys.readouterr().out.splitlines()


def sections(lines):
    """The printed parts 1) the shapes, 2) one character at a time, 3) the whole word (with the end)."""
    two = next(i for i, line in enumerate(lines) if line.startswith("2)"))
    three = next(i for i, line in enumerate(lines) if line.startswith("3)"))
    return lines[:two], lines[two:three], lines[three:]


def epoch_rows(lines):
    """Each printed epoch line as (epoch, epochs in the header, loss, predicted string)."""
    rows = [EPOCH_LINE.match(line) for line in lines]
    return [(int(m[1]), int(m[2]), float(m[3]), m[4]) for m in rows if m]


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("embedding", [False, True])
def test_08_a_step_is_tanh_of_both_weighted_inputs_plus_biases_computed_by_hand(embedding):
    torch.manual_seed(0)
    model = rnn.Model(embedding)
    p = {name: value.detach().double() for name, value in model.named_parameters()}
    cell = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"}
    assert set(p) == cell | ({"embedding.weight", "fc.weight", "fc.bias"} if embedding else set())
    # the lecture's cell, written out: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), from h_0 = 0;
    # x_t is the character's one-hot vector (or its row of the embedding), the scores are h_t (or fc(h_t))
    h = torch.zeros(rnn.hidden_size, dtype=torch.float64)
    expected = []
    for c in rnn.x_data:
        x = p["embedding.weight"][c] if embedding else torch.eye(rnn.num_classes, dtype=torch.float64)[c]
        h = torch.tanh(
            p["rnn.weight_ih_l0"] @ x + p["rnn.bias_ih_l0"] + p["rnn.weight_hh_l0"] @ h + p["rnn.bias_hh_l0"]
        )
        expected.append(p["fc.weight"] @ h + p["fc.bias"] if embedding else h)
    expected = torch.stack(expected)

    start = model.init_hidden()
    assert start.shape == (1, 1, rnn.hidden_size) and not start.any()  # nothing read yet
    x = torch.tensor([rnn.x_data])
    with torch.no_grad():
        whole, last = model(x, model.init_hidden())
        hidden, steps = model.init_hidden(), []
        for t in range(x.shape[1]):  # one character per call, the hidden state carried by the caller
            out, hidden = model(x[:, t : t + 1], hidden)
            steps.append(out)
    torch.testing.assert_close(whole[0].double(), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(torch.cat(steps, dim=1)[0].double(), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(last[0, 0].double(), h, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(hidden, last)


def test_08_one_hot_lookup_is_12_2s_table():
    # row i is character i's one-hot vector, as in 12_2's one_hot_lookup
    assert rnn.one_hot_lookup.tolist() == [[float(i == j) for j in range(5)] for i in range(5)]


def model_at(embedding, seed):
    """The model the lesson starts from at this seed, and its scores for "hihell" from h_0 = 0."""
    kit.seed_everything(seed)
    model = rnn.Model(embedding)
    with torch.no_grad():
        scores, _ = model(torch.tensor([rnn.x_data]), model.init_hidden())
    return scores[0]


def first_loss_by_hand(embedding, seed):
    """The mean cross-entropy over the 6 steps of the model the lesson starts from at this seed."""
    log_p = model_at(embedding, seed).log_softmax(dim=1)
    return -sum(log_p[t, y].item() for t, y in enumerate(rnn.y_data)) / len(rnn.y_data)


def first_prediction_by_hand(embedding, seed):
    return "".join(rnn.idx2char[i] for i in model_at(embedding, seed).argmax(dim=1).tolist())


# ----------------------------------------------------------------------------- training


def check_learned(result, embedding, seed):
    assert result["step_by_step_equals_whole"]
    one, whole = result["one_at_a_time"], result["whole_word"]
    for way in (one, whole):
        assert way["final"] == "ihello"
        # stopped as soon as it read "ihello", before --quick's 20 epochs: measured 9 (one-hot), 16
        # (--embedding) and 8 (--embedding --seed 3) epochs, the same on every machine to within rounding
        assert way["epochs"] == len(way["losses"]) < 20
        # the first epoch's loss is that of Model(embedding) as --seed makes it, the mean of 6 steps
        assert way["losses"][0] == pytest.approx(first_loss_by_hand(embedding, seed), abs=1e-5)
        assert way["loss_reduction"] == "mean"
    # both ways start from the same weights and compute the same thing, so they take the same steps
    assert one["losses"] == pytest.approx(whole["losses"], abs=1e-4)


def test_08_learns_ihello_both_ways(trained):
    check_learned(trained(LESSON)[0], False, 0)


@pytest.mark.parametrize(("flags", "seed"), [(("--embedding",), 0), (("--embedding", "--seed", "3"), 3)])
def test_08_learns_ihello_both_ways_from_the_model_its_flags_ask_for(flags, seed):
    check_learned(quick(LESSON, *flags), True, seed)


def test_08_seeds_give_other_starting_weights():
    assert abs(first_loss_by_hand(True, 0) - first_loss_by_hand(True, 3)) > 1e-3  # the test above can tell


def test_08_quick_epochs_and_lr(capsys):
    # lr 1e-9: Adam moves each weight by at most about 1e-9 per epoch, so the loss does not fall and the
    # run never reads "ihello": it goes on to its last epoch, which --quick puts at 20, not 100
    result, lines = run_printed(capsys, "--lr", "1e-9")
    assert lines[-1] == 'Not "ihello" yet after 20 epochs: try another --lr or more --epochs.'
    for way, part in zip(("one_at_a_time", "whole_word"), sections(lines)[1:]):
        losses = result[way]["losses"]
        assert result[way]["epochs"] == len(losses) == 20 and result[way]["final"] != "ihello"
        assert abs(losses[-1] - losses[0]) < 1e-5
        assert [(epoch, of) for epoch, of, *_ in epoch_rows(part)] == [(e, 20) for e in range(1, 21)]
    assert len(rnn.main(["--no-figures", "--lr", "1e-9", "--epochs", "23"])["whole_word"]["losses"]) == 23
    result, lines = run_printed(capsys, "--lr", "1e-9", "--epochs", "3")
    assert len(result["whole_word"]["losses"]) == 3
    assert [(epoch, of) for epoch, of, *_ in epoch_rows(lines)] == [(e, 3) for e in (1, 2, 3)] * 2


# ----------------------------------------------------------------------------- what it prints


def test_08_every_printed_epoch_is_its_history_and_the_verdict_names_the_first_ihello(trained, printed):
    result, lines = trained(LESSON)[0], printed(LESSON)
    _, two, three = sections(lines)
    assert two[0] == '2) Teach "hihell" -> "ihello" one character at a time (12_2), one-hot vectors, on cpu'
    for part, run in ((two, result["one_at_a_time"]), (three, result["whole_word"])):
        rows = epoch_rows(part)
        assert [row[0] for row in rows] == list(range(1, run["epochs"] + 1))  # every epoch, from 1
        assert {row[1] for row in rows} == {rnn.QUICK_EPOCHS}  # --quick's 20, in every line
        assert [row[2] for row in rows] == pytest.approx(run["losses"], abs=5e-5)
        assert [row[3] for row in rows] == run["predicted"]
        # the first epoch reads with the weights --seed 0 makes: its prediction is theirs, computed here
        assert rows[0][3] == first_prediction_by_hand(False, 0)
        assert rows[0][2] == pytest.approx(first_loss_by_hand(False, 0), abs=5e-5)
    first = next(row[0] for row in epoch_rows(three) if row[3] == "ihello")
    assert f'It reads "ihello" at epoch {first}.' in lines


def rnn_by_hand(cell, hidden, characters):
    """12_1's cell run by hand over characters (0-3: h, e, l, o, one-hot), from hidden: every output."""
    w_ih, w_hh, b_ih, b_hh = (p.detach().double() for p in cell.parameters())
    h, outputs = hidden.detach().double().view(-1), []
    for c in characters:
        h = torch.tanh(w_ih[:, c] + b_ih + w_hh @ h + b_hh)
        outputs.append(h)
    return outputs


def test_08_the_shapes_demo_prints_the_cells_own_numbers_from_12_1s_random_start(trained, printed):
    shapes, lines = trained(LESSON)[0]["shapes"], printed(LESSON)
    demo = sections(lines)[0]
    assert demo[0] == "1) The shapes (12_1): RNN(4, 2, batch_first=True)"
    text = "\n".join(demo)
    for shown in (
        "input (1, 1, 4) (batch, sequence, input size)",
        "hidden (1, 1, 2) (layers, batch, hidden)   output (1, 1, 2)",
        "5 outputs of (1, 1, 2); all at once: (1, 5, 2)",
        "a batch of 3 words: input (3, 5, 4) -> output (3, 5, 2), hidden (1, 3, 2)",
        "without batch_first: input (5, 3, 4) -> output (5, 3, 2)",
    ):
        assert shown in text
    assert shapes["start"].shape == (1, 1, 2) and shapes["start"].abs().min() > 0  # random, as in 12_1
    hello = [0, 1, 2, 2, 3]
    from_start = rnn_by_hand(shapes["cell"], shapes["start"], hello)
    # read "hello" again from where the loop ended, as 12_1's whole-word call does
    continued = rnn_by_hand(shapes["cell"], from_start[-1], hello)
    same = re.search(rf"the same numbers either way: True   \(the first output: {VECTOR}\)", text)
    again = re.search(rf"as 12_1 calls it, the first output is {VECTOR}: another start", text)
    assert same and again, text
    assert [float(v) for v in same.groups()] == pytest.approx(from_start[0].tolist(), abs=6e-5)
    assert [float(v) for v in again.groups()] == pytest.approx(continued[0].tolist(), abs=6e-5)
    assert (from_start[0] - continued[0]).abs().max() > 1e-3  # "another start" shows in the numbers


def test_08_prints_the_same_lines_twice_with_a_seed_shapes_demo_included(printed, capsys):
    _, once = run_printed(capsys)
    shared = [line for line in printed(LESSON) if not line.startswith("figure:")]
    assert masked(once) == masked(shared)
    _, other = run_printed(capsys, "--seed", "1")
    assert sections(other)[0] != sections(once)[0]  # --seed reaches the demo's random numbers


# ----------------------------------------------------------------------------- --lecture


def test_08_lecture_sums_12_2s_losses_from_seed_777_and_never_stops_early(capsys):
    result, lines = run_printed(capsys, "--lecture")
    assert lines[0].startswith("--lecture, the lecture code's settings: seed 777 (not 0);")
    one, whole = result["one_at_a_time"], result["whole_word"]
    # 12_2 adds up the 6 steps' losses, 12_3 takes their mean, both from the weights seed 777 makes
    assert (one["loss_reduction"], whole["loss_reduction"]) == ("sum", "mean")
    assert one["losses"][0] == pytest.approx(6 * first_loss_by_hand(False, 777), abs=1e-4)
    assert whole["losses"][0] == pytest.approx(first_loss_by_hand(False, 777), abs=1e-5)
    # the lecture trains every epoch (--quick: 20), where the lesson stops at the first "ihello"
    assert one["epochs"] == whole["epochs"] == len(whole["losses"]) == 20
    for way in (one, whole):
        optimizer = way["optimizer"]
        assert type(optimizer) is torch.optim.Adam and optimizer.param_groups[0]["lr"] == 0.1
    assert sections(lines)[2][0].startswith("3) The same, the whole word in one call (12_3): the mean loss")
    if whole["final"] == "ihello":
        first = whole["predicted"].index("ihello") + 1
        assert lines[-1] == f'It reads "ihello" at epoch {first}' + (
            " (and at its last, 20)." if first < 20 else "."
        )
    else:
        assert lines[-1].startswith('Not "ihello" yet after 20 epochs')


def test_08_lecture_keeps_the_flags_the_learner_typed(capsys):
    result, lines = run_printed(capsys, "--lecture", "--seed", "5", "--epochs", "1")
    assert "seed" not in lines[0] and "epochs" not in lines[0]  # nothing of theirs changed
    assert result["one_at_a_time"]["losses"] == pytest.approx([6 * first_loss_by_hand(False, 5)], abs=1e-4)


# ----------------------------------------------------------------------------- the figure


@pytest.fixture
def drawn08(monkeypatch):
    """The figures a run saves, by name, kept open here instead of written."""
    figures = {}
    monkeypatch.setattr(kit, "save_figure", lambda fig, name, args: figures.setdefault(name, fig))
    yield figures
    plt.close("all")


def test_08_the_figure_draws_each_ways_losses_from_epoch_1_in_a_file_of_its_options(drawn08):
    runs = {}
    for flags in ((), ("--embedding",), ("--lecture",), ("--embedding", "--lecture")):
        before = set(drawn08)
        result = rnn.main(["--quick", *flags])
        (name,) = set(drawn08) - before  # a new name for each set of options: none overwrites another
        runs[name] = result
    assert "08_rnn_loss" in runs  # the default's name, as README shows it
    for name, result in runs.items():
        (ax,) = [ax for ax in drawn08[name].axes if ax.get_lines()]
        one, whole = ax.get_lines()
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert labels[0].startswith("one character at a time") and labels[1].startswith("whole word")
        for line, way in ((one, result["one_at_a_time"]), (whole, result["whole_word"])):
            assert list(line.get_xdata()) == list(range(1, way["epochs"] + 1))
            assert list(line.get_ydata()) == pytest.approx(way["losses"])
            assert ("summed" in line.get_label()) == (way["loss_reduction"] == "sum")


def test_08_figure_flags(course_in, tmp_path, monkeypatch, capsys):
    rnn.main(["--quick", "--no-figures"])
    assert not (course_in / "figures").exists() and "figure:" not in capsys.readouterr().out
    rnn.main(["--quick", "--figures", str(tmp_path / "elsewhere")])
    assert is_png(tmp_path / "elsewhere" / "08_rnn_loss.png") and not (course_in / "figures").exists()
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    rnn.main(["--quick", "--show"])
    assert is_png(course_in / "figures" / "08_rnn_loss.png") and shown == [1]
