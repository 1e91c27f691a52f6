"""Exercise 12: how DistributedSampler splits the samples between processes.

Follows lesson 12 (the bonus lesson; no lecture). With DistributedDataParallel, each of world_size
processes trains on its own share of every epoch's samples, and DistributedSampler gives process `rank`
its share:
1. with shuffle=True, it shuffles the indices 0 ... n - 1 with torch.randperm and a torch.Generator
   seeded with seed + epoch, the same on every process, so the shares never overlap and each epoch has
   a new order (set_epoch(epoch) sets epoch);
2. it pads that list by repeating it from its start, as often as needed, until its length is a multiple
   of world_size, so that every process gets the same number of samples (and steps);
3. it deals the list out like cards: process `rank` takes every world_size-th index, starting at place
   rank.

Write split_indices(): the list of ints that DistributedSampler(dataset of n samples,
num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed) gives after set_epoch(epoch). The
checker compares them for sizes, ranks, epochs and seeds it draws.

Check it: python exercises/check.py 12
"""

import math

import torch


def split_indices(n, world_size, rank, epoch, seed=0, shuffle=True):
    # ---- your code here ----
    if shuffle:
        generator = torch.Generator().manual_seed(seed + epoch)  # every process draws the same order
        indices = torch.randperm(n, generator=generator).tolist()
    else:
        indices = list(range(n))
    total = math.ceil(n / world_size) * world_size  # the next multiple of world_size
    indices = (indices * math.ceil(total / n))[:total]  # repeated from the start, then cut to length
    return indices[rank:total:world_size]
