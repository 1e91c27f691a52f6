"""Exercise 12's check: how DistributedSampler splits the samples between processes."""

import math

from checks.common import Wrong, show

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler

NAME = "12_distributed_sampler"
LESSON = "12"
LECTURE = "bonus"
SLIDE = ""
IDEA = "DistributedSampler's split by hand: shuffle with seed + epoch, pad, deal every world_size-th"
HINTS = [
    "Three steps, as the docstring lists them: the order (shuffled or not), the padding, the dealing. Get"
    " the order first: every process must draw the very same one, and every epoch a new one.",
    "The padded list's length is the next multiple of world_size at or above n. It is made by repeating"
    " the ordered list from its start, as often as needed: n can be smaller than world_size.",
    "Dealing like cards: process rank takes the indices at places rank, rank + world_size, rank + 2 *"
    " world_size, ... of the padded list. A slice with a step does that.",
]
FORBIDDEN = ["torch.utils.data.DistributedSampler", "torch.utils.data.distributed.DistributedSampler"]


def _order(n, seed, shuffle):
    if shuffle:
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return list(range(n))


def _sampler_slip(got, n, world_size, rank, epoch, seed, shuffle):
    """Name the usual slip behind a wrong share of the indices, verified by computing it; '' if none."""
    share = math.ceil(n / world_size)
    total = share * world_size

    def padded(order):
        return (order * math.ceil(total / n))[:total]

    order = _order(n, seed + epoch, shuffle)
    if len(got) != share:
        return f"Every rank must get the same number of indices, ceil(n / world_size) = {share}" + (
            f"; with n = {n} below world_size = {world_size}, the list is repeated more than once."
            if n < world_size
            else "."
        )
    if shuffle and epoch and got == padded(_order(n, seed, True))[rank::world_size]:
        return "This is epoch 0's order: every epoch must draw a new one, from seed + epoch."
    if not shuffle and got == padded(_order(n, seed + epoch, True))[rank::world_size]:
        return "With shuffle=False the order is 0, 1, ..., n - 1: nothing is shuffled."
    if got == padded(order)[rank * share : (rank + 1) * share]:
        return (
            "This is a block of neighbours: DistributedSampler deals like cards, every world_size-th index."
        )
    fillers = [
        (
            order + list(range(total - n)),
            "The padding repeats 0, 1, 2, ...: it must repeat the start of the ordered list.",
        ),
        (
            order + [order[-1]] * (total - n),
            "The padding repeats the last index: it must repeat the start of the ordered list.",
        ),
    ]
    for filled, words in fillers:
        if total > n and got == filled[rank::world_size]:
            return words
    if sorted(got) == sorted(padded(order)[rank::world_size]):
        return "The right indices in the wrong order: deal them from the one ordered list, in its order."
    if shuffle:
        return "The order differs from DistributedSampler's: torch.randperm with a torch.Generator seeded with seed + epoch."
    return ""


def check(module, draw):
    cases = []
    for _ in range(8):
        world_size = draw.integer(2, 8)
        n = draw.integer(10, 60)
        if n % world_size == 0:
            n += 1  # padding needed: wrong padding shows
        cases.append((n, world_size, draw.integer(1, 5), draw.integer(0, 999), True))
    cases += [(draw.integer(10, 60), draw.integer(2, 8), draw.integer(0, 5), draw.integer(0, 999), False)]
    # n below half of world_size: the list must be repeated more than once
    cases += [(draw.integer(1, 2), draw.integer(5, 8), draw.integer(1, 5), draw.integer(0, 999), True)]
    for n, world_size, epoch, seed, shuffle in cases:
        for rank in range(world_size):
            sampler = DistributedSampler(
                range(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
            )
            sampler.set_epoch(epoch)
            expected = list(sampler)
            call = f"split_indices({n}, world_size={world_size}, rank={rank}, epoch={epoch}, seed={seed}, shuffle={shuffle})"
            got = module.split_indices(n, world_size, rank, epoch, seed=seed, shuffle=shuffle)
            if isinstance(got, (torch.Tensor, np.ndarray)):
                raise Wrong(
                    f"{call} returned a {type(got).__name__}: return a list of ints, as the exercise asks and as"
                    " DistributedSampler's own indices are (.tolist() turns a tensor into one)."
                )
            if not isinstance(got, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in got
            ):
                raise Wrong(f"{call} returned {got!r}: return a list of ints.")
            if list(got) != expected:
                raise Wrong(
                    f"{call} returned {show(list(got))},\nDistributedSampler gives {show(expected)}.\n"
                    + _sampler_slip(list(got), n, world_size, rank, epoch, seed, shuffle)
                )
    return ""


CORRECT = {
    "itertools.cycle": [
        ("import math\n", "import itertools\nimport math\n"),
        (
            "    indices = (indices * math.ceil(total / n))[:total]  # repeated from the start, then cut to length",
            "    indices = list(itertools.islice(itertools.cycle(indices), total))",
        ),
    ],
    "a while loop, dealt by hand": [
        (
            "    indices = (indices * math.ceil(total / n))[:total]  # repeated from the start, then cut to length\n"
            "    return indices[rank:total:world_size]",
            "    ordered = list(indices)\n    while len(indices) < total:\n"
            "        indices = indices + ordered[: total - len(indices)]\n"
            "    return [indices[i] for i in range(rank, total, world_size)]",
        )
    ],
    "tensors": """
import math

import torch


def split_indices(n, world_size, rank, epoch, seed=0, shuffle=True):
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    else:
        order = torch.arange(n)
    per_rank = math.ceil(n / world_size)
    order = order.repeat(math.ceil(per_rank * world_size / n))[: per_rank * world_size]
    return order[rank::world_size].tolist()
""",
}

WRONG = {
    "a tensor returned": (
        [
            (
                "    return indices[rank:total:world_size]",
                "    return torch.tensor(indices)[rank:total:world_size]",
            )
        ],
        "return a list of ints",
    ),
    "seed without epoch": ([("manual_seed(seed + epoch)", "manual_seed(seed)")], "epoch 0's order"),
    "no padding": (
        [("indices = (indices * math.ceil(total / n))[:total]", "")],
        "the same number of indices",
    ),
    "blocks": (
        [
            (
                "return indices[rank:total:world_size]",
                "return indices[rank * total // world_size : (rank + 1) * total // world_size]",
            )
        ],
        "deals like cards",
    ),
    "padded once": (
        [("indices = (indices * math.ceil(total / n))[:total]", "indices = indices + indices[: total - n]")],
        "repeated more than once",
    ),
    "padding from 0": (
        [
            (
                "indices = (indices * math.ceil(total / n))[:total]",
                "indices = indices + list(range(total - n))",
            )
        ],
        "repeats 0, 1, 2",
    ),
    "always shuffled": (
        [("    if shuffle:\n        generator", "    if True:\n        generator")],
        "nothing is shuffled",
    ),
    "random.shuffle": (
        [
            (
                "        indices = torch.randperm(n, generator=generator).tolist()",
                "        import random\n\n        indices = list(range(n))\n        random.Random(seed + epoch).shuffle(indices)",
            )
        ],
        "differs from DistributedSampler's",
    ),
}
