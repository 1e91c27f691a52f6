"""Exercise 10's check: sampling the next character with a temperature."""

from checks.common import Wrong, as_tensor, call, close, show

import torch

NAME = "10_temperature"
LESSON = "10"
LECTURE = "13"
SLIDE = ""
IDEA = "sampling with a temperature: softmax(scores / T), then torch.multinomial with a generator"
HINTS = [
    "T below 1 must make the likeliest character likelier still: should the scores be multiplied by T or"
    " divided by it, before the softmax?",
    "The scores are one 1-D tensor: the softmax runs over its only dimension. Scores near 1000 overflow"
    " exp() unless the largest score is taken off first (torch.softmax does that for you).",
    "torch.multinomial draws indices from probabilities; it needs replacement=True to draw more than there"
    " are characters, and the generator it is given to repeat its draws.",
]
FORBIDDEN = []


def _check_probabilities(module, scores, temperature, words):
    what = f"temperature_probabilities({words}, temperature={temperature:.3g})"
    got = call(module.temperature_probabilities, scores, temperature, what=what)
    got = as_tensor(got, what, scores.shape, floating=True)
    d = scores.double()
    expected = torch.softmax(d / temperature, dim=0)
    # float32 scores divided by T: the rounding of numbers the size of the scores over T.
    scale = (d / temperature).abs().max()
    if close(got, expected, torch.float32, scale):
        return expected
    model = torch.softmax(d, dim=0)
    why = ""
    if close(got, torch.softmax(d * temperature, dim=0), torch.float32, scale):
        sharper = "sharpen" if temperature < 1 else "even out"
        why = (
            f"The temperature was multiplied, not divided: with T = {temperature:.2g} the odds should {sharper}"
            f" (the top one {model.max():.2f} -> {expected.max():.2f}),\nbut yours went to {got.max():.2f}."
        )
    elif close(got, model, torch.float32, scale):
        why = "These are the odds at T = 1: the temperature was left out."
    elif not torch.isfinite(got).all() and not torch.isfinite((d / temperature).float().exp()).all():
        why = f"exp() of scores up to {(d / temperature).max():.4g} overflows to inf in float32, and inf / inf is nan."
    raise Wrong(
        f"{what} gave {show(got)},\nexpected {show(expected)}, for float32 scores {show(scores)}.\n{why}".rstrip()
    )


def check(module, draw):
    vocabulary = draw.integer(6, 12)
    scores = (draw.randn(vocabulary) * draw.uniform(1, 3)).float()  # float32, as lesson 10's model gives
    temperature = draw.choice([draw.uniform(0.2, 0.8), draw.uniform(1.5, 3.0)])
    for t in (temperature, draw.uniform(0.2, 0.6)):  # a temperature below 1 always comes
        expected = _check_probabilities(module, scores, t, "scores")
        _check_probabilities(module, scores + 1000, t, "scores + 1000")
    expected = torch.softmax(scores.double() / temperature, dim=0)

    n, seed = 20000, draw.integer(0, 2**31)
    what = f"sample(scores, temperature={temperature:.3g}, n={n}, generator)"
    got = call(module.sample, scores, temperature, n, torch.Generator().manual_seed(seed), what=what)
    got = as_tensor(got, what, (n,))
    if got.dtype != torch.int64 or got.min() < 0 or got.max() >= vocabulary:
        raise Wrong(
            f"{what} should give character numbers 0 to {vocabulary - 1} (int64), yours gave {show(got)} ({got.dtype})."
        )
    counts = torch.bincount(got, minlength=vocabulary) / n
    # Each share of 20000 draws has a standard deviation of at most sqrt(0.25 / 20000) = 0.0035, so a gap
    # of 0.02 is over 5 standard deviations: a right sample() fails less than once in a million checks.
    if not (counts - expected).abs().max() <= 0.02:
        why = ""
        if len(got.unique()) == 1 and int(got[0]) == int(expected.argmax()):
            why = " Every draw is the likeliest character: that is the argmax, not a draw."
        elif ((counts - torch.softmax(scores.double(), 0)).abs().max() <= 0.02) and temperature != 1:
            why = " These are the shares at T = 1: the draws ignore the temperature."
        raise Wrong(
            f"{what} drew the characters with these shares:\n{show(counts, 3)}\nbut"
            f" temperature_probabilities gives\n{show(expected, 3)}\n(each share within 0.02 of it over {n} draws).{why}"
        )
    # Equal scores: every character equally likely, so two unseeded draws of 50 all but never agree.
    even = torch.zeros(vocabulary)
    first = call(module.sample, even, 1.0, 50, torch.Generator().manual_seed(seed), what=what)
    if len(as_tensor(first, what).unique()) == 1:  # 50 equal-odds draws all alike: odds under 6**-49
        raise Wrong(
            f"sample() on {vocabulary} equal scores gave character {int(as_tensor(first, what)[0])} all 50 times,"
            " though every character is as likely as the others there. Every draw is the likeliest character:"
            " that is the argmax, not a draw. torch.multinomial draws by the probabilities."
        )
    again = call(module.sample, even, 1.0, 50, torch.Generator().manual_seed(seed), what=what)
    if not torch.equal(as_tensor(first, what), as_tensor(again, what)):
        raise Wrong(
            "two calls of sample() with generators seeded the same drew different characters: the draws do not"
            " come from the generator sample() was given."
        )
    # A generator seeded otherwise must draw otherwise: 50 equal-odds draws of 6+ characters agree by chance
    # with odds under 6**-50. Agreeing means the draws come from a generator of sample()'s own.
    other = call(module.sample, even, 1.0, 50, torch.Generator().manual_seed(seed + 1), what=what)
    if torch.equal(as_tensor(other, what), as_tensor(first, what)):
        raise Wrong(
            f"sample() drew the same 50 characters from generators seeded {seed} and {seed + 1}: the draws do"
            " not come from the generator sample() was given (a generator of its own, seeded the same each"
            " call?). Pass `generator` on to the function that draws."
        )
    return ""


CORRECT = {
    "stable softmax by hand": [
        (
            "    return torch.softmax(scores / temperature, dim=0)  # softmax subtracts the largest score itself",
            "    s = scores / temperature\n    e = torch.exp(s - s.max())\n    return e / e.sum()",
        )
    ],
    "logsumexp, float64": [
        (
            "    return torch.softmax(scores / temperature, dim=0)  # softmax subtracts the largest score itself",
            "    s = scores.double() / temperature\n    return torch.exp(s - torch.logsumexp(s, 0)).float()",
        )
    ],
    "inverse of the cumulative sum": [
        (
            "    return torch.multinomial(probabilities, n, replacement=True, generator=generator)",
            "    u = torch.rand(n, generator=generator, dtype=torch.float64)\n"
            "    cumulative = torch.cumsum(probabilities.double(), 0)\n"
            "    return torch.searchsorted(cumulative, u).clamp(max=len(probabilities) - 1)",
        )
    ],
}

WRONG = {
    "multiplied by T": (
        [("torch.softmax(scores / temperature", "torch.softmax(scores * temperature")],
        "multiplied, not divided",
    ),
    "no generator": ([(", generator=generator)", ")")], "do not come from the generator"),
    "sample ignores T": (
        [
            (
                "probabilities = temperature_probabilities(scores, temperature)",
                "probabilities = torch.softmax(scores, dim=0)",
            )
        ],
        "ignore the temperature",
    ),
    "unguarded exp": (
        [
            (
                "    return torch.softmax(scores / temperature, dim=0)  # softmax subtracts the largest score itself",
                "    e = torch.exp(scores / temperature)\n    return e / e.sum()",
            )
        ],
        "overflows to inf in float32",
    ),
    "temperature left out": (
        [("torch.softmax(scores / temperature, dim=0)", "torch.softmax(scores, dim=0)")],
        "the temperature was left out",
    ),
    "argmax": (
        [
            (
                "    return torch.multinomial(probabilities, n, replacement=True, generator=generator)",
                "    return probabilities.argmax().repeat(n)",
            )
        ],
        "that is the argmax",
    ),
    "divided in place": (
        [
            (
                "    return torch.softmax(scores / temperature, dim=0)",
                "    scores /= temperature\n    return torch.softmax(scores, dim=0)",
            )
        ],
        "changed its input `scores` in place",
    ),
    "a fixed generator of its own": (
        [(", generator=generator)", ", generator=torch.Generator().manual_seed(0))")],
        "a generator of its own",
    ),
    "without replacement": ([("replacement=True", "replacement=False")], "replacement"),
}
