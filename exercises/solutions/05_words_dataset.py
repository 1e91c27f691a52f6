"""Exercise 05: a Dataset and a collate_fn for words of different lengths.

Follows lesson 05 (lecture 8). Lesson 05's Dataset serves rows of 8 numbers, and the DataLoader stacks
them into a batch as they are. Words differ in length, so they cannot be stacked: a collate_fn pads
them. data/words/words.csv is such a file: a header line `word,language`, then a word and its language
on each line.

1. WordsDataset(path) reads a file like that (UTF-8) and sets
   - self.chars: every character of the words, once each, sorted, as one string; the character
     self.chars[i] is numbered i + 1, because 0 is kept for padding;
   - self.languages: the language names, once each, sorted; a word's label is its language's position.
   len(dataset) is the number of words, and dataset[i] is (the i-th word as a 1-D int64 tensor of its
   characters' numbers, its label as an int).
2. collate(batch) turns a list of such items into (padded, lengths, labels): padded is an int64 tensor of
   shape (batch, longest word in the batch) holding 0 after each word's end; lengths and labels are int64
   tensors of shape (batch,).

The checker writes a file of random words of its own and reads it with your class through a DataLoader.
Run this file to see a batch of data/words/words.csv.

Check it: python exercises/check.py 05
"""

import csv
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset


class WordsDataset(Dataset):
    def __init__(self, path):
        # ---- your code here ----
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))  # DictReader takes the header line as the column names
        self.words = [row["word"] for row in rows]
        self.chars = "".join(sorted(set("".join(self.words))))
        self.languages = sorted({row["language"] for row in rows})
        self.number = {c: i + 1 for i, c in enumerate(self.chars)}  # 0 stays free for padding
        self.labels = [self.languages.index(row["language"]) for row in rows]

    def __len__(self):
        # ---- your code here ----
        return len(self.words)

    def __getitem__(self, i):
        # ---- your code here ----
        return torch.tensor([self.number[c] for c in self.words[i]]), self.labels[i]


def collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # ---- your code here ----
    words, labels = zip(*batch)
    lengths = torch.tensor([len(word) for word in words])
    # pad_sequence would do this too; by hand: a tensor of zeros, and each word copied into its row
    padded = torch.zeros(len(words), int(lengths.max()), dtype=torch.int64)
    for row, word in enumerate(words):
        padded[row, : len(word)] = word
    return padded, lengths, torch.tensor(labels)


if __name__ == "__main__":
    course = next(
        folder for folder in Path(__file__).resolve().parents if (folder / "data" / "words").is_dir()
    )
    words = WordsDataset(course / "data" / "words" / "words.csv")
    loader = DataLoader(words, batch_size=4, shuffle=True, collate_fn=collate)
    padded, lengths, labels = next(iter(loader))
    print(f"{len(words)} words, {len(words.chars)} characters, languages {words.languages}")
    print(f"padded {tuple(padded.shape)}:\n{padded}\nlengths {lengths}\nlabels {labels}")
