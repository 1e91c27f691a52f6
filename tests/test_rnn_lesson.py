"""Lesson 08: the hello toy, the words classifier, packing, --predict and the saved model."""

import subprocess
import sys

import pytest
import torch
from conftest import REPO, load_lesson

rnn = load_lesson("08_rnn")
kit = rnn.kit

# --quick trains on 6,000 words for 2 epochs; at seed 0 it scores about 82% on the 3,000 test words.
# Chance is 20% for five balanced languages, and a model that only counted letters would still sit well
# below 60%. 60% (three times chance) leaves room for other CPUs' rounding while still proving learning.
QUICK_THRESHOLD = 0.60


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick training shared by the tests below: its results, its checkpoint and its figures."""
    folder = tmp_path_factory.mktemp("rnn")
    result = rnn.main(["--quick", "--save", str(folder / "model.pt"), "--figures", str(folder / "figures")])
    return result, folder / "model.pt", folder / "figures"


@pytest.mark.parametrize("embedding", [False, True])
def test_hello_reaches_ihello(embedding):
    result = rnn.main(["--task", "hello", "--no-figures"] + (["--embedding"] if embedding else []))
    assert result["final_string"] == "ihello"
    assert result["epochs"] < 100  # stopped early, as soon as it read "ihello"


def test_quick_words_well_above_chance(quick):
    result, checkpoint, figures = quick
    assert result["test_accuracy"] >= QUICK_THRESHOLD
    assert set(result["per_language"]) == {"dutch", "english", "polish", "portuguese", "spanish"}
    assert sum(map(sum, result["confusion"])) == 3000
    assert result["wrong"] and all(truth != guess for _, truth, guess, _ in result["wrong"])
    assert checkpoint.is_file()
    assert (figures / "08_confusion_matrix.png").stat().st_size > 0


def test_split_is_fixed_and_independent_of_the_seed():
    words, labels = rnn.read_words()
    parts = rnn.split_words(words, labels)
    assert [len(parts[name][0]) for name in ("train", "val", "test")] == [24000, 3000, 3000]
    assert parts["test"][0] == words[27000:]  # by position in the file, so --seed cannot move it
    assert not set(parts["train"][0]) & set(parts["test"][0])


def longest_and_shortest_batch():
    """A batch with a length-1 word, the longest word of the data, and two in between."""
    words, _ = rnn.read_words()
    longest = max(words, key=len)
    return ["a", longest, "casa", "woordenboek"], rnn.Vocabulary.from_words(words)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_packed_batch_equals_one_word_at_a_time(cell):
    torch.manual_seed(0)
    batch_words, vocab = longest_and_shortest_batch()
    assert len(batch_words[1]) == 16
    model = rnn.WordClassifier(len(vocab), 5, cell, embedding_size=8, hidden_size=16).eval()
    chars, lengths, _ = rnn.collate([(vocab.encode(w), 0) for w in batch_words])
    assert chars.shape == (4, 16) and lengths.tolist() == [1, 16, 4, 11]
    with torch.no_grad():
        together = model(chars, lengths)
        alone = torch.cat([model(vocab.encode(w)[None], torch.tensor([len(w)])) for w in batch_words])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_unknown_characters_and_case():
    vocab = rnn.Vocabulary("abc")
    assert vocab.encode("Ab").tolist() == vocab.encode("ab").tolist() == [2, 3]
    assert vocab.encode("a§ß").tolist() == [2, rnn.UNKNOWN, rnn.UNKNOWN]


def test_predict_handles_case_and_unseen_characters(quick, capsys):
    _, checkpoint, _ = quick
    result = rnn.main(
        ["--predict", "Hello", "hello", "HELLO", "ħ€llø", "--load", str(checkpoint), "--no-figures"]
    )
    predictions = result["predictions"]
    assert [p["word"] for p in predictions] == ["Hello", "hello", "HELLO", "ħ€llø"]
    assert predictions[0]["top"] == predictions[1]["top"] == predictions[2]["top"]  # case is folded
    assert predictions[3]["unseen"] == sorted("ħø€")
    for p in predictions:
        probabilities = [prob for _, prob in p["top"]]
        assert len(p["top"]) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
    assert "never seen in training" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["", "   ", "123", "!?"])
def test_predict_rejects_empty_or_non_alphabetic_input(quick, bad):
    _, checkpoint, _ = quick
    with pytest.raises(kit.LessonError, match="--predict needs words made of letters"):
        rnn.main(["--predict", "casa", bad, "--load", str(checkpoint), "--no-figures"])


def test_predict_error_is_one_line_from_another_directory(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "08_rnn.py"), "--predict", ""],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: --predict needs words") and "Traceback" not in done.stderr


def test_predict_without_a_saved_model_trains_one_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rnn, "MODEL_PATH", tmp_path / "absent.pt")
    result = rnn.main(["--predict", "zielony", "--quick", "--no-figures"])
    assert "No saved model at" in capsys.readouterr().out
    assert result["predictions"][0]["word"] == "zielony"
    assert result["test_accuracy"] >= QUICK_THRESHOLD


def test_saved_model_reloads_with_weights_only_and_predicts_the_same(quick):
    result, checkpoint, _ = quick
    raw = torch.load(checkpoint, weights_only=True)  # plain values and tensors only
    assert (
        raw["lesson"] == "08_rnn" and isinstance(raw["vocabulary"], str) and raw["cell"] == rnn.DEFAULT_CELL
    )
    reloaded = rnn.main(["--load", str(checkpoint), "--no-figures"])
    assert reloaded["test_accuracy"] == result["test_accuracy"]
    assert reloaded["confusion"] == result["confusion"]  # the same guess for each of the 3,000 test words
    assert reloaded["wrong"] == result["wrong"]


@pytest.mark.parametrize("task", ["hello", "words"])
def test_diverging_learning_rate_is_a_clear_error(task):
    with pytest.raises(kit.LessonError, match="training diverged"):
        rnn.main(["--task", task, "--quick", "--lr", "1e6", "--no-figures"])


def test_hello_rejects_words_flags():
    with pytest.raises(kit.LessonError, match="belong to the words task"):
        rnn.main(["--task", "hello", "--predict", "casa"])
