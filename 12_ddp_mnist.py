"""Bonus lesson: lesson 07's CNN trained by several processes at once with DistributedDataParallel.

    torchrun --standalone --nproc_per_node=2 12_ddp_mnist.py   # 2 processes on this machine
    python 12_ddp_mnist.py                                     # 1 process, to compare
    python 12_ddp_mnist.py --help

Each process (a "rank") holds a full copy of the model and trains on its own share of every epoch's
data. During backward(), DistributedDataParallel averages the gradients of all ranks, so every copy
takes the same step and the copies stay identical: one model, trained on all the data, by many workers.
torchrun starts the processes and tells each one its rank and how to reach the others (README shows
the launch across several machines).

Your turn: exercises/12_distributed_sampler.py (python exercises/check.py 12).
"""

import datetime
import math
import os
import socket

import lesson_tools as kit

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset, TensorDataset
from torch.utils.data.distributed import DistributedSampler
from torchvision import datasets

LESSON = "12_ddp_mnist"
EPOCHS = 4  # lesson 07's
LR = 8e-3  # lesson 07's
# The global batch: the images that make up one optimizer step, summed over all ranks. Each rank takes
# GLOBAL_BATCH / world_size of them, so 1 or 2 processes take the same steps with the same learning rate.
# (To use more ranks for a bigger global batch instead, scale the learning rate with it.)
GLOBAL_BATCH = 128  # lesson 07's batch
QUICK_IMAGES = 6000  # --quick trains on this many images for one epoch
TEST_BATCH = 1000


def start_process_group(device_type):
    """Join the group of processes torchrun started; plain `python` makes a group of one."""
    if "RANK" in os.environ:  # torchrun told this process its rank, the world size and where to meet
        meeting = {}
    else:  # started by plain python: rank 0 of a world of 1, meeting itself on any free local port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        meeting = {"init_method": f"tcp://127.0.0.1:{port}", "rank": 0, "world_size": 1}
    local_rank = int(os.environ.get("LOCAL_RANK", 0))  # this process's number on its own machine
    if device_type == "cuda":
        # one process per GPU; NCCL moves gradients between GPUs directly
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device, **meeting)
    else:
        # gloo is PyTorch's backend for CPUs: gradients travel over TCP, here through loopback.
        # torchrun gives each process one thread (OMP_NUM_THREADS=1) so that 2 processes share 2 cores
        # without fighting; a lone process may use them all.
        device = torch.device("cpu")
        dist.init_process_group("gloo", timeout=datetime.timedelta(minutes=5), **meeting)
    return dist.get_rank(), dist.get_world_size(), device


def say(*args, **kwargs):
    """Print on rank 0 only: every rank computes the same numbers, once is enough."""
    if dist.get_rank() == 0:
        print(*args, **kwargs, flush=True)


def load_mnist(train, limit=None):
    """MNIST as in lesson 07: datasets.MNIST (the files are in place, nothing is downloaded), scaled to
    [0, 1] and normalised (lecture 9's transforms.Normalize) once, into a TensorDataset."""
    dataset = datasets.MNIST(kit.mnist_root(), train=train, download=True)
    images = dataset.data[:limit].float().div_(255).sub_(kit.MNIST_MEAN).div_(kit.MNIST_STD)
    return TensorDataset(images.unsqueeze(1), dataset.targets[:limit])


# Step 1: the model: lesson 07's CNN, unchanged. Each rank builds its own copy.
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(20 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.mp(self.conv1(x)))
        x = F.relu(self.mp(self.conv2(x)))
        return self.fc(x.flatten(1))


def make_train_loader(train_dataset, batch_size, rank, world_size, seed):
    """This rank's share of the training data, in batches of batch_size / world_size.

    DistributedSampler shuffles all indices with the same seed on every rank, then deals them out like
    cards: rank r takes positions r, r + world_size, ... . So the shards are disjoint and together cover
    the data once per epoch."""
    sampler = DistributedSampler(train_dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    local_batch = max(1, batch_size // world_size)
    return sampler, DataLoader(train_dataset, batch_size=local_batch, sampler=sampler)


def train(model, device, train_loader, criterion, optimizer, scheduler):
    """Step 3 for one epoch, on this rank's shard. Returns the mean loss per image over all ranks."""
    model.train()
    total_loss = 0.0
    # batch_idx: the lectures' own line; they printed every 10th batch's loss, this lesson once per epoch
    for batch_idx, (data, target) in enumerate(train_loader):  # noqa: B007
        data, target = data.to(device), target.to(device)
        output = model(data)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()  # DDP averages the gradients across ranks while backward() runs
        optimizer.step()  # every rank applies the same averaged gradient: the copies stay equal
        scheduler.step()
        total_loss += loss.item() * len(data)
    totals = torch.tensor([total_loss, len(train_loader.sampler)], device=device, dtype=torch.float64)
    dist.all_reduce(totals)  # the sums over all ranks: every rank then holds the same mean
    return (totals[0] / totals[1]).item()


@torch.inference_mode()
def test(model, device, test_dataset, rank, world_size):
    """Each rank tests its own slice of the test set; an all-reduce adds up the counts of all ranks.
    Returns the percent right over the whole test set, and how many images that was."""
    model.eval()
    mine = Subset(test_dataset, range(rank, len(test_dataset), world_size))
    correct = 0
    for data, target in DataLoader(mine, batch_size=TEST_BATCH):
        correct += (model(data.to(device)).argmax(dim=1) == target.to(device)).sum().item()
    counts = torch.tensor([correct, len(mine)], device=device, dtype=torch.float64)
    dist.all_reduce(counts)  # afterwards every rank holds the totals
    return 100.0 * (counts[0] / counts[1]).item(), int(counts[1].item())


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=GLOBAL_BATCH)
    kit.add_checkpoint_flags(parser, LESSON, load=False)
    parser.epilog = "--batch-size is the global batch, split evenly over the processes."
    args = parser.parse_args(argv)
    device_type = kit.pick_device(args.device).type
    if device_type not in ("cpu", "cuda"):  # torch.distributed has no backend for Apple's MPS, for one
        if args.device != "auto":
            raise kit.LessonError(f"torch.distributed has no backend for {device_type}; use --device cpu")
        device_type = "cpu"
    rank, world_size, device = start_process_group(device_type)
    try:
        return train_on_every_rank(args, rank, world_size, device)
    finally:
        dist.destroy_process_group()  # also after an error or Ctrl-C, so no rank is left waiting


def train_on_every_rank(args, rank, world_size, device):
    # The same seed on every rank: the copies of the model start from identical weights
    # (DDP also copies rank 0's weights to the others when it wraps the model, to be sure).
    kit.seed_everything(args.seed)
    epochs = 1 if args.quick else args.epochs
    train_dataset = load_mnist(train=True, limit=QUICK_IMAGES if args.quick else None)
    test_dataset = load_mnist(train=False)
    sampler, train_loader = make_train_loader(train_dataset, args.batch_size, rank, world_size, args.seed)
    say(
        f"{world_size} process(es), backend {dist.get_backend()}, device {device}, "
        f"global batch {train_loader.batch_size * world_size} = {world_size} x {train_loader.batch_size}"
    )

    model = Net().to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # faster CPU convolutions (lesson 07)
    model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    # Step 2: lesson 07's loss and optimizer.
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
    )

    # Step 3: the training cycle, on this rank's shard; rank 0 alone prints.
    log = kit.EpochLog(epochs, args.lr, reference=math.log(10), seconds=True, show=rank == 0)  # as in 06
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)  # a new shuffle each epoch; without it every epoch repeats the first
        train_loss = train(model, device, train_loader, criterion, optimizer, scheduler)
        accuracy, tested = test(model.module, device, test_dataset, rank, world_size)
        log.end_epoch(epoch, train_loss=train_loss, test_accuracy=accuracy)

    if args.save and rank == 0:  # one writer: the copies are identical anyway
        kit.save_checkpoint(args.save, LESSON, model.module, test_accuracy=accuracy)
    dist.barrier()  # nobody leaves before the checkpoint is complete
    figures = {}
    if rank == 0 and kit.start_figures(args):  # the name says how many processes trained it
        figures["curves"] = kit.curves_figure(log.history)
        kit.save_figure(figures["curves"], f"{LESSON}_{world_size}proc", args)
    return {
        "world_size": world_size,
        "rank": rank,
        "local_batch": train_loader.batch_size,
        "test_accuracy": accuracy,
        "tested_images": tested,
        "history": log.history,
        "figures": figures,
        "seconds_per_epoch": sum(row["seconds"] for row in log.history) / len(log.history),
        "summary": f"test accuracy {accuracy:.2f}% on {world_size} process(es)",
    }


if __name__ == "__main__":
    kit.run(main)
