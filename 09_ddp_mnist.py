"""Bonus lesson: lesson 07's CNN trained by several processes at once with DistributedDataParallel.

    torchrun --standalone --nproc_per_node=2 09_ddp_mnist.py   # 2 processes on this machine
    python 09_ddp_mnist.py                                     # 1 process, to compare
    python 09_ddp_mnist.py --help

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
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

import lesson_tools as kit

cnn = kit.import_lesson("07_cnn_mnist")  # the model and hyper-parameters of lesson 07
softmax = kit.import_lesson("06_softmax_mnist")  # the MNIST loading of lessons 06 and 07

EPOCHS = cnn.EPOCHS
LR = cnn.LR
# The global batch: the images that make up one optimizer step, summed over all ranks. Each rank takes
# GLOBAL_BATCH / world_size of them, so 1 or 2 processes take the same steps with the same learning rate.
# (To use more ranks for a bigger global batch instead, scale the learning rate with it.)
GLOBAL_BATCH = cnn.BATCH_SIZE
QUICK_TRAIN = cnn.QUICK_TRAIN


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


def shard_of_epoch(n, rank, world_size, epoch, seed):
    """The training indices this rank uses in this epoch.

    DistributedSampler shuffles all n indices with the same seed on every rank, then deals them out
    like cards: rank r takes positions r, r + world_size, ... . So the shards are disjoint and together
    cover the data once. set_epoch() changes the shuffle each epoch; without it every epoch would
    repeat the first one's order.
    """
    sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler))


@torch.inference_mode()
def test_accuracy(model, images, labels, rank, world_size, device):
    """Each rank tests its own slice of the test set; an all-reduce adds up the counts of all ranks."""
    mine = slice(rank, None, world_size)
    correct = (cnn.predict(model, images[mine]) == labels[mine]).sum()
    counts = torch.stack([correct, torch.tensor(len(labels[mine]), device=device)])
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)  # afterwards every rank holds the totals
    return 100.0 * counts[0].item() / counts[1].item()


def train(model, train_set, test_set, args, rank, world_size, device):
    images, labels = train_set
    local_batch = max(1, args.batch_size // world_size)
    steps = -(-len(images) // (local_batch * world_size))  # steps per epoch, the same on every rank
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=cnn.WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps
    )
    history = {"loss": [], "accuracy": [], "epoch_seconds": []}
    for epoch in kit.epoch_range(args.epochs):
        model.train()
        started = time.perf_counter()
        shard = shard_of_epoch(len(images), rank, world_size, epoch, args.seed).to(device)
        total = torch.zeros((), device=device)
        for batch in shard.split(local_batch):
            loss = criterion(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients across ranks while backward() runs
            optimizer.step()  # every rank applies the same averaged gradient: the copies stay equal
            scheduler.step()
            total += loss.detach()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)  # the mean training loss over all ranks
        train_loss = total.item() / (steps * world_size)
        kit.stop_if_diverged(train_loss, args.lr, f"in epoch {epoch}")
        seconds = time.perf_counter() - started
        accuracy = test_accuracy(model.module, *test_set, rank, world_size, device)
        history["loss"].append(train_loss)
        history["accuracy"].append(accuracy)
        history["epoch_seconds"].append(seconds)
        say(
            f"   epoch {epoch}/{args.epochs}   train loss {train_loss:.4f}   test accuracy {accuracy:.2f}%   "
            f"{seconds:.1f} s   {len(images) / seconds:,.0f} samples/s (all ranks)"
        )
    return history


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=GLOBAL_BATCH)
    parser.add_argument("--save", type=Path, metavar="PATH", help="rank 0 writes the trained model here")
    parser.epilog = (
        "--batch-size is the global batch, split evenly over the processes. "
        "The saved model is a lesson 07 checkpoint: python 07_cnn_mnist.py --load PATH tests it."
    )
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
        if args.quick:
            args.epochs = 1
        say(
            f"{world_size} process(es), backend {dist.get_backend()}, device {device}, "
            f"global batch {args.batch_size} = {world_size} x {args.batch_size // world_size}"
        )
        clock = kit.Stopwatch()
        train_set = softmax.prepare(kit.mnist(train=True), device, QUICK_TRAIN if args.quick else None)
        test_set = softmax.prepare(kit.mnist(train=False), device)
        model = cnn.CNN().to(device, memory_format=torch.channels_last)
        model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
        history = train(model, train_set, test_set, args, rank, world_size, device)
        accuracy, seconds = history["accuracy"][-1], clock.seconds()
        say(f"final test accuracy {accuracy:.2f}% after {seconds:.1f} s on {world_size} process(es)")
        if args.save and rank == 0:  # one writer: the copies are identical anyway
            kit.save_checkpoint(args.save, cnn.LESSON, model.module, test_accuracy=accuracy, inception=False)
        dist.barrier()  # nobody leaves before the checkpoint is complete
        if kit.start_figures(args) and rank == 0:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(5, 3.5))
            ax.plot(range(1, args.epochs + 1), history["accuracy"], marker="o")
            ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"DDP on {world_size} process(es)")
            kit.save_figure(fig, f"09_ddp_accuracy_{world_size}proc", args)
        seconds_per_epoch = sum(history["epoch_seconds"]) / len(history["epoch_seconds"])
        return {
            "world_size": world_size,
            "test_accuracy": accuracy,
            "train_loss_first": history["loss"][0],
            "train_loss_last": history["loss"][-1],
            "seconds_per_epoch": seconds_per_epoch,
            "seconds": seconds,
            "summary": f"test accuracy {accuracy:.2f}% on {world_size} process(es), {seconds_per_epoch:.1f} s/epoch",
        }
    finally:
        dist.destroy_process_group()  # also after an error or Ctrl-C, so no rank is left waiting


if __name__ == "__main__":
    kit.run(main)
