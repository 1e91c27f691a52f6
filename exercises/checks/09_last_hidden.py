"""Exercise 09's check: each word's last real hidden state in a padded batch."""

from checks.common import Wrong, as_tensor, call, close, show

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

NAME = "09_last_hidden"
LESSON = "09"
LECTURE = "13"
SLIDE = ""
IDEA = "each word's last real hidden state in a padded batch (place length - 1), equal to what packing gives"
HINTS = [
    "Row i of the answer is one vector of outputs: the one at word i's last real character. Places count"
    " from 0, so for a word of length 3 that is place 2.",
    "Indexing with two index tensors of the same length picks one entry per pair: one tensor for the rows,"
    " one for the places.",
]
FORBIDDEN = []


def check(module, draw):
    batch, steps = draw.integer(4, 7), draw.integer(5, 9)
    input_size, hidden_size = draw.integer(2, 4), draw.integer(3, 6)
    lengths = torch.tensor([draw.integer(1, steps - 1) for _ in range(batch)])
    # the longest word is never the first, so the lengths are never sorted longest first, as packing's
    # old enforce_sorted=True wanted them: an answer that assumes that order fails on every seed
    full = draw.integer(1, batch - 1)
    short = draw.random.choice([i for i in range(batch) if i != full])
    lengths[full] = steps  # the longest word fills the batch, the others are padded
    lengths[short] = draw.integer(1, steps - 2)  # one ends two places early or more, so slips differ
    xs = draw.randn(batch, steps, input_size, dtype=torch.float32)  # padding places hold numbers too
    gru = nn.GRU(input_size, hidden_size, batch_first=True)  # float32, as in lesson 09
    with torch.no_grad():
        outputs = gru(xs)[0]
        expected = gru(pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False))[1][-1]
    what = f"last_hidden() on outputs of shape {tuple(outputs.shape)} with lengths {lengths.tolist()}"
    got = call(module.last_hidden, outputs, lengths, what=what)
    if isinstance(got, torch.Tensor) and got.shape == (batch, batch, hidden_size):
        raise Wrong(
            f"{what} returned shape {tuple(got.shape)}: it took every chosen place for every row (outputs[:,"
            " places]).\nIndex the rows too, one row per place."
        )
    got = as_tensor(got, what, (batch, hidden_size), floating=True)
    # The same numbers picked out (packing runs the same float32 GRU): only rounding may differ.
    if not close(got, expected, torch.float32, 1.0):
        rows = torch.arange(batch)
        why = ""
        if close(got, outputs[:, -1], torch.float32):
            why = (
                "You took the last place of the padded batch for every word: for a word shorter than the batch,\n"
                "that is after its end, where the RNN has read padding. Take place lengths[i] - 1 of row i."
            )
        elif close(got, outputs[rows, lengths.clamp(max=steps - 1)], torch.float32):
            why = "It is one place off: a word of length 3 ends at place 2, as places count from 0."
        elif close(got, outputs[rows, (lengths - 2).clamp(min=0)], torch.float32):
            why = "It is one place early: a word of length 3 ends at place 2, its last real character."
        short = int(lengths.argmin())
        raise Wrong(
            f"last_hidden(): for word {short} (length {lengths[short]}), packing gives {show(expected[short])},"
            f" yours is {show(got[short])},\n{what}.\n{why}".rstrip()
        )
    # A batch of one word, as the last batch of an epoch can be: the batch dimension must survive.
    one = f"last_hidden() on a batch of one word, outputs of shape (1, {steps}, {hidden_size}), lengths [{lengths[short]}]"
    got = call(
        module.last_hidden, outputs[short : short + 1].clone(), lengths[short : short + 1].clone(), what=one
    )
    if isinstance(got, torch.Tensor) and got.shape == (hidden_size,):
        raise Wrong(
            f"{one} returned shape ({hidden_size},), without its batch dimension: a bare .squeeze() removes every"
            " dimension of size 1, the batch's too when it holds one word. Name the dimension to remove."
        )
    got = as_tensor(got, one, (1, hidden_size), floating=True)
    if not close(got, expected[short : short + 1], torch.float32, 1.0):
        raise Wrong(f"{one} gave {show(got[0])}, packing gives {show(expected[short])}.")
    return ""


CORRECT = {
    "gather": [
        (
            "    rows = torch.arange(len(lengths))  # 0, 1, ..., batch - 1\n"
            "    return outputs[rows, lengths - 1]  # row i at place lengths[i] - 1: one hidden state per word",
            "    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.size(2))\n"
            "    return outputs.gather(1, index).squeeze(1)",
        )
    ],
    "a loop": [
        (
            "    rows = torch.arange(len(lengths))  # 0, 1, ..., batch - 1\n"
            "    return outputs[rows, lengths - 1]  # row i at place lengths[i] - 1: one hidden state per word",
            "    return torch.stack([outputs[i, int(n) - 1] for i, n in enumerate(lengths)])",
        )
    ],
    "the diagonal": [
        (
            "    rows = torch.arange(len(lengths))  # 0, 1, ..., batch - 1\n"
            "    return outputs[rows, lengths - 1]  # row i at place lengths[i] - 1: one hidden state per word",
            "    return outputs[:, lengths - 1].diagonal(dim1=0, dim2=1).T",
        )
    ],
}

WRONG = {
    "the last column": (
        [("return outputs[rows, lengths - 1]", "return outputs[:, -1]")],
        "the last place of the padded batch",
    ),
    "one place off": (
        [("outputs[rows, lengths - 1]", "outputs[rows, lengths.clamp(max=outputs.shape[1] - 1)]")],
        "one place off",
    ),
    "rows not indexed": ([("outputs[rows, lengths - 1]", "outputs[:, lengths - 1]")], "Index the rows too"),
    "lengths changed in place": (
        [("    return outputs[rows, lengths - 1]", "    lengths -= 1\n    return outputs[rows, lengths]")],
        "changed its input `lengths` in place",
    ),
    "no - 1": ([("outputs[rows, lengths - 1]", "outputs[rows, lengths]")], "out of bounds"),
    "lengths taken as sorted, longest first": (
        [("outputs[rows, lengths - 1]", "outputs[rows, lengths.sort(descending=True).values - 1]")],
        "packing gives",
    ),
    "squeeze() with no dimension named": (
        [
            (
                "    return outputs[rows, lengths - 1]",
                "    return outputs[rows, lengths - 1].unsqueeze(1).squeeze()",
            )
        ],
        "without its batch dimension",
    ),
    "two places early": (
        [("outputs[rows, lengths - 1]", "outputs[rows, (lengths - 2).clamp(min=0)]")],
        "one place early",
    ),
}
