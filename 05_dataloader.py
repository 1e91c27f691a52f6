"""Lecture 8: Dataset and DataLoader: feed the network in shuffled mini-batches instead of all at once.

python 05_dataloader.py
python 05_dataloader.py --workers 0     # load in the main process
python 05_dataloader.py --help

Your turn: exercises/05_words_dataset.py (python exercises/check.py 05).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

# The lecture's 08_2 trains its sigmoid network for 2 epochs with SGD at lr 0.1 on the *summed* loss
# (reduction="sum"). With a sum, each step's size grows with the batch; the mean (lesson 02) keeps it the
# same whatever the batch size. We keep lesson 04's network, loss and optimizer instead (README, "What
# changed since the videos", measures the lecture's setting).
EPOCHS = 50  # 18 steps per epoch: 50 epochs take 900 small steps where lesson 04 took 100 big ones
LR = 0.01
BATCH_SIZE = 32  # the lecture's
WORKERS = 2  # the lecture's num_workers
QUICK_EPOCHS = 10

# The same data, split and scaling as lessons 03 and 04.
DIABETES_CSV = "diabetes/pima-indians-diabetes.csv"
TEST_ROWS = 192  # a quarter of the rows is held out: the model never trains on them
SPLIT_SEED = 20240101  # the split never moves with --seed, so results stay comparable between runs


def split_rows(n):
    """Row numbers of the training and the test rows: a fixed shuffle, the same on every run."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[TEST_ROWS:], order[:TEST_ROWS]


def load_diabetes():
    """The CSV as the lecture loads it (np.loadtxt), split into training and test rows, standardised."""
    xy = np.loadtxt(kit.data_file(DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x_data, y_data = torch.from_numpy(xy[:, 0:-1]), torch.from_numpy(xy[:, [-1]])
    train, test = split_rows(len(x_data))
    mean, std = x_data[train].mean(0), x_data[train].std(0)  # from the training rows only (lesson 03)
    x_data = (x_data - mean) / std
    return x_data[train], y_data[train], x_data[test], y_data[test]


# A Dataset answers two questions: how many samples are there (__len__), and what is sample i
# (__getitem__). The DataLoader does the rest: shuffling, batching, and loading in worker processes.
# The lecture's Dataset reads the CSV in __init__; here load_diabetes() reads it once, so that the
# training rows and the held-out rows get the same scaling.
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


# Step 1: the model of lesson 04: 8 -> 6 -> 4 -> 1, ReLU between the layers (the lecture's has sigmoids).
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(8, 6)
        self.l2 = nn.Linear(6, 4)
        self.l3 = nn.Linear(4, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        out1 = torch.relu(self.l1(x))
        out2 = torch.relu(self.l2(out1))
        y_pred = self.sigmoid(self.l3(out2))
        return y_pred


def train(model, train_loader, criterion, optimizer, device):
    """Step 3 for one epoch: a pass over the data in mini-batches, many small steps instead of one big
    one. Returns the epoch's mean loss per sample (a last, smaller batch counts for its size)."""
    model.train()
    total_loss = 0.0
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        y_pred = model(inputs)
        loss = criterion(y_pred, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(inputs)
    return total_loss / len(train_loader.dataset)


@torch.no_grad()
def test(model, x_test, y_test, device):
    """Percent of held-out rows whose predicted class (probability > 0.5) is the true one."""
    model.eval()
    y_pred = model(x_test.to(device))
    return 100.0 * ((y_pred > 0.5).float() == y_test.to(device)).float().mean().item()


def show_batch(train_loader):
    inputs, labels = next(iter(train_loader))  # the lecture wraps these in Variable: no longer needed
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
        choices=range(0, 9),
        metavar="N",
        help="DataLoader worker processes, 0 to 8 (0 loads in the main process)",
    )
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    x_train, y_train, x_test, y_test = load_diabetes()
    dataset = DiabetesDataset(x_train, y_train)
    train_loader = make_loader(dataset, args.batch_size, args.workers)
    print(
        f"{len(dataset)} training samples / batch size {args.batch_size} = {len(train_loader)} batches "
        f"per epoch, {args.workers} worker process(es), on {device}"
    )
    show_batch(train_loader)

    model = Model().to(device)
    # Step 2: the loss and optimizer of lesson 04 (see the top of this file for the lecture's).
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    # Step 3: one epoch is one pass over the data in mini-batches.
    log = kit.EpochLog(epochs, args.lr, every=10)
    for epoch in range(1, epochs + 1):
        log.end_epoch(epoch, loss=train(model, train_loader, criterion, optimizer, device))
    losses = [row["loss"] for row in log.history]

    test_acc = test(model, x_test, y_test, device)
    print(f"test accuracy {test_acc:.1f}% on {len(x_test)} held-out rows (lesson 04 trained full-batch)")

    if kit.start_figures(args):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(range(1, epochs + 1), losses)
        ax.set(
            xlabel="epoch", ylabel="mean BCE loss", title=f"Mini-batches of {args.batch_size}: training loss"
        )
        kit.save_figure(fig, "05_training_loss", args)

    return {
        "batches_per_epoch": len(train_loader),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "history": log.history,
        "test_accuracy": test_acc,
        "summary": f"test accuracy {test_acc:.1f}%, {len(train_loader)} batches of up to {args.batch_size}",
    }


# With the "spawn" start method (macOS, Windows) each worker re-imports this file: the guard keeps the
# workers from starting a training run of their own.
if __name__ == "__main__":
    kit.run(main)
