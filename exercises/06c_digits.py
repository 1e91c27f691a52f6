"""Exercise 06c: a classifier with a DataLoader on a table of 64 features and 10 classes (the slides' 9-2).

Follows lesson 06 (lecture 9). Slide 9-2 asks for a classifier of the Otto Group's products (93 numeric
features, 9 classes) built on a DataLoader. Otto's data cannot be shipped; data/digits/ holds a table of
the same kind that can (PROVENANCE.md): handwritten digits, each cut into an 8x8 grid whose 64 cells
count the ink in them (0 to 16), and the digit written (0-9). train.csv has 1,347 digits, test.csv 450;
each line is pixel0 ... pixel63, then digit.

1. DigitsDataset(path), a torch.utils.data.Dataset: one digit per item, as (features, label): features a
   float32 tensor of the 64 numbers on a small scale (0 to 1, say), label the digit as an int64 class
   index (a Python int or a 0-dimensional tensor), what nn.CrossEntropyLoss expects.
2. Model(n_features, n_classes), an nn.Module whose forward returns one raw score per class, shape
   (batch, n_classes), as lesson 06's does (CrossEntropyLoss applies the softmax itself).
3. train(model, dataset): CrossEntropyLoss, an optimizer, and the training cycle over a DataLoader of
   shuffled mini-batches. It must end within 15 seconds.
The checker trains a fresh Model(64, 10) with your train() and wants at least 85% of the 450 held-out
digits right (always answering the commonest digit scores 8.7%).

Run it: python exercises/06c_digits.py
Check it: python exercises/check.py 06c
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class DigitsDataset(Dataset):
    def __init__(self, path):
        # ---- your code here ----
        raise NotImplementedError

    def __len__(self):
        # ---- your code here ----
        raise NotImplementedError

    def __getitem__(self, index):
        # ---- your code here ----
        raise NotImplementedError


class Model(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        # ---- your code here ----
        raise NotImplementedError

    def forward(self, x):
        # ---- your code here ----
        raise NotImplementedError


def train(model, dataset):
    # ---- your code here ----
    raise NotImplementedError


if __name__ == "__main__":  # python exercises/06c_digits.py: train on the shipped split and test
    import sys
    from pathlib import Path

    course = next(p for p in Path(__file__).resolve().parents if (p / "lesson_tools.py").is_file())
    sys.path.insert(0, str(course))
    import lesson_tools as kit  # it checks the files against data/digits/SHA256SUMS

    train_set = DigitsDataset(kit.data_file("digits/train.csv"))
    test_set = DigitsDataset(kit.data_file("digits/test.csv"))
    model = Model(64, 10)
    train(model, train_set)
    model.eval()
    with torch.no_grad():
        x, y = next(iter(DataLoader(test_set, batch_size=len(test_set))))
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    print(f"held-out accuracy: {accuracy:.1%} of {len(test_set)} digits")
