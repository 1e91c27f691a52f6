"""Lesson 09 (which language is a word): every number and language name it prints is recomputed here
from the saved model and the data; the confusion figure's rows count each language's test words; the
validation and test numbers come from their own words; each flag shows in the output, the figure or the
files; --lecture trains 13_2's own model with its settings; the same seed prints the same lines."""

import csv
import math
import re
from collections import Counter

import lesson_tools as kit

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import REPO, load_lesson, masked, quick
from torch import nn
from torch.utils.data import DataLoader


def no_schedule(optimizer):
    """A scheduler that leaves the learning rate alone, for calling a lesson's train() by hand."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --quick trains on 6,000 words for 2 epochs; it scored 81.6% on the 3,000 test words and 81.3% on the
# validation words (seed 0). Chance is 20% for five balanced languages, and a model that only counted
# letters would still sit well below 60%. 60% (three times chance) leaves room for other CPUs' rounding
# while still proving learning.
QUICK_THRESHOLD = 60.0
LESSON = "09_rnn_classification"
lesson = load_lesson(LESSON)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def quick09(trained):
    """The shared quick run (results, checkpoint, figures), made before any test patches the data."""
    return trained(LESSON)


@pytest.fixture
def drawn09(monkeypatch):
    """The figures a run saves, by name, kept open here instead of written."""
    figures = {}
    monkeypatch.setattr(kit, "save_figure", lambda fig, name, args: figures.setdefault(name, fig))
    yield figures
    plt.close("all")


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


def test_09_quick_learns_well_above_chance(quick09):
    result, _, figures = quick09
    assert result["test_accuracy"] >= QUICK_THRESHOLD
    assert [row["epoch"] for row in result["history"]] == [1, 2]
    assert result["history"][-1]["validation_accuracy"] >= QUICK_THRESHOLD
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert result["batches_per_epoch"] == math.ceil(lesson.QUICK_WORDS / lesson.BATCH_SIZE)
    assert is_png(figures / f"{LESSON}_confusion.png")


def test_09_validation_and_test_numbers_are_measured_on_their_own_words(quick09):
    result, path, _ = quick09
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


def test_09_vocabulary_comes_from_the_training_words_only(quick09):
    result, _, _ = quick09
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
def few_09_words(monkeypatch):
    """The lesson reads 300 training, 100 validation and 100 test words: for tests of its flags and files,
    not of how well it learns."""
    train, validation, test = lesson.read_words()
    monkeypatch.setattr(lesson, "read_words", lambda: (train[:300], validation[:100], test[:100]))
    return train[:300], validation[:100], test[:100]


def test_09_epochs_batch_size_and_seed(few_09_words):
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


def test_09_a_tiny_learning_rate_learns_nothing(few_09_words):
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


def test_09_shape_flags_build_that_model_and_load_uses_the_checkpoints_shape(
    tmp_path, few_09_words, capsys, drawn09
):
    _, _, test = few_09_words
    path = tmp_path / "lstm.pt"
    flags = ["--cell", "lstm", "--layers", "2", "--bidirectional", "--epochs", "1", "--save", str(path)]
    lesson.main(["--quick", *flags])
    assert list(drawn09) == [f"{LESSON}_confusion_lstm_2layers_bidirectional"]  # not the default's file
    out = capsys.readouterr().out
    assert "; LSTM x 2 bidirectional, on cpu" in out
    # 2 layers x 2 directions of 128, and the Linear layer reads the last layer's two: 5 scores a word
    assert "-> rnn's last hidden state (4, 3, 128) -> fc (3, 5)" in out
    checkpoint = kit.load_checkpoint(path, LESSON)
    assert (checkpoint["cell"], checkpoint["n_layers"], checkpoint["bidirectional"]) == ("lstm", 2, True)
    assert "rnn.weight_hh_l1_reverse" in checkpoint["model"]  # layer 2, read backwards
    assert checkpoint["model"]["rnn.weight_hh_l0"].shape[0] == 4 * lesson.HIDDEN_SIZE  # an LSTM's 4 gates
    # --load with the default --cell gru: the checkpoint's own shape is built, and tested on the test words
    reloaded = lesson.main(["--load", str(path), "--no-figures"])
    assert reloaded["test_accuracy"] == pytest.approx(percent_right(path, test), abs=1e-9)
    assert capsys.readouterr().out.startswith(f"Loaded the LSTM x 2 bidirectional saved in {path}")


def test_09_saved_model_reloads_and_tests_the_same(quick09):
    result, checkpoint, _ = quick09
    reloaded = lesson.main(["--load", str(checkpoint), "--no-figures"])
    assert reloaded["test_accuracy"] == result["test_accuracy"]
    assert reloaded["confusion"] == result["confusion"]  # the same guess for each of the 3,000 test words


def p_words(predictions):
    return [p["word"] for p in predictions]


def predictions_by_hand(path, words):
    """Each word's three likeliest languages and their probabilities, from the saved model."""
    model, vocab, languages = model_from(path)
    ranked = []
    with torch.no_grad():
        for word in words:
            top = model(vocab.encode(word)[None], torch.tensor([len(word)])).softmax(dim=1)[0].topk(3)
            ranked.append([(languages[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())])
    return ranked


def test_09_predict_folds_case_and_names_unseen_characters_whatever_their_case(quick09, capsys):
    _, checkpoint, _ = quick09
    capsys.readouterr()
    result = lesson.main(
        ["--predict", "--load", str(checkpoint), "Hello", "hello", "HELLO", "ĦØ€llo", "--", "-ción"]
    )
    lines = capsys.readouterr().out.splitlines()
    predictions = result["predictions"]
    assert [p["word"] for p in predictions] == ["Hello", "hello", "HELLO", "ĦØ€llo", "-ción"]
    assert predictions[0]["top"] == predictions[1]["top"] == predictions[2]["top"]
    assert predictions[3]["unseen"] == sorted("ħø€") and predictions[4]["unseen"] == ["-"]
    by_hand = predictions_by_hand(checkpoint, ["hello", "hello", "hello", "ħø€llo", "-ción"])
    for p, expected in zip(predictions, by_hand):
        assert [lang for lang, _ in p["top"]] == [lang for lang, _ in expected]
        assert [q for _, q in p["top"]] == pytest.approx([q for _, q in expected], abs=1e-5)
    # what the learner reads: each word, its three likeliest languages with their percents, its unseen letters
    assert lines[0] == f"Which language? (GRU x 1 from {checkpoint})"
    for line, word, expected, unseen in zip(
        lines[1:], p_words(predictions), by_hand, ["", "", "", "ħ ø €", "-"]
    ):
        shown = "   ".join(f"{lang} {100 * q:.1f}%" for lang, q in expected)
        note = f"   (never seen in training: {' '.join(sorted(unseen.split()))})" if unseen else ""
        assert line == f"   {word:18} {shown}{note}"
    assert len(lines) == 6


def test_09_predict_without_a_saved_model_says_how_to_make_one_and_does_not_train(course_in, capsys):
    with pytest.raises(kit.LessonError, match=r"none is saved yet.*python 09_rnn_classification\.py --save"):
        lesson.main(["--predict", "casa"])
    assert "epoch" not in capsys.readouterr().out


def test_09_predict_uses_what_a_bare_save_wrote_and_load_overrides_it(
    quick09, course_in, few_09_words, drawn09
):
    _, other, _ = quick09
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
    # a bare --save of a model with other options goes to a file of its own, never over the default's
    written = path.read_bytes()
    lesson.main(["--quick", "--cell", "rnn", "--epochs", "1", "--save"])
    assert kit.load_checkpoint(course_in / "checkpoints" / f"{LESSON}_rnn.pt", LESSON)["cell"] == "rnn"
    assert path.read_bytes() == written
    assert list(drawn09) == [f"{LESSON}_confusion_rnn"]  # its figure too has a name of its own


def test_09_default_run_writes_no_checkpoint_and_show_opens_its_figure(course_in, few_09_words, monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    lesson.main(["--quick", "--show", "--epochs", "1"])
    assert not (course_in / "checkpoints").exists()
    assert is_png(course_in / "figures" / f"{LESSON}_confusion.png") and shown == [1]


@pytest.mark.parametrize("bad", ["", "123", "!?"])
def test_09_predict_refuses_words_without_letters(quick09, bad):
    _, checkpoint, _ = quick09
    with pytest.raises(kit.LessonError, match="--predict needs words made of letters"):
        lesson.main(["--predict", "--load", str(checkpoint), "casa", bad])


def test_09_diverging_learning_rate_is_a_clear_error(few_09_words):
    with pytest.raises(kit.LessonError, match="training diverged"):
        quick(LESSON, "--lr", "1e6")


# ----------------------------------------------------------------------------- what it prints


@pytest.fixture(scope="module")
def quick09_by_hand(quick09):
    """The quick run's saved model guessing each test word here, in batches of 500 without the lesson's
    test() or report(): (test rows, languages, guesses)."""
    _, path, _ = quick09
    model, vocab, languages = model_from(path)
    test_rows = lesson.read_words()[2]
    guesses = []
    with torch.no_grad():
        for start in range(0, len(test_rows), 500):
            rows = test_rows[start : start + 500]
            chars, lengths, _ = lesson.collate([(vocab.encode(word), 0) for word, _ in rows])
            guesses += model(chars, lengths).argmax(dim=1).tolist()
    return test_rows, languages, guesses


def confusion_by_hand(rows, languages, guesses):
    """counts[true language][guessed language], counted word by word."""
    pairs = Counter((language, languages[g]) for (_, language), g in zip(rows, guesses))
    return [[pairs[truth, guess] for guess in languages] for truth in languages]


def test_09_the_padding_and_packing_demo_prints_what_its_three_words_are(quick09, printed):
    result, lines = quick09[0], printed(LESSON)
    words = [word for word, _ in lesson.read_words()[2][:3]]
    assert lines[0].endswith(f"as in 13_4): {words}")
    lengths, longest = [len(w) for w in words], max(len(w) for w in words)
    assert lines[1] == f"   padded to the longest with 0s: shape (3, {longest}), lengths {lengths}"
    chars = result["vocabulary"]
    for word, line in zip(words, lines[2:5]):
        # each character's place in the training words' characters, after PAD (0) and UNKNOWN (1)
        numbers = [chars.index(c) + 2 if c in chars else 1 for c in word] + [0] * (longest - len(word))
        assert line.split(maxsplit=1) == [word, str(numbers)]
    going = [sum(length > step for length in lengths) for step in range(longest)]
    longest_first = sorted(range(3), key=lambda i: -lengths[i])
    assert lines[5] == (
        f"   packed: {sum(lengths)} real characters of {3 * longest} places; words still going at each "
        f"step: {going} (longest first: {longest_first})"
    )
    assert f"unpacked again: (3, {longest}, 5) (batch, step, hidden)" in lines[6]
    assert lines[7].startswith("   its last hidden state ht (1, 3, 5)") and lines[7].endswith(": True")


EPOCH_LINE = re.compile(r"^   epoch (\d+)/(\d+)   train loss (\S+)   validation accuracy (\S+)%   [\d.]+ s$")


def test_09_the_training_header_sizes_and_epochs_print_their_own_numbers(quick09, printed):
    result, lines = quick09[0], printed(LESSON)
    _, validation, test = lesson.read_words()
    longest = max(len(word) for word, _ in test[:3])
    two = lines.index("") + 1
    assert lines[two] == (
        f"2) {lesson.QUICK_WORDS:,} training words, {len(validation):,} validation, {len(test):,} test;"
        f" {len(result['vocabulary'])} characters; GRU x 1, on cpu"
    )
    assert lines[two + 2] == (
        f"      input (3, {longest}) -> embedding (3, {longest}, {lesson.EMBEDDING_SIZE})"
        f" -> rnn's last hidden state (1, 3, {lesson.HIDDEN_SIZE}) -> fc (3, 5)"
    )
    rows = [EPOCH_LINE.match(line) for line in lines]
    rows = [(int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in rows if m]
    assert [(epoch, of) for epoch, of, *_ in rows] == [(1, 2), (2, 2)]  # --quick's 2, every one
    assert [row[2] for row in rows] == pytest.approx([r["train_loss"] for r in result["history"]], abs=5e-5)
    assert [row[3] for row in rows] == pytest.approx(
        [r["validation_accuracy"] for r in result["history"]], abs=5e-3
    )


def test_09_the_test_report_prints_the_saved_models_own_guesses(quick09_by_hand, printed):
    test_rows, languages, guesses = quick09_by_hand
    lines = printed(LESSON)
    right = sum(languages[g] == language for (_, language), g in zip(test_rows, guesses))
    three = next(i for i, line in enumerate(lines) if line.startswith("3)"))
    assert lines[three] == (
        f"3) Test accuracy {100 * right / len(test_rows):.1f}% on {len(test_rows):,} words never seen in"
        f" training (chance: {100 / len(languages):.0f}%)"
    )
    assert lines[three + 1] == "   confusion matrix (rows: true language, columns: guessed)"
    assert lines[three + 2].split() == [language[:5] for language in languages] + ["right"]
    counts = confusion_by_hand(test_rows, languages, guesses)
    for language, row, line in zip(languages, counts, lines[three + 3 :]):
        # a language's "right": the percent of ITS words guessed as it (its row), not of the guesses of it
        assert line.split() == [
            language,
            *map(str, row),
            f"{100 * row[languages.index(language)] / sum(row):.1f}%",
        ]
    wrong = [
        (word, language, languages[g])
        for (word, language), g in zip(test_rows, guesses)
        if languages[g] != language
    ]
    shown = lines[three + 3 + len(languages)]
    assert shown.startswith("   some words it gets wrong: ")
    assert re.findall(r"(\S+) \((\w+), guessed (\w+)\)", shown) == wrong[:5]


def test_09_the_confusion_figures_rows_count_each_languages_test_words(few_09_words, drawn09):
    train, _, test = few_09_words
    result = lesson.main(["--quick", "--epochs", "1"])
    ax = drawn09[f"{LESSON}_confusion"].axes[0]
    languages = sorted({language for _, language in train})
    assert [label.get_text() for label in ax.get_yticklabels()] == languages  # rows: the true language
    assert [label.get_text() for label in ax.get_xticklabels()] == languages
    shown = [[None] * len(languages) for _ in languages]
    for text in ax.texts:
        column, row = text.get_position()
        shown[round(row)][round(column)] = int(text.get_text())
    # each row holds its language's test words, all of them
    assert [sum(row) for row in shown] == [
        sum(language == lang for _, language in test) for lang in languages
    ]
    model, vocab = result["model"].eval(), lesson.Vocabulary(result["vocabulary"])
    with torch.no_grad():
        chars, lengths, _ = lesson.collate([(vocab.encode(word), 0) for word, _ in test])
        guesses = model(chars, lengths).argmax(dim=1).tolist()
    assert shown == confusion_by_hand(test, languages, guesses)
    shade = torch.tensor(ax.images[0].get_array().data)
    fractions = torch.tensor(shown) / torch.tensor(shown).sum(dim=1, keepdim=True).clamp(min=1)
    torch.testing.assert_close(shade.float(), fractions.float())  # shaded by the share of its row


def test_09_prints_the_same_lines_twice_with_a_seed(few_09_words, capsys):
    runs = []
    for _ in range(2):
        capsys.readouterr()
        quick(LESSON, "--epochs", "1")
        runs.append(masked(capsys.readouterr().out.splitlines()))
    assert runs[0] == runs[1] and len(runs[0]) > 15


# ----------------------------------------------------------------------------- --lecture


def test_09_lecture_trains_13_2s_model_with_its_settings(few_09_words, tmp_path, capsys, drawn09):
    _, _, test = few_09_words
    path = tmp_path / "lecture.pt"
    result = lesson.main(["--quick", "--lecture", "--epochs", "1", "--save", str(path)])
    lines = capsys.readouterr().out.splitlines()
    (figure,) = drawn09.values()
    assert list(drawn09) == [f"{LESSON}_confusion_lecture"]
    assert figure.axes[0].get_title().endswith("(the lecture's GRU: 2 bidirectional layers of 100)")
    assert lines[0].startswith("--lecture, the lecture code's settings: lr 0.001 (not 0.01); model Lecture")
    assert "epochs" not in lines[0]  # --epochs 1 was typed: it stays
    model = result["model"]
    assert type(model).__name__ == "LectureRNNClassifier"
    gru = model.gru
    assert (type(gru), gru.input_size, gru.hidden_size, gru.num_layers) == (nn.GRU, 100, 100, 2)
    assert gru.bidirectional and not gru.batch_first  # 13_2 reads (step, batch)
    assert model.embedding.embedding_dim == 100 and model.fc.in_features == 100  # fc reads one direction
    # Adam at 0.001, the same rate at the end as at the start: no schedule
    optimizer = result["optimizer"]
    assert type(optimizer) is torch.optim.Adam and result["scheduler"] is None
    assert optimizer.param_groups[0]["lr"] == 0.001
    assert result["batches_per_epoch"] == math.ceil(300 / 256) and len(result["history"]) == 1
    text = "\n".join(lines)
    assert (
        "test; 50 characters" not in text
        and "; the lecture's GRU: 2 bidirectional layers of 100, on cpu" in text
    )
    assert "-> gru's last hidden state (4, 3, 100) -> fc (3, 5)" in text
    # its checkpoint reloads as the lecture's model, with the same test accuracy
    assert lesson.main(["--load", str(path), "--no-figures"])["test_accuracy"] == result["test_accuracy"]


def test_09_lecture_refuses_the_flags_that_shape_our_model(capsys):
    for flags in (["--cell", "lstm"], ["--layers", "2"], ["--bidirectional"], ["--predict", "casa"]):
        with pytest.raises(SystemExit) as stopped:
            lesson.parse_args(["--lecture", *flags])
        assert stopped.value.code == 2, flags
        assert "--lecture" in capsys.readouterr().err.splitlines()[-1]


def test_09_the_lectures_model_reads_hidden_minus_1_the_last_layer_backwards():
    torch.manual_seed(0)
    vocab = lesson.Vocabulary(LETTERS)
    model = lesson.LectureRNNClassifier(len(vocab), 8, 5, 2).eval()
    words = ["a", "abcdefghijklmnop", "casa", "woordenboek"]
    chars, lengths, _ = lesson.collate([(vocab.encode(w), 0) for w in words])
    with torch.no_grad():
        together = model(chars, lengths)
        for i, word in enumerate(words):
            # the word alone, sequence first, no padding: hidden is (layer 1 fwd, bwd, layer 2 fwd, bwd)
            _, hidden = model.gru(model.embedding(vocab.encode(word))[:, None])
            torch.testing.assert_close(together[i], model.fc(hidden[3, 0]), atol=1e-5, rtol=1e-5)
            assert (model.fc(hidden[2, 0]) - together[i]).abs().max() > 1e-4  # the test tells them apart
