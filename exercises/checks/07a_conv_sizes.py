"""Exercise 07a's check: the output size of a convolution and of max pooling."""

import numbers

from checks.common import Wrong

import torch
from torch import nn

NAME = "07a_conv_sizes"
LESSON = "07"
LECTURE = "10-11"
SLIDE = ""
IDEA = "the output size of a convolution and of max pooling, checked against nn.Conv2d and nn.MaxPool2d"
HINTS = [
    "Count the places where the filter fits whole: the padded input is size + 2 * padding long, and the"
    " filter's first place already uses kernel_size of it.",
    "Every further place needs stride more of the input, and a place where the filter would run past the"
    " end is skipped: that is a division rounded down, plus the first place.",
    "Pooling slides its window the same way; only its default stride differs: when none is given, the"
    " windows sit side by side.",
]
FORBIDDEN = []

SIZE_SLIPS = [  # (how a slip computes the size, what to tell the learner)
    (lambda n, k, s, p: (n + 2 * p - k) // s, "It is missing the + 1: the filter's first place counts too."),
    (lambda n, k, s, p: (n + 2 * p - k) / s, "It is missing the + 1: the filter's first place counts too."),
    (lambda n, k, s, p: (n + p - k) // s + 1, "Padding goes on both sides: size + 2 * padding."),
    (
        lambda n, k, s, p: (n - k) // s + 1,
        "The padding is left out: the padded input is size + 2 * padding long.",
    ),
    (
        lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
        "It rounds up: a place where the filter does not fit whole is skipped.",
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k) / s + 1,
        "It is not rounded down: sizes are ints, and a place where the filter does not fit whole is skipped.",
    ),
    (lambda n, k, s, p: (n + 2 * p - k) // k + 1, "It steps by kernel_size even when a stride is given."),
]


def _check_sizes(what, answers):
    """answers: (call as text, (size, kernel, stride, padding), the learner's answer, PyTorch's) for many
    settings. The first wrong answer is reported, with the slip that explains all of the answers, if any."""
    for call, _, got, expected in answers:
        if isinstance(got, float) and got == expected:
            raise Wrong(f"{call} returned {got!r}, a float: sizes are ints. Round down to an int.")
        if got != expected or isinstance(got, bool) or not isinstance(got, numbers.Integral):
            why = next(
                (
                    words
                    for slip, words in SIZE_SLIPS
                    if all(g == slip(*settings) for _, settings, g, _ in answers)
                ),
                "",
            )
            raise Wrong(f"{call} returned {got!r}; {what} gives {expected}.\n{why}".rstrip())


def check(module, draw):
    answers = []
    for _ in range(25):
        kernel, stride, padding = draw.integer(1, 7), draw.integer(1, 4), draw.integer(0, 3)
        size = draw.integer(max(1, kernel - 2 * padding), 40)
        with torch.no_grad():
            expected = nn.Conv2d(1, 1, kernel, stride, padding)(torch.zeros(1, 1, size, size)).shape[-1]
        got = module.conv_output_size(size, kernel, stride, padding)
        call = f"conv_output_size(size={size}, kernel_size={kernel}, stride={stride}, padding={padding})"
        answers.append((call, (size, kernel, stride, padding), got, expected))
    _check_sizes("nn.Conv2d", answers)

    answers = []
    for i in range(25):
        if i < 5:  # without a stride, as lesson 07 writes nn.MaxPool2d(2), and with a window wider than 1
            kernel, stride = draw.integer(2, 5), None
        else:
            kernel = draw.integer(1, 5)
            stride = (
                draw.choice([None, 1, 2, 3])
                if i > 8
                else draw.choice([s for s in (1, 2, 3) if s != kernel] or [1])
            )
        padding = draw.integer(0, kernel // 2)  # MaxPool2d allows at most half the window
        size = draw.integer(max(1, kernel - 2 * padding), 40)
        with torch.no_grad():
            expected = nn.MaxPool2d(kernel, stride, padding)(torch.zeros(1, 1, size, size)).shape[-1]
        if stride is None:  # nn.MaxPool2d's own default: the checker leaves it out, as lesson 07 does
            got = module.pool_output_size(size, kernel, padding=padding)
            call = f"pool_output_size(size={size}, kernel_size={kernel}, padding={padding})"
        else:
            got = module.pool_output_size(size, kernel, stride, padding)
            call = f"pool_output_size(size={size}, kernel_size={kernel}, stride={stride}, padding={padding})"
        answers.append((call, (size, kernel, stride or kernel, padding), got, expected))
    defaults = [answer for answer in answers if "stride=" not in answer[0]]
    wrong = [answer for answer in defaults if answer[2] != answer[3]]
    if wrong and all(got == (n + 2 * p - k) + 1 for _, (n, k, _, p), got, _ in defaults):
        call, _, got, expected = wrong[0]
        raise Wrong(
            f"{call} returned {got!r}; nn.MaxPool2d gives {expected}.\n"
            "Without a stride, nn.MaxPool2d steps by kernel_size, not by 1: its windows do not overlap."
        )
    _check_sizes("nn.MaxPool2d", answers)
    return ""


CORRECT = {
    "math.floor": """
import math


def conv_output_size(size, kernel_size, stride=1, padding=0):
    return math.floor((size + 2 * padding - kernel_size) / stride) + 1


def pool_output_size(size, kernel_size, stride=None, padding=0):
    return conv_output_size(size, kernel_size, stride or kernel_size, padding)
""",
    "count the places": """
def conv_output_size(size, kernel_size, stride=1, padding=0):
    places, start = 0, 0
    while start + kernel_size <= size + 2 * padding:
        places += 1
        start += stride
    return places


def pool_output_size(size, kernel_size, stride=None, padding=0):
    if stride is None:
        stride = kernel_size
    return conv_output_size(size, kernel_size, stride=stride, padding=padding)
""",
    "int() of the division": [
        (
            "    return (size + 2 * padding - kernel_size) // stride + 1",
            "    return int((size + 2 * padding - kernel_size) / stride) + 1",
        ),
    ],
}

WRONG = {
    "no + 1": ([("// stride + 1", "// stride")], "missing the + 1"),
    "padding once": ([("size + 2 * padding - kernel_size", "size + padding - kernel_size")], "both sides"),
    "true division": ([("// stride + 1", "/ stride + 1")], "sizes are ints"),
    "pooling's stride 1": ([("stride = kernel_size  #", "stride = 1  #")], "steps by kernel_size, not by 1"),
    "padding left out": (
        [("size + 2 * padding - kernel_size", "size - kernel_size")],
        "The padding is left out",
    ),
    "rounded up": (
        [
            (
                "(size + 2 * padding - kernel_size) // stride + 1",
                "-(-(size + 2 * padding - kernel_size) // stride) + 1",
            )
        ],
        "It rounds up",
    ),
    "pooling ignores the stride given": (
        [("    if stride is None:\n        stride = kernel_size", "    stride = kernel_size")],
        "even when a stride is given",
    ),
}
