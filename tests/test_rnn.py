"""Lessons 08 (an RNN cell, hihell -> ihello) and 09 (which language is a word)."""

import csv

import lesson_tools as kit

import pytest
import torch
from conftest import REPO, load_lesson, quick

# ----------------------------------------------------------------------------- 08 RNN basics


@pytest.mark.parametrize("embedding", [False, True])
def test_08_one_step_at_a_time_equals_the_whole_word_at_once(embedding):
    rnn = load_lesson("08_rnn")
    torch.manual_seed(0)
    model = rnn.HelloRNN(embedding)
    x = rnn.encode("hihell", "cpu")
    hidden, steps = torch.zeros(1, 1, rnn.HIDDEN_SIZE), []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, hidden = model(x[:, t : t + 1], hidden)
            steps.append(out)
        whole, last_hidden = model(x, torch.zeros(1, 1, rnn.HIDDEN_SIZE))
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)
    torch.testing.assert_close(hidden, last_hidden)
    assert whole.shape == (1, 6, 5)  # 5 scores, one per character, at each of the 6 steps


@pytest.mark.parametrize("flags", [(), ("--embedding",)])
def test_08_learns_ihello_both_ways(flags):
    result = quick("08_rnn", *flags)
    for way in ("one_at_a_time", "whole_word"):
        assert result[way]["final"] == "ihello"
        assert result[way]["epochs"] < 100  # stopped early, as soon as it read "ihello"
    assert result["step_by_step_equals_whole"]


def test_08_embedding_flag_puts_an_embedding_in_front():
    rnn = load_lesson("08_rnn")
    assert (
        isinstance(rnn.HelloRNN(True).embedding, torch.nn.Embedding) and rnn.HelloRNN(False).embedding is None
    )
    assert quick("08_rnn")["whole_word"]["loss"] != quick("08_rnn", "--embedding")["whole_word"]["loss"]


def test_08_says_so_when_it_has_not_learned(capsys):
    # the one-hot model's scores are tanh outputs in [-1, 1], so even lr 1e6 keeps the loss finite
    result = quick("08_rnn", "--lr", "1e6")
    assert result["whole_word"]["final"] != "ihello"
    assert 'Not "ihello" yet after 100 epochs' in capsys.readouterr().out


# ----------------------------------------------------------------------------- 09 classification
# --quick trains on 6,000 words for 2 epochs; it scored 82% on the 3,000 test words (seed 0). Chance is
# 20% for five balanced languages, and a model that only counted letters would still sit well below
# 60%. 60% (three times chance) leaves room for other CPUs' rounding while still proving learning.
QUICK_THRESHOLD = 0.60
LESSON = "09_rnn_classification"


def test_09_quick_learns_well_above_chance(trained):
    result, _, figures = trained(LESSON)
    assert result["test_accuracy"] >= QUICK_THRESHOLD
    assert sum(map(sum, result["confusion"])) == 3000
    assert (figures / f"{LESSON}_confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_09_split_is_fixed_disjoint_and_by_position():
    train, validation, test = load_lesson(LESSON).read_words()
    with open(REPO / "data" / "words" / "words.csv", encoding="utf-8") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    assert (train, validation, test) == (rows[:24000], rows[24000:27000], rows[27000:])
    words = [{word for word, _ in part} for part in (train, validation, test)]
    assert not words[0] & words[2] and not words[0] & words[1]


def test_09_vocabulary_comes_from_the_training_words_only(trained):
    result, _, _ = trained(LESSON)
    train, validation, test = load_lesson(LESSON).read_words()
    quick_training = set("".join(word for word, _ in train[: load_lesson(LESSON).QUICK_WORDS]))
    elsewhere = set("".join(word for word, _ in train + validation + test)) - quick_training
    assert elsewhere  # è and û occur, but not among the first 6,000 training words
    assert set(result["vocabulary"]) == quick_training


@pytest.mark.parametrize(
    ("cell", "layers", "bidirectional"), [("rnn", 1, False), ("gru", 1, False), ("lstm", 2, True)]
)
def test_09_packed_batch_equals_one_word_at_a_time(cell, layers, bidirectional):
    lesson = load_lesson(LESSON)
    torch.manual_seed(0)
    vocab = lesson.Vocabulary("abcdefghijklmnopqrstuvwxyz")
    words = ["a", "abcdefghijklmnop", "casa", "woordenboek"]
    model = lesson.WordClassifier(len(vocab), 5, cell, layers, bidirectional).eval()
    chars, lengths, _ = lesson.collate([(vocab.encode(w), 0) for w in words])
    assert chars.shape == (4, 16) and lengths.tolist() == [1, 16, 4, 11]
    with torch.no_grad():
        together = model(chars, lengths)
        alone = torch.cat([model(vocab.encode(w)[None], torch.tensor([len(w)])) for w in words])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.fixture
def few_words(monkeypatch):
    """The lesson reads 300 training, 100 validation and 100 test words: for tests of its flags and files,
    not of how well it learns."""
    lesson = load_lesson(LESSON)
    train, validation, test = lesson.read_words()
    monkeypatch.setattr(lesson, "read_words", lambda: (train[:300], validation[:100], test[:100]))


def test_09_cell_layers_and_direction_flags_build_that_model(tmp_path, few_words):
    lesson = load_lesson(LESSON)
    path = tmp_path / "lstm.pt"
    quick(LESSON, "--cell", "lstm", "--layers", "2", "--bidirectional", "--save", str(path))
    checkpoint = kit.load_checkpoint(path, LESSON)
    assert (checkpoint["cell"], checkpoint["layers"], checkpoint["bidirectional"]) == ("lstm", 2, True)
    assert "rnn.weight_hh_l1_reverse" in checkpoint["model"]  # layer 2, read backwards
    assert checkpoint["model"]["rnn.weight_hh_l0"].shape[0] == 4 * lesson.HIDDEN_SIZE  # an LSTM's 4 gates


def test_09_saved_model_reloads_and_tests_the_same(trained):
    result, checkpoint, _ = trained(LESSON)
    reloaded = load_lesson(LESSON).main(["--load", str(checkpoint), "--no-figures"])
    assert reloaded["test_accuracy"] == result["test_accuracy"]
    assert reloaded["confusion"] == result["confusion"]  # the same guess for each of the 3,000 test words


def test_09_predict_folds_case_and_names_unseen_characters_whatever_their_case(trained):
    _, checkpoint, _ = trained(LESSON)
    result = load_lesson(LESSON).main(
        ["--predict", "--load", str(checkpoint), "Hello", "hello", "HELLO", "ĦØ€llo", "--", "-ción"]
    )
    predictions = result["predictions"]
    assert [p["word"] for p in predictions] == ["Hello", "hello", "HELLO", "ĦØ€llo", "-ción"]
    assert predictions[0]["top"] == predictions[1]["top"] == predictions[2]["top"]
    assert predictions[3]["unseen"] == sorted("ħø€") and predictions[4]["unseen"] == ["-"]
    for p in predictions:
        probabilities = [probability for _, probability in p["top"]]
        assert len(p["top"]) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6


def test_09_predict_without_a_saved_model_says_how_to_make_one_and_does_not_train(course_in, capsys):
    with pytest.raises(kit.LessonError, match=r"none is saved yet.*python 09_rnn_classification\.py --save"):
        load_lesson(LESSON).main(["--predict", "casa"])
    assert "epoch" not in capsys.readouterr().out


def test_09_predict_uses_what_a_bare_save_wrote(course_in, few_words):
    lesson = load_lesson(LESSON)
    quick(LESSON, "--save")
    assert (course_in / "checkpoints" / f"{LESSON}.pt").is_file()
    assert lesson.main(["--predict", "zielony"])["predictions"][0]["word"] == "zielony"


def test_09_a_default_run_writes_no_checkpoint(course_in, few_words):
    quick(LESSON)
    assert not (course_in / "checkpoints").exists()


@pytest.mark.parametrize("bad", ["", "123", "!?"])
def test_09_predict_refuses_words_without_letters(trained, bad):
    _, checkpoint, _ = trained(LESSON)
    with pytest.raises(kit.LessonError, match="--predict needs words made of letters"):
        load_lesson(LESSON).main(["--predict", "--load", str(checkpoint), "casa", bad])


def test_09_words_without_predict_are_refused(capsys):
    with pytest.raises(SystemExit):
        load_lesson(LESSON).main(["casa"])
    assert "words are read only with --predict" in capsys.readouterr().err


def test_09_diverging_learning_rate_is_a_clear_error(few_words):
    with pytest.raises(kit.LessonError, match="training diverged"):
        quick(LESSON, "--lr", "1e6")
