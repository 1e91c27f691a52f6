"""Lesson 11 (lecture 14): seq2seq for dates, with and without attention."""

import re
from datetime import date, datetime

import lesson_tools as kit

import pytest
import torch
from conftest import load_lesson

lesson = load_lesson("11_seq2seq")

# --quick --attention trains on 2,000 pairs for 2 epochs and tests on 500 held-out dates. Measured for
# seeds 0-2: exact match 18.8%, 25.8%, 22.4%; characters right 83.3%, 87.1%, 85.7%. Writing the likeliest
# character at every step gets 52% of the characters right and no whole date, so the floors below are
# well above a model that learned nothing, and well below what a working one reaches.
QUICK_EXACT_FLOOR = 0.05
QUICK_CHAR_FLOOR = 0.75

# The same dates, read by Python's own parser: one pattern per format of the lesson (ordinals stripped).
PATTERNS = [
    "%A, %d %B %Y",
    "%d/%m/%y",
    "%b %d, %Y",
    "%d %b %Y",
    "%Y/%m/%d",
    "%B %d, %Y",
    "%a %d.%m.%Y",
    "%d-%b-%y",
    "%A the %d of %B, %Y",
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick attention run, with its heatmap, shared by the tests below."""
    folder = tmp_path_factory.mktemp("seq2seq")
    return lesson.main(["--quick", "--attention", "--figures", str(folder)]), folder


def test_quick_attention_translates_dates_it_never_saw(quick):
    result, _ = quick
    assert result["attention"] is True
    assert result["test_exact_match"] >= QUICK_EXACT_FLOOR
    assert result["test_char_accuracy"] >= QUICK_CHAR_FLOOR
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert set(result["accuracy_by_length"]) == {f"{low}-{high}" for low, high in lesson.LENGTH_BUCKETS}
    shown = result["examples"]
    assert shown and all(e["right"] == (e["output"] == e["target"]) for e in shown)


def test_held_out_dates_never_appear_in_training():
    pairs = lesson.make_pairs(lesson.TRAIN_PAIRS)
    train_dates = {iso for _, iso in pairs["train"]}
    test_dates = {iso for _, iso in pairs["test"]}
    assert len(test_dates) == len(pairs["test"]) == lesson.TEST_DATES
    assert not train_dates & test_dates  # by calendar date, whatever the spelling
    assert lesson.make_pairs(100)["test"] == pairs["test"]  # --quick draws on the same held-out dates


def python_reads(text: str) -> set[date]:
    """Every date that one of PATTERNS reads from text. strptime puts 2-digit years 00-68 in the 2000s;
    the lesson's rule is 00-49, so a year past 2049 moves back a century."""
    plain = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    found = set()
    for pattern in PATTERNS:
        try:
            day = datetime.strptime(plain, pattern).date()
        except ValueError:
            continue
        found.add(day.replace(year=day.year - 100) if day.year > 2049 else day)
    return found


def test_every_input_says_the_date_of_its_target():
    pairs = lesson.make_pairs(500)
    used = set()
    for text, iso in pairs["train"] + pairs["test"][::4]:  # a sample of 1,000
        target = date.fromisoformat(iso)
        assert python_reads(text) == {target}, text
        named = [day for day in WEEKDAYS if day in text.lower()]  # strptime does not check the weekday
        assert named in ([], [WEEKDAYS[target.weekday()]]), text
        used |= {k for k, write in enumerate(lesson.FORMATS) if write(target) == text}
    assert used == set(range(len(PATTERNS))) == set(range(len(lesson.FORMATS)))


def batch_of(*texts):
    return lesson.collate(lesson.encode([(text, "2026-11-26") for text in texts]))


def test_attention_weights_are_a_distribution_over_the_real_characters():
    torch.manual_seed(0)
    model = lesson.Seq2Seq(attention=True).eval()
    short, long = "26/11/26", "Thursday the 26th of November, 2026"
    chars, lengths, decoder_inputs, _ = batch_of(short, long)
    with torch.no_grad():
        _, weights = model(chars, lengths, decoder_inputs)
    assert weights.shape == (2, lesson.OUT_STEPS, len(long))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, lesson.OUT_STEPS))
    assert torch.all(weights[0, :, len(short) :] == 0)  # padding gets exactly nothing
    assert torch.all(weights[0, :, : len(short)] > 0)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_does_not_change_the_output(attention):
    torch.manual_seed(0)
    model = lesson.Seq2Seq(attention).eval()
    with torch.no_grad():
        alone, _ = model(*batch_of("26/11/26")[:3])
        together, _ = model(*batch_of("26/11/26", "Wednesday the 26th of September, 2029")[:3])
        guesses_alone, _ = model.translate(*batch_of("26/11/26")[:2])
        guesses_together, _ = model.translate(*batch_of("26/11/26", "Sunday, 1 January 2040")[:2])
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-5)
    assert torch.equal(guesses_together[:1], guesses_alone)


def test_diverging_learning_rate_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(lesson, "QUICK_PAIRS", 256)  # four batches are enough to blow up
    with pytest.raises(kit.LessonError, match="training diverged"):
        lesson.main(["--quick", "--epochs", "1", "--lr", "1e6", "--no-figures"])


def test_attention_heatmap_is_a_png(quick):
    _, folder = quick
    assert (folder / "11_seq2seq_attention.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
