"""Lecture 8: Dataset and DataLoader: feed the network in shuffled mini-batches instead of all at once.

python 05_dataloader.py
python 05_dataloader.py --workers 0     # load in the main process
python 05_dataloader.py --help
"""

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

import lesson_tools as kit


# A Dataset answers two questions: how many samples are there (__len__), and what is sample i
# (__getitem__). The DataLoader does the rest: shuffling, batching and loading in worker processes.
class DiabetesDataset(Dataset):
    def __init__(self, csv_path):
        table = np.loadtxt(csv_path, delimiter=",", skiprows=1, dtype=np.float32)
        self.x = torch.from_numpy(table[:, :-1])  # 8 clinical measurements per row
        self.y = torch.from_numpy(table[:, -1:])  # 1 if diabetes followed, else 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        # The index comes back too, only so that this lesson can count how often each sample is seen.
        return self.x[index], self.y[index], index


# The network from lesson 04: 8 -> 6 -> 4 -> 1.
class DeepNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(8, 6),
            nn.ReLU(),
            nn.Linear(6, 4),
            nn.ReLU(),
            nn.Linear(4, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.layers(x)


def make_loader(dataset, batch_size, workers, seed):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,  # a new order every epoch, so the batches differ from epoch to epoch
        num_workers=workers,  # processes that prepare the next batches while the model trains
        persistent_workers=workers > 0,  # start the workers once, not again at every epoch
        generator=torch.Generator().manual_seed(seed),  # the shuffles repeat with the same --seed
    )


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=50, lr=0.01, batch_size=32)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        choices=range(0, 9),
        metavar="N",
        help="DataLoader worker processes (0 loads in the main process)",
    )
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    torch.set_num_threads(1)  # tensors this small are quicker on one thread than split over two
    epochs = min(args.epochs, 10) if args.quick else args.epochs

    dataset = DiabetesDataset(kit.data_file(kit.DIABETES))
    train_idx, test_idx = kit.fixed_split(len(dataset))
    # Standardise with training-row statistics, as in lesson 04 (the Dataset stays a plain file reader).
    mean, std = dataset.x[train_idx].mean(0), dataset.x[train_idx].std(0)
    dataset.x = (dataset.x - mean) / std
    train_set = Subset(dataset, train_idx.tolist())
    loader = make_loader(train_set, args.batch_size, args.workers, args.seed)
    print(
        f"{len(train_set)} training samples / batch size {args.batch_size} = "
        f"{len(loader)} batches per epoch (the last one holds {len(train_set) % args.batch_size or args.batch_size})"
        f", {args.workers} worker process(es), on {device}"
    )

    model = DeepNet().to(device)
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    losses, coverage_ok = [], True
    for epoch in kit.epoch_range(epochs):
        model.train()
        seen = torch.zeros(len(dataset), dtype=torch.long)
        total, batches = 0.0, 0
        # One epoch = one pass over the data in mini-batches: many small steps instead of one big one.
        for x, y, index in loader:
            x, y = x.to(device), y.to(device)
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen[index] += 1
            total, batches = total + loss.item() * len(x), batches + 1
        losses.append(total / len(train_set))
        kit.stop_if_diverged(losses[-1], args.lr, f"at epoch {epoch}", reference=losses[0])
        once = bool((seen[train_idx] == 1).all()) and int(seen.sum()) == len(train_set)
        coverage_ok &= once
        if epoch <= 2 or epoch % 10 == 0 or epoch == epochs:
            print(
                f"epoch {epoch:3d}   {batches} batches   mean loss {losses[-1]:.4f}   "
                f"every training sample seen exactly once: {once}"
            )

    model.eval()
    with torch.no_grad():
        x_test, y_test = dataset.x[test_idx].to(device), dataset.y[test_idx].to(device)
        test_acc = ((model(x_test) > 0.5).float() == y_test).float().mean().item()
    print(f"test accuracy {test_acc:.1%} on {len(test_idx)} held-out rows (lesson 04 trained full-batch)")

    if kit.start_figures(args):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(range(1, epochs + 1), losses)
        ax.set(
            xlabel="epoch", ylabel="mean BCE loss", title=f"Mini-batches of {args.batch_size}: training loss"
        )
        kit.save_figure(fig, "05_training_loss", args)

    return {
        "batches_per_epoch": len(loader),
        "expected_batches": math.ceil(len(train_set) / args.batch_size),
        "each_sample_once_per_epoch": coverage_ok,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "test_accuracy": test_acc,
        "summary": f"test accuracy {test_acc:.1%}, {len(loader)} batches/epoch, each sample once: {coverage_ok}",
    }


# With the "spawn" start method (macOS, Windows) each worker re-imports this file: the guard keeps the
# workers from starting a training run of their own.
if __name__ == "__main__":
    kit.run(main)
