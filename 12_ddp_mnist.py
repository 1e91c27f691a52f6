"""Bonus lesson: lesson 07's CNN trained by several processes at once with DistributedDataParallel.

    torchrun --standalone --nproc_per_node=2 12_ddp_mnist.py   # 2 processes on this machine
    python 12_ddp_mnist.py                                     # 1 process, to compare
    python 12_ddp_mnist.py --help

Each process (a "rank") holds a full copy of the model and trains on its own share of every epoch's
data. During backward(), DistributedDataParallel averages the gradients of all ranks, so every copy
takes the same step and the copies stay identical: one model, trained on all the data, by many workers.
torchrun starts the processes and tells each one its rank and how to reach the others (README shows
the launch across several machines).
"""

import datetime
import os
import socket
import time

import lesson_tools as kit

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
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
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # as in lessons 06 and 07


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
    """MNIST as in lesson 07: datasets.MNIST over the shipped files, normalised once into a TensorDataset."""
    mnist = datasets.MNIST(kit.mnist_root(), train=train, download=False)
    images = mnist.data[:limit].float().div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
    return TensorDataset(images.unsqueeze(1), mnist.targets[:limit])


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


@torch.inference_mode()
def test(model, test_set, rank, world_size, device):
    """Each rank tests its own slice of the test set; an all-reduce adds up the counts of all ranks."""
    model.eval()
    mine = torch.utils.data.Subset(test_set, range(rank, len(test_set), world_size))
    correct = torch.zeros((), device=device)
    for data, target in DataLoader(mine, batch_size=TEST_BATCH):
        correct += (model(data.to(device)).argmax(dim=1) == target.to(device)).sum()
    counts = torch.stack([correct, torch.tensor(float(len(mine)), device=device)])
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)  # afterwards every rank holds the totals
    return 100.0 * counts[0].item() / counts[1].item()


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
        # The same seed on every rank: the copies of the model start from identical weights
        # (DDP also copies rank 0's weights to the others when it wraps the model, to be sure).
        kit.seed_everything(args.seed)
        epochs = 1 if args.quick else args.epochs
        local_batch = max(1, args.batch_size // world_size)
        say(
            f"{world_size} process(es), backend {dist.get_backend()}, device {device}, "
            f"global batch {local_batch * world_size} = {world_size} x {local_batch}"
        )
        train_set = load_mnist(train=True, limit=QUICK_IMAGES if args.quick else None)
        test_set = load_mnist(train=False)
        # DistributedSampler shuffles all indices with the same seed on every rank, then deals them out
        # like cards: rank r takes positions r, r + world_size, ... . So the shards are disjoint and
        # together cover the data once per epoch.
        sampler = DistributedSampler(
            train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed
        )
        train_loader = DataLoader(train_set, batch_size=local_batch, sampler=sampler)

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

        # Step 3: the training cycle, on this rank's shard.
        history = []
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            sampler.set_epoch(epoch)  # a new shuffle each epoch; without it every epoch repeats the first
            model.train()
            total = torch.zeros((), device=device)
            for data, target in train_loader:
                data, target = data.to(device), target.to(device)
                loss = criterion(model(data), target)
                optimizer.zero_grad()
                loss.backward()  # DDP averages the gradients across ranks while backward() runs
                optimizer.step()  # every rank applies the same averaged gradient: the copies stay equal
                scheduler.step()
                total += loss.detach()
            dist.all_reduce(total, op=dist.ReduceOp.SUM)  # the mean training loss over all ranks
            train_loss = total.item() / (len(train_loader) * world_size)
            kit.stop_if_diverged(train_loss, args.lr, f"in epoch {epoch}")
            accuracy = test(model.module, test_set, rank, world_size, device)
            seconds = time.perf_counter() - started
            history.append(
                {"epoch": epoch, "train_loss": train_loss, "test_accuracy": accuracy, "seconds": seconds}
            )
            say(
                f"   epoch {epoch}/{epochs}   train loss {train_loss:.4f}   test accuracy {accuracy:.2f}%   "
                f"{seconds:.1f} s"
            )
        if args.save and rank == 0:  # one writer: the copies are identical anyway
            kit.save_checkpoint(args.save, LESSON, model.module, test_accuracy=accuracy)
        dist.barrier()  # nobody leaves before the checkpoint is complete
        if rank == 0 and kit.start_figures(args):
            kit.plot_curves(history, f"{LESSON}_{world_size}proc", args)
        return {
            "world_size": world_size,
            "test_accuracy": accuracy,
            "history": history,
            "seconds_per_epoch": sum(row["seconds"] for row in history) / len(history),
            "summary": f"test accuracy {accuracy:.2f}% on {world_size} process(es)",
        }
    finally:
        dist.destroy_process_group()  # also after an error or Ctrl-C, so no rank is left waiting


if __name__ == "__main__":
    kit.run(main)
