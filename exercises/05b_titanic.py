"""Exercise 05b: a Dataset, a DataLoader and a classifier for the Titanic's passengers (the slides' 8-1).

Follows lesson 05 (lecture 8). Slide 8-1 asks for a DataLoader for the Titanic data and a classifier that
uses it. The course ships the passenger list (data/titanic/, PROVENANCE.md says where it comes from),
split once: train.csv (982 passengers) and test.csv (327), with the columns pclass (1st, 2nd, 3rd),
survived (died, survived), sex (female, male), age (in years; empty where unknown, for 263 of them),
sibsp (siblings and spouses aboard) and parch (parents and children aboard). A model reads numbers only,
so the Dataset turns the words into numbers and fills in the missing ages.

1. TitanicDataset(path, age_fill=None), a torch.utils.data.Dataset: one passenger per item, as
   (features, label). features: a float32 tensor of numbers on a small scale, the same count for every
   passenger (self.n_features), words as numbers (one 0/1 column per class of pclass, say), no nan.
   label: 1.0 for survived, 0.0 for died, a float32 tensor of shape (1,). A missing age becomes
   age_fill, or, when age_fill is None, the median of the file's known ages; keep the value used as
   self.age_fill, so that the held-out file can be filled with the training file's value.
2. Model(n_features), an nn.Module: the three steps' first; forward returns the probability of survival,
   shape (batch, 1).
3. train(model, dataset): the other two steps, the loss and the optimizer, then the training cycle over
   a DataLoader of shuffled mini-batches of the dataset. It must end within 10 seconds.
The checker builds TitanicDataset(train.csv) and TitanicDataset(test.csv, age_fill=<the training
set's>), trains a fresh Model(n_features) with your train(), and wants at least 75% of the held-out
passengers right (answering "died" for everyone scores 66.7%).

Run it: python exercises/05b_titanic.py
Check it: python exercises/check.py 05b
"""

import csv  # noqa: F401  (csv.DictReader may help)

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class TitanicDataset(Dataset):
    def __init__(self, path, age_fill=None):
        # ---- your code here ----
        raise NotImplementedError

    def __len__(self):
        # ---- your code here ----
        raise NotImplementedError

    def __getitem__(self, index):
        # ---- your code here ----
        raise NotImplementedError


class Model(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        # ---- your code here ----
        raise NotImplementedError

    def forward(self, x):
        # ---- your code here ----
        raise NotImplementedError


def train(model, dataset):
    # ---- your code here ----
    raise NotImplementedError


if __name__ == "__main__":  # python exercises/05b_titanic.py: train on the shipped split and test
    import sys
    from pathlib import Path

    course = next(p for p in Path(__file__).resolve().parents if (p / "lesson_tools.py").is_file())
    sys.path.insert(0, str(course))
    import lesson_tools as kit  # it checks the files against data/titanic/SHA256SUMS

    train_set = TitanicDataset(kit.data_file("titanic/train.csv"))
    test_set = TitanicDataset(kit.data_file("titanic/test.csv"), age_fill=train_set.age_fill)
    model = Model(train_set.n_features)
    train(model, train_set)
    model.eval()
    with torch.no_grad():
        x, y = next(iter(DataLoader(test_set, batch_size=len(test_set))))
        accuracy = ((model(x) > 0.5).float() == y).float().mean().item()
    print(f"held-out accuracy: {accuracy:.1%} of {len(test_set)} passengers")
