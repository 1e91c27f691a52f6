"""Lessons 08 (an RNN cell, hihell -> ihello) and 09 (which language is a word): the cell is the lecture's
formula, each flag does what it says, the reported numbers are recomputed here from the data, and the
validation and test numbers come from their own words."""

import csv
import math

import lesson_tools as kit

import pytest
import torch
from conftest import REPO, load_lesson, quick
from torch import nn
from torch.utils.data import DataLoader


def no_schedule(optimizer):
    """A scheduler that leaves the learning rate alone, for calling a lesson's train() by hand."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- 08 RNN basics


@pytest.mark.parametrize("embedding", [False, True])
def test_08_a_step_is_tanh_of_both_weighted_inputs_plus_biases_computed_by_hand(embedding):
    rnn = load_lesson("08_rnn")
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


def first_loss_by_hand(embedding, seed):
    """The mean cross-entropy over the 6 steps of the model the lesson starts from at this seed."""
    rnn = load_lesson("08_rnn")
    kit.seed_everything(seed)
    model = rnn.Model(embedding)
    with torch.no_grad():
        scores, _ = model(torch.tensor([rnn.x_data]), model.init_hidden())
    log_p = scores[0].log_softmax(dim=1)
    return -sum(log_p[t, y].item() for t, y in enumerate(rnn.y_data)) / len(rnn.y_data)


@pytest.mark.parametrize(
    ("flags", "embedding", "seed"),
    [((), False, 0), (("--embedding",), True, 0), (("--embedding", "--seed", "3"), True, 3)],
)
def test_08_learns_ihello_both_ways_from_the_model_its_flags_ask_for(flags, embedding, seed):
    result = quick("08_rnn", *flags)
    assert result["step_by_step_equals_whole"]
    one, whole = result["one_at_a_time"], result["whole_word"]
    for way in (one, whole):
        assert way["final"] == "ihello"
        # stopped as soon as it read "ihello", before --quick's 20 epochs: measured 9 (one-hot), 16
        # (--embedding) and 8 (--embedding --seed 3) epochs, the same on every machine to within rounding
        assert way["epochs"] == len(way["losses"]) < 20
        # the first epoch's loss is that of Model(embedding) as --seed makes it, the mean of 6 steps
        assert way["losses"][0] == pytest.approx(first_loss_by_hand(embedding, seed), abs=1e-5)
    # both ways start from the same weights and compute the same thing, so they take the same steps
    assert one["losses"] == pytest.approx(whole["losses"], abs=1e-4)


def test_08_seeds_give_other_starting_weights():
    assert abs(first_loss_by_hand(True, 0) - first_loss_by_hand(True, 3)) > 1e-3  # the test above can tell


def test_08_quick_epochs_and_lr(capsys):
    rnn = load_lesson("08_rnn")
    # lr 1e-9: Adam moves each weight by at most about 1e-9 per epoch, so the loss does not fall and the
    # run never reads "ihello": it goes on to its last epoch, which --quick puts at 20, not 100
    result = rnn.main(["--quick", "--no-figures", "--lr", "1e-9"])
    assert 'Not "ihello" yet after 20 epochs' in capsys.readouterr().out
    for way in ("one_at_a_time", "whole_word"):
        losses = result[way]["losses"]
        assert result[way]["epochs"] == len(losses) == 20 and result[way]["final"] != "ihello"
        assert abs(losses[-1] - losses[0]) < 1e-5
    assert len(rnn.main(["--no-figures", "--lr", "1e-9", "--epochs", "23"])["whole_word"]["losses"]) == 23
    assert (
        len(rnn.main(["--quick", "--no-figures", "--lr", "1e-9", "--epochs", "3"])["whole_word"]["losses"])
        == 3
    )


def test_08_figure_flags(course_in, tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    rnn = load_lesson("08_rnn")
    rnn.main(["--quick", "--no-figures"])
    assert not (course_in / "figures").exists() and "figure:" not in capsys.readouterr().out
    rnn.main(["--quick", "--figures", str(tmp_path / "elsewhere")])
    assert is_png(tmp_path / "elsewhere" / "08_rnn_loss.png") and not (course_in / "figures").exists()
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    rnn.main(["--quick", "--show"])
    assert is_png(course_in / "figures" / "08_rnn_loss.png") and shown == [1]


# ----------------------------------------------------------------------------- 09 classification
# --quick trains on 6,000 words for 2 epochs; it scored 81.6% on the 3,000 test words and 81.3% on the
# validation words (seed 0). Chance is 20% for five balanced languages, and a model that only counted
# letters would still sit well below 60%. 60% (three times chance) leaves room for other CPUs' rounding
# while still proving learning.
QUICK_THRESHOLD = 60.0
LESSON = "09_rnn_classification"
lesson = load_lesson(LESSON)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def run09(trained):
    """The shared quick run (results, checkpoint, figures), made before any test patches the data."""
    return trained(LESSON)


def model_from(path):
    """A saved classifier rebuilt here from the checkpoint's own settings, and its vocabulary."""
    checkpoint = kit.load_checkpoint(path, LESSON)
    vocab = lesson.Vocabulary(checkpoint["vocabulary"])
    model = lesson.RNNClassifier(
        len(vocab),
        len(checkpoint["languages"]),
        checkpoint["cell"],
        checkpoint["n_layers"],
        checkpoint["bidirectional"],
    )
    model.load_state_dict(checkpoint["model"])
    return model.eval(), vocab, checkpoint["languages"]


def percent_right(path, rows):
    """The percent of rows whose language the saved model ranks first, with the lesson's test()."""
    model, vocab, languages = model_from(path)
    return lesson.test(model, "cpu", lesson.WordsDataset(rows, vocab, languages))[0]


def test_09_quick_learns_well_above_chance(run09):
    result, _, figures = run09
    assert result["test_accuracy"] >= QUICK_THRESHOLD
    assert [row["epoch"] for row in result["history"]] == [1, 2]
    assert result["history"][-1]["validation_accuracy"] >= QUICK_THRESHOLD
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert result["batches_per_epoch"] == math.ceil(lesson.QUICK_WORDS / lesson.BATCH_SIZE)
    assert is_png(figures / f"{LESSON}_confusion.png")


def test_09_validation_and_test_numbers_are_measured_on_their_own_words(run09):
    result, path, _ = run09
    _, validation, test = lesson.read_words()
    # the last validation was measured after the last training step, with the weights that were saved;
    # on the validation words the saved model scores 81.3%, on the test words 81.6% (measured, seed 0)
    assert result["history"][-1]["validation_accuracy"] == pytest.approx(
        percent_right(path, validation), abs=1e-9
    )
    assert result["test_accuracy"] == pytest.approx(percent_right(path, test), abs=1e-9)
    languages = kit.load_checkpoint(path, LESSON)["languages"]
    per_language = [sum(language == lang for _, language in test) for lang in languages]
    assert [sum(row) for row in result["confusion"]] == per_language  # a row per test word's language


def test_09_split_is_fixed_disjoint_and_by_position():
    train, validation, test = lesson.read_words()
    with open(REPO / "data" / "words" / "words.csv", encoding="utf-8") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    assert (train, validation, test) == (rows[:24000], rows[24000:27000], rows[27000:])
    words = [{word for word, _ in part} for part in (train, validation, test)]
    assert not words[0] & words[2] and not words[0] & words[1]


def test_09_vocabulary_comes_from_the_training_words_only(run09):
    result, _, _ = run09
    train, validation, test = lesson.read_words()
    quick_training = set("".join(word for word, _ in train[: lesson.QUICK_WORDS]))
    elsewhere = set("".join(word for word, _ in train + validation + test)) - quick_training
    assert elsewhere  # è and û occur, but not among the first 6,000 training words
    assert set(result["vocabulary"]) == quick_training


def test_09_characters_never_collide_with_padding_or_unknown():
    vocab = lesson.Vocabulary("abcdefghijklmnopqrstuvwxyzñł")
    numbers = [vocab.index[c] for c in vocab.chars]
    assert len(set(numbers)) == len(vocab.chars)  # one number per character
    assert not {lesson.PAD, lesson.UNKNOWN} & set(numbers)
    assert max(numbers) < len(vocab)  # every number has a row in an embedding of len(vocab) rows
    assert [vocab.chars[i - 2] for i in vocab.encode("Łañcuch").tolist()] == list("łañcuch")
    assert vocab.encode("qé").tolist() == [vocab.index["q"], lesson.UNKNOWN]


@pytest.mark.parametrize(
    ("cell", "layers", "bidirectional"), [("rnn", 1, False), ("gru", 1, False), ("lstm", 2, True)]
)
def test_09_a_padded_batch_gives_each_word_its_last_hidden_state_through_fc(cell, layers, bidirectional):
    torch.manual_seed(0)
    vocab = lesson.Vocabulary(LETTERS)
    words = ["a", "abcdefghijklmnop", "casa", "woordenboek"]
    model = lesson.RNNClassifier(len(vocab), 5, cell, layers, bidirectional).eval()
    chars, lengths, _ = lesson.collate([(vocab.encode(w), 0) for w in words])
    assert chars.shape == (4, 16) and lengths.tolist() == [1, 16, 4, 11]
    directions = 2 if bidirectional else 1
    with torch.no_grad():
        together = model(chars, lengths)
        for i, word in enumerate(words):
            # each word alone, no padding and no packing: the recurrent layer's final hidden state of its
            # last layer (both directions side by side), then the Linear layer
            _, hidden = model.rnn(model.embedding(vocab.encode(word)[None]))
            hidden = hidden[0] if cell == "lstm" else hidden
            assert hidden.shape == (layers * directions, 1, lesson.HIDDEN_SIZE)
            last_layer = hidden.view(layers, directions, lesson.HIDDEN_SIZE)[-1]
            expected = model.fc(last_layer.reshape(1, directions * lesson.HIDDEN_SIZE))
            torch.testing.assert_close(together[i : i + 1], expected, atol=1e-5, rtol=1e-5)


def test_09_epoch_loss_is_the_mean_per_word_over_batches_of_any_size():
    torch.manual_seed(0)
    vocab = lesson.Vocabulary(LETTERS)
    rows = [("casa", 0), ("woordenboek", 1), ("a", 2), ("zielony", 3), ("hello", 4)]
    model = lesson.RNNClassifier(len(vocab), 5)
    loader = DataLoader([(vocab.encode(w), t) for w, t in rows], batch_size=2, collate_fn=lesson.collate)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0)  # lr 0: the weights stay as they are
    loss = lesson.train(model, "cpu", loader, nn.CrossEntropyLoss(), optimizer, no_schedule(optimizer))
    with torch.no_grad():  # each word alone: minus the log-probability of its language
        per_word = [
            -model(vocab.encode(w)[None], torch.tensor([len(w)])).log_softmax(dim=1)[0, t].item()
            for w, t in rows
        ]
    assert loss == pytest.approx(sum(per_word) / len(rows), rel=1e-5)
    # batches of 2, 2 and 1 word: the mean of the batch means is another number, which the test tells apart
    batch_means = [sum(per_word[:2]) / 2, sum(per_word[2:4]) / 2, per_word[4]]
    assert abs(sum(batch_means) / 3 - sum(per_word) / 5) > 1e-3


def test_09_accuracy_is_the_percent_of_words_whose_likeliest_language_is_theirs():
    torch.manual_seed(0)
    vocab = lesson.Vocabulary(LETTERS)
    words = ["casa", "woordenboek", "a", "zielony", "hello"]
    model = lesson.RNNClassifier(len(vocab), 5).eval()
    with torch.no_grad():
        likeliest = [model(vocab.encode(w)[None], torch.tensor([len(w)])).argmax().item() for w in words]
    languages = ["l0", "l1", "l2", "l3", "l4"]
    # two words labelled with the language the model picks, three with another: 40%
    labels = [likeliest[0], likeliest[1], *((g + 1) % 5 for g in likeliest[2:])]
    dataset = lesson.WordsDataset([(w, languages[t]) for w, t in zip(words, labels)], vocab, languages)
    percent, guesses = lesson.test(model, "cpu", dataset)
    assert percent == pytest.approx(40.0) and guesses.tolist() == likeliest


@pytest.fixture
def few_words(monkeypatch):
    """The lesson reads 300 training, 100 validation and 100 test words: for tests of its flags and files,
    not of how well it learns."""
    train, validation, test = lesson.read_words()
    monkeypatch.setattr(lesson, "read_words", lambda: (train[:300], validation[:100], test[:100]))
    return train[:300], validation[:100], test[:100]


def test_09_epochs_batch_size_and_seed(few_words):
    one = quick(LESSON, "--epochs", "1", "--batch-size", "70")
    assert len(one["history"]) == 1 and one["batches_per_epoch"] == math.ceil(300 / 70)
    again = quick(LESSON, "--epochs", "1", "--batch-size", "70")
    other = quick(LESSON, "--epochs", "1", "--batch-size", "70", "--seed", "1")
    # the same seed: the same run
    assert again["history"][0]["train_loss"] == pytest.approx(one["history"][0]["train_loss"], abs=1e-9)
    # other starting weights and another shuffle: measured 0.018 apart
    assert abs(other["history"][0]["train_loss"] - one["history"][0]["train_loss"]) > 1e-3
    # another seed trains another model on the same words: the split does not move with --seed
    assert other["vocabulary"] == one["vocabulary"] and sum(map(sum, other["confusion"])) == 100


def test_09_a_tiny_learning_rate_learns_nothing(few_words):
    # lr 1e-9: no weight moves by more than about 1e-8 in 12 steps, so the second epoch's mean loss over
    # the same 300 words is the first's; at the default rate it falls by more than 0.1 (measured)
    history = quick(LESSON, "--lr", "1e-9", "--batch-size", "50")["history"]
    assert len(history) == 2 and abs(history[1]["train_loss"] - history[0]["train_loss"]) < 1e-5


def test_09_bounds_are_checked(capsys):
    for flags in (["--layers", "0"], ["--batch-size", "0"], ["--epochs", "0"], ["--cell", "lstn"]):
        with pytest.raises(SystemExit) as stopped:
            lesson.parse_args(flags)
        assert stopped.value.code == 2, flags
    with pytest.raises(SystemExit):
        lesson.main(["casa"])
    assert "words are read only with --predict" in capsys.readouterr().err


def test_09_shape_flags_build_that_model_and_load_uses_the_checkpoints_shape(tmp_path, few_words):
    _, _, test = few_words
    path = tmp_path / "lstm.pt"
    quick(LESSON, "--cell", "lstm", "--layers", "2", "--bidirectional", "--epochs", "1", "--save", str(path))
    checkpoint = kit.load_checkpoint(path, LESSON)
    assert (checkpoint["cell"], checkpoint["n_layers"], checkpoint["bidirectional"]) == ("lstm", 2, True)
    assert "rnn.weight_hh_l1_reverse" in checkpoint["model"]  # layer 2, read backwards
    assert checkpoint["model"]["rnn.weight_hh_l0"].shape[0] == 4 * lesson.HIDDEN_SIZE  # an LSTM's 4 gates
    # --load with the default --cell gru: the checkpoint's own shape is built, and tested on the test words
    reloaded = lesson.main(["--load", str(path), "--no-figures"])
    assert reloaded["test_accuracy"] == pytest.approx(percent_right(path, test), abs=1e-9)


def test_09_saved_model_reloads_and_tests_the_same(run09):
    result, checkpoint, _ = run09
    reloaded = lesson.main(["--load", str(checkpoint), "--no-figures"])
    assert reloaded["test_accuracy"] == result["test_accuracy"]
    assert reloaded["confusion"] == result["confusion"]  # the same guess for each of the 3,000 test words


def predictions_by_hand(path, words):
    """Each word's three likeliest languages and their probabilities, from the saved model."""
    model, vocab, languages = model_from(path)
    ranked = []
    with torch.no_grad():
        for word in words:
            top = model(vocab.encode(word)[None], torch.tensor([len(word)])).softmax(dim=1)[0].topk(3)
            ranked.append([(languages[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())])
    return ranked


def test_09_predict_folds_case_and_names_unseen_characters_whatever_their_case(run09):
    _, checkpoint, _ = run09
    result = lesson.main(
        ["--predict", "--load", str(checkpoint), "Hello", "hello", "HELLO", "ĦØ€llo", "--", "-ción"]
    )
    predictions = result["predictions"]
    assert [p["word"] for p in predictions] == ["Hello", "hello", "HELLO", "ĦØ€llo", "-ción"]
    assert predictions[0]["top"] == predictions[1]["top"] == predictions[2]["top"]
    assert predictions[3]["unseen"] == sorted("ħø€") and predictions[4]["unseen"] == ["-"]
    by_hand = predictions_by_hand(checkpoint, ["hello", "hello", "hello", "ħø€llo", "-ción"])
    for p, expected in zip(predictions, by_hand):
        assert [lang for lang, _ in p["top"]] == [lang for lang, _ in expected]
        assert [q for _, q in p["top"]] == pytest.approx([q for _, q in expected], abs=1e-5)


def test_09_predict_without_a_saved_model_says_how_to_make_one_and_does_not_train(course_in, capsys):
    with pytest.raises(kit.LessonError, match=r"none is saved yet.*python 09_rnn_classification\.py --save"):
        lesson.main(["--predict", "casa"])
    assert "epoch" not in capsys.readouterr().out


def test_09_predict_uses_what_a_bare_save_wrote_and_load_overrides_it(run09, course_in, few_words):
    _, other, _ = run09
    quick(LESSON, "--save")
    path = course_in / "checkpoints" / f"{LESSON}.pt"
    assert path.is_file() and not (course_in / "figures").exists()  # --no-figures: none drawn
    words = ["zielony", "casa", "hello"]
    bare = lesson.main(["--predict", *words])["predictions"]
    loaded = lesson.main(["--predict", "--load", str(path), *words])["predictions"]
    assert [p["top"] for p in bare] == [p["top"] for p in loaded]
    for p, expected in zip(bare, predictions_by_hand(path, words)):
        assert [lang for lang, _ in p["top"]] == [lang for lang, _ in expected]
        assert [q for _, q in p["top"]] == pytest.approx([q for _, q in expected], abs=1e-5)
    # with a bare save present, --load still picks the model: the quick run's predicts otherwise
    elsewhere = lesson.main(["--predict", "--load", str(other), *words])["predictions"]
    assert [p["top"] for p in elsewhere] != [p["top"] for p in bare]


def test_09_default_run_writes_no_checkpoint_and_show_opens_its_figure(course_in, few_words, monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    lesson.main(["--quick", "--show", "--epochs", "1"])
    assert not (course_in / "checkpoints").exists()
    assert is_png(course_in / "figures" / f"{LESSON}_confusion.png") and shown == [1]


@pytest.mark.parametrize("bad", ["", "123", "!?"])
def test_09_predict_refuses_words_without_letters(run09, bad):
    _, checkpoint, _ = run09
    with pytest.raises(kit.LessonError, match="--predict needs words made of letters"):
        lesson.main(["--predict", "--load", str(checkpoint), "casa", bad])


def test_09_diverging_learning_rate_is_a_clear_error(few_words):
    with pytest.raises(kit.LessonError, match="training diverged"):
        quick(LESSON, "--lr", "1e6")
