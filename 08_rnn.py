"""Lecture 12: what an RNN cell does: the shapes it takes and gives, then teach it "hihell" -> "ihello".

python 08_rnn.py                 # the shapes, then hello one character at a time and the whole word at once
python 08_rnn.py --embedding     # nn.Embedding instead of one-hot inputs (the lecture's 12_4)
python 08_rnn.py --lecture       # the lecture code's own run: seed 777, 12_2's summed loss, all 100 epochs
python 08_rnn.py --quick         # at most 20 epochs of training
python 08_rnn.py --help

At each step an RNN cell takes one input (here a character) and its hidden state, and returns a new
hidden state: a summary of everything it has read so far. That memory is why RNNs suit text, where what
comes next depends on what came before.

Your turn: exercises/08_rnn_step.py (python exercises/check.py 08).
"""

import math

import lesson_tools as kit

import torch
from torch import nn

idx2char = ["h", "i", "e", "l", "o"]  # the lecture's: h=0, i=1, e=2, l=3, o=4
x_data = [0, 1, 0, 2, 3, 3]  # hihell
y_data = [1, 0, 2, 3, 3, 4]  # ihello: at each step, the character that comes next
num_classes = len(idx2char)
# 12_2's table: row i is character i's one-hot vector. The lecture builds the inputs from it once, before
# training; Model.forward looks each character up in it.
one_hot_lookup = torch.eye(num_classes)
hidden_size = 5  # as in the lecture: one hidden number per character, read directly as its score
embedding_size = 10  # --embedding: the lecture's 12_4 size
EPOCHS = 100  # the lecture's; training stops as soon as the prediction reads "ihello"
LR = 0.1  # the lecture's Adam learning rate
QUICK_EPOCHS = 20
LECTURE = {  # --lecture: the settings of 12_2's and 12_3's code (12_4's are the same)
    "epochs": EPOCHS,
    "lr": LR,
    "seed": 777,
    "loss in 2)": ("the sum of the 6 steps' losses, as 12_2 adds them up", "their mean, as 12_3 takes it"),
    "stop": ("after the last epoch", "at the first epoch that reads ihello"),
}


def text(indices):
    return "".join(idx2char[i] for i in indices)


def show_shapes():
    """The lecture's 12_1: one nn.RNN fed one character, a word step by step, the word at once, a batch.
    Returns what it printed, for the tests: the cell, its starting hidden state and both last outputs."""
    h, e, l, o = torch.eye(4)  # noqa: E741 (the lecture's names: h, e, l, o as 4-long one-hot vectors)
    cell = nn.RNN(input_size=4, hidden_size=2, batch_first=True)
    print(f"1) The shapes (12_1): {cell}")
    # (layers, batch, hidden size). Random numbers, as 12_1 starts, drawn after the seed was set.
    hidden = start = torch.randn(1, 1, 2)
    inputs = torch.stack([h, e, l, l, o])  # 'hello', one row per character
    steps = []
    for one in inputs:  # one character at a time: the hidden state carries what was read so far
        one = one.view(1, 1, -1)  # (batch, sequence, input size)
        out, hidden = cell(one, hidden)
        steps.append(out)
    print(f"   one character:   input {tuple(one.shape)} (batch, sequence, input size)")
    print(f"{'':20}hidden {tuple(hidden.shape)} (layers, batch, hidden)   output {tuple(out.shape)}")

    inputs = inputs.view(1, 5, -1)  # the whole word in one call: nn.RNN runs the same loop inside
    # Unlike 12_1, which hands this call the hidden state its loop ended with (so that the cell reads
    # "hello" a second time, on top of the first), the call starts where the loop started: then its five
    # outputs are the loop's own, number for number.
    whole, _ = cell(inputs, start)
    same = torch.allclose(torch.cat(steps, dim=1), whole)
    print(f"   'hello' step by step: 5 outputs of {tuple(steps[0].shape)}; all at once: {tuple(whole.shape)}")
    first = [round(v, 4) for v in whole[0, 0].tolist()]
    print(f"   from the same start, the same numbers either way: {same}   (the first output: {first})")
    continued, _ = cell(inputs, hidden)
    again = [round(v, 4) for v in continued[0, 0].tolist()]
    print(f"   from where the loop ended, as 12_1 calls it, the first output is {again}: another start")

    words = torch.stack([inputs[0], torch.stack([e, o, l, l, l]), torch.stack([l, l, e, e, l])])
    out, hidden = cell(words, torch.randn(1, 3, 2))  # 3 words, 3 random starts, as in 12_1
    print(
        f"   a batch of 3 words: input {tuple(words.shape)} -> output {tuple(out.shape)}, hidden {tuple(hidden.shape)}"
    )
    # Without batch_first the sequence comes first, (sequence, batch, input size), as in the lecture's end.
    cell_batch_first, cell = cell, nn.RNN(input_size=4, hidden_size=2)
    words = words.transpose(0, 1)  # (5, 3, 4)
    out, hidden = cell(words, hidden)
    print(f"   the same batch without batch_first: input {tuple(words.shape)} -> output {tuple(out.shape)}")
    return {
        "same": same,
        "cell": cell_batch_first,
        "start": start,
        "first": whole[0, 0],
        "continued": continued[0, 0],
    }


# Step 1: the model. With one-hot inputs it is a bare nn.RNN whose 5 hidden numbers are the scores of
# the 5 characters, as in the lecture's 12_2 and 12_3. --embedding puts an nn.Embedding in front and a
# Linear layer behind, as 12_4 does: the embedding learns a dense vector per character instead of a
# one-hot one, which matters when there are thousands of symbols (words) rather than five. Like 12_2's
# model (whose order is forward(hidden, x)), and unlike 12_3's and 12_4's, which make a zero h_0 inside
# forward(), this one takes the hidden state as an argument, so that the same class can read one
# character at a time (12_2) or the whole word (12_3, 12_4).
class Model(nn.Module):
    def __init__(self, embedding=False):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embedding_size) if embedding else None
        self.rnn = nn.RNN(embedding_size if embedding else num_classes, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes) if embedding else None

    def forward(self, x, hidden):
        """x: (batch, steps) character numbers; hidden: (1, batch, hidden_size), what was read so far.
        Returns the 5 scores at every step, and the new hidden state."""
        if self.embedding is None:
            return self.rnn(one_hot_lookup.to(x.device)[x], hidden)  # (batch, steps, 5) one-hot rows
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.fc(out), hidden

    def init_hidden(self, batch_size=1):
        """(num_layers * num_directions, batch, hidden_size): zeros, nothing read yet."""
        return torch.zeros(1, batch_size, hidden_size, device=self.rnn.weight_hh_l0.device)


def train(model, one_at_a_time, epochs, lr, device, lecture=False):
    """12_2 (one character at a time, carrying the hidden state) or 12_3 (the whole word in one call)."""
    inputs = torch.tensor([x_data], device=device)  # (batch 1, 6 characters)
    labels = torch.tensor(y_data, device=device)
    # Step 2: cross-entropy over the 5 characters at each step, and the lecture's Adam. The lesson takes
    # the mean over the 6 steps both ways: 12_2 adds them up (--lecture does too), 12_3 takes the mean.
    # With Adam the step barely depends on that factor of 6, and the mean in both makes 2) and 3) identical.
    summed = lecture and one_at_a_time
    criterion = nn.CrossEntropyLoss(reduction="sum" if summed else "mean")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # Step 3: the training cycle. It stops as soon as the prediction reads "ihello" (--lecture: never).
    log = kit.EpochLog(epochs, lr, reference=math.log(num_classes) * (len(x_data) if summed else 1))
    for epoch in range(1, epochs + 1):
        hidden = model.init_hidden()  # a new word: nothing read yet
        if one_at_a_time:
            steps = []
            for t in range(inputs.shape[1]):
                out, hidden = model(inputs[:, t : t + 1], hidden)
                steps.append(out)
            outputs = torch.cat(steps, dim=1)
        else:
            outputs, _ = model(inputs, hidden)
        loss = criterion(outputs[0], labels)
        optimizer.zero_grad()
        loss.backward()  # back through every step at once: backpropagation through time
        optimizer.step()
        predicted = text(outputs[0].argmax(dim=1).tolist())  # what the weights before this step read
        log.end_epoch(epoch, loss=loss.item(), predicted_string=predicted)
        if predicted == text(y_data) and not lecture:
            break
    return {
        "final": predicted,
        "epochs": epoch,
        "losses": [row["loss"] for row in log.history],
        "predicted": [row["predicted_string"] for row in log.history],
        "loss_reduction": criterion.reduction,
        "optimizer": optimizer,
    }


def loss_figure(runs):
    """The loss of both ways, epoch by epoch (from 1): one line on top of the other. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (label, run), style in zip(runs.items(), ("-", "--")):
        ax.plot(range(1, len(run["losses"]) + 1), run["losses"], style, label=label, linewidth=2)
    ax.set(xlabel="epoch", ylabel="cross-entropy", title='Teaching "hihell" -> "ihello"')
    ax.legend()
    return fig


def figure_name(args):
    """One file per kind of run: --embedding and --lecture draw other curves than the default's."""
    return "08_rnn_loss" + "_embedding" * args.embedding + "_lecture" * args.lecture


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR)
    parser.add_argument("--embedding", action="store_true", help="nn.Embedding instead of one-hot inputs")
    kit.add_lecture_flag(parser, LECTURE)
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs
    figures_on = kit.start_figures(args)

    kit.seed_everything(args.seed)  # 1) draws random weights and starts too: the same ones every run
    shapes = show_shapes()
    inputs = f"nn.Embedding({num_classes}, {embedding_size})" if args.embedding else "one-hot vectors"
    source, target = text(x_data), text(y_data)
    print(f'\n2) Teach "{source}" -> "{target}" one character at a time (12_2), {inputs}, on {device}')
    kit.seed_everything(args.seed)  # the same starting weights for both ways
    model = Model(args.embedding).to(device)
    print("   " + str(model).replace("\n", "\n   "))
    step_by_step = train(model, True, epochs, args.lr, device, args.lecture)
    if args.lecture:
        print(
            "\n3) The same, the whole word in one call (12_3): the mean loss, where 2) added up the 6 steps"
        )
    else:
        print("\n3) The same, the whole word in one call (12_3): the same numbers as 2), as 1) showed")
    kit.seed_everything(args.seed)
    whole_word = train(Model(args.embedding).to(device), False, epochs, args.lr, device, args.lecture)
    if whole_word["final"] == target:
        first, last = whole_word["predicted"].index(target) + 1, whole_word["epochs"]
        also = f" (and at its last, {last})" if first < last else ""
        print(f'\nIt reads "{target}" at epoch {first}{also}.')
    else:
        print(f'\nNot "{target}" yet after {whole_word["epochs"]} epochs: try another --lr or more --epochs.')
    if figures_on:
        ways = ("one character at a time (12_2)", "whole word (12_3)")
        if args.lecture:
            ways = (ways[0] + ", summed", ways[1] + ", mean")
        fig = loss_figure(dict(zip(ways, (step_by_step, whole_word))))
        kit.save_figure(fig, figure_name(args), args)
    return {
        "step_by_step_equals_whole": shapes["same"],
        "shapes": shapes,
        "one_at_a_time": step_by_step,
        "whole_word": whole_word,
        "model": model,
        "summary": f'hello: "{whole_word["final"]}" after {whole_word["epochs"]} epochs',
    }


if __name__ == "__main__":
    kit.run(main)
