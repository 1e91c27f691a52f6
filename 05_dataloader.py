"""Lecture 8: Dataset and DataLoader: feed the network in shuffled mini-batches instead of all at once.

python 05_dataloader.py
python 05_dataloader.py --workers 0     # load in the main process
python 05_dataloader.py --lecture       # the lecture code's own run: sigmoids, a summed loss, SGD, 2 epochs
python 05_dataloader.py --help

Your turn: exercises/05_words_dataset.py (python exercises/check.py 05), and exercises/05b_titanic.py, the slides' 8-1: the Titanic (check.py 05b).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

EPOCHS = 50  # 18 steps per epoch: 50 epochs take 900 small steps where lesson 04 took 100 big ones
LR = 0.01
BATCH_SIZE = 32  # the lecture's
WORKERS = 2  # the lecture's num_workers
MAX_WORKERS = 8
QUICK_EPOCHS = 10
# --lecture: the settings of the lecture's code (08_2_dataset_loade_logistic.py) where this lesson's
# differ; its batches of 32 and 2 workers are this lesson's already. Its code sums the loss over the
# batch (reduction='sum'); the slides show the mean (size_average=True), and --lecture follows the code.
LECTURE = {
    "epochs": 2,
    "lr": 0.1,
    "batch_size": BATCH_SIZE,
    "workers": WORKERS,
    "activation": ("sigmoid", "relu"),
    "loss_reduction": ("sum", "mean"),
    "optimizer": ("SGD", "Adam"),
}


def load_diabetes():
    """The CSV read with np.loadtxt as the lecture reads it, then the course's one split (lesson 03 says
    why): 576 training rows and 192 held-out rows, each feature put on one scale by the training rows."""
    xy = np.loadtxt(kit.data_file(kit.DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x_data = torch.from_numpy(xy[:, 0:-1])
    y_data = torch.from_numpy(xy[:, [-1]])
    return kit.diabetes_split(x_data, y_data)


# A Dataset answers two questions: how many samples are there (__len__), and what is sample i
# (__getitem__). The DataLoader does the rest: shuffling, batching, and loading in worker processes.
# The lecture's Dataset reads the CSV in __init__; here load_diabetes() reads it once and the Dataset
# gets the training rows, so that the training rows and the held-out rows get the same scaling.
class DiabetesDataset(Dataset):
    def __init__(self, x_data, y_data):
        self.len = len(x_data)
        self.x_data = x_data  # 8 clinical measurements per row
        self.y_data = y_data  # 1 if diabetes followed, else 0

    def __getitem__(self, index):
        return self.x_data[index], self.y_data[index]

    def __len__(self):
        return self.len


def make_loader(dataset, batch_size, workers):
    return DataLoader(
        dataset=dataset,
        batch_size=batch_size,
        shuffle=True,  # a new order every epoch, drawn from torch's generator: --seed repeats it
        num_workers=workers,  # processes that prepare the next batches while the model trains
        persistent_workers=workers > 0,  # start the workers once, not again at every epoch
    )


# Step 1: the model of lesson 04: 8 -> 6 -> 4 -> 1. The lecture's has sigmoids between the layers
# (--lecture); ReLU is this lesson's, for the reason lesson 04 gives.
class Model(nn.Module):
    def __init__(self, activation="relu"):
        super().__init__()
        self.l1 = nn.Linear(8, 6)
        self.l2 = nn.Linear(6, 4)
        self.l3 = nn.Linear(4, 1)
        self.activation = nn.ReLU() if activation == "relu" else nn.Sigmoid()
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        out1 = self.activation(self.l1(x))
        out2 = self.activation(self.l2(out1))
        y_pred = self.sigmoid(self.l3(out2))
        return y_pred


# Step 2: the loss and the optimizer. The lecture's code sums the loss over each batch and steps with
# SGD at lr 0.1 (--lecture). With a sum, each step's size grows with the batch; the mean (lesson 02)
# keeps it the same whatever --batch-size, so this lesson takes the mean, and Adam as lesson 04 does.
def loss_and_optimizer(model, lr, lecture=False):
    if lecture:
        return nn.BCELoss(reduction="sum"), torch.optim.SGD(model.parameters(), lr=lr)
    return nn.BCELoss(), torch.optim.Adam(model.parameters(), lr=lr)


# Step 3: the training cycle. The lecture writes this loop at the top level of its script, inside
# `for epoch in range(2):`, and prints every batch's loss. Here it is train(), called once per epoch,
# and test() scores the held-out rows after training, as lectures 9 and 10 do with their train() and test().
def train(model, train_loader, criterion, optimizer, device):
    """One epoch: a pass over the data in mini-batches, many small steps instead of one big one.
    Returns the epoch's mean loss per sample, whichever the loss's reduction (a summed loss is the
    batch's total already; a mean is multiplied back by the batch's size, so a last, smaller batch
    counts for its size)."""
    model.train()
    total_loss = 0.0
    for i, data in enumerate(train_loader, 0):  # noqa: B007  (the lecture's line; i numbers the batch)
        inputs, labels = data
        inputs, labels = inputs.to(device), labels.to(device)
        y_pred = model(inputs)
        loss = criterion(y_pred, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() if criterion.reduction == "sum" else loss.item() * len(inputs)
    return total_loss / len(train_loader.dataset)


@torch.no_grad()
def test(model, x_test, y_test, device):
    """Percent of held-out rows whose predicted class (probability > 0.5) is the true one."""
    model.eval()
    y_pred = model(x_test.to(device))
    return 100.0 * ((y_pred > 0.5).float() == y_test.to(device)).float().mean().item()


def show_batch(train_loader):
    inputs, labels = next(iter(train_loader))  # the lecture wraps them in Variable: not needed now
    print(
        f"one batch, as the DataLoader stacks it: inputs {tuple(inputs.shape)}, labels {tuple(labels.shape)}"
    )
    for row in range(3):
        values = np.array2string(inputs[row].numpy(), precision=2)
        print(f"   inputs[{row}] = {values}   label {labels[row].item():.0f}")


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        choices=range(0, MAX_WORKERS + 1),
        metavar="N",
        help=f"DataLoader worker processes, 0 to {MAX_WORKERS} (0 loads in the main process)",
    )
    kit.add_lecture_flag(parser, LECTURE)
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    # With --lecture too the data is this lesson's: the lecture's copy of the table has 759 rows,
    # pre-scaled to [-1, 1], and it trains on all of them (docs/changes.md).
    x_train, y_train, x_test, y_test = load_diabetes()
    dataset = DiabetesDataset(x_train, y_train)
    train_loader = make_loader(dataset, args.batch_size, args.workers)
    print(
        f"{len(dataset)} training samples / batch size {args.batch_size} = {len(train_loader)} batches "
        f"per epoch, {args.workers} worker process(es), on {device}"
    )
    show_batch(train_loader)

    model = Model("sigmoid" if args.lecture else "relu").to(device)
    criterion, optimizer = loss_and_optimizer(model, args.lr, args.lecture)
    print(
        f"8 -> 6 -> 4 -> 1 with {'sigmoid' if args.lecture else 'relu'} between layers, "
        f"BCELoss(reduction={criterion.reduction!r}), {type(optimizer).__name__} lr {args.lr:g}"
    )

    log = kit.EpochLog(epochs, args.lr, every=10)
    for epoch in range(1, epochs + 1):
        log.end_epoch(epoch, loss=train(model, train_loader, criterion, optimizer, device))
    losses = [row["loss"] for row in log.history]

    test_acc = test(model, x_test, y_test, device)
    print(f"test accuracy {test_acc:.1f}% on {len(x_test)} held-out rows (lesson 04 trained full-batch)")
    # A model that learned nothing answers "no" to everyone, and scores the share of "no" on the test rows.
    always_no = 100.0 * (y_test == 0).float().mean().item()
    verdict = "above" if test_acc > always_no else "no better than"
    print(f'always answering "no": {always_no:.1f}% of the test rows; the network is {verdict} that')

    if kit.start_figures(args):
        name = "05_training_loss" + ("_lecture" if args.lecture else "")
        kit.save_figure(loss_figure(losses, args.batch_size), name, args)

    return {
        "batches_per_epoch": len(train_loader),
        "model": model,
        "criterion": criterion,
        "optimizer": optimizer,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "history": log.history,
        "test_accuracy": test_acc,
        "always_no_accuracy": always_no,
        "summary": f"test accuracy {test_acc:.1f}%, {len(train_loader)} batches of up to {args.batch_size}",
    }


def loss_figure(losses, batch_size):
    """Each epoch's mean loss per sample, epochs numbered from 1 as printed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set(xlabel="epoch", ylabel="mean BCE loss", title=f"Mini-batches of {batch_size}: training loss")
    return fig


# With the "spawn" start method (macOS, Windows) each worker re-imports this file: the guard keeps the
# workers from starting a training run of their own.
if __name__ == "__main__":
    kit.run(main)
