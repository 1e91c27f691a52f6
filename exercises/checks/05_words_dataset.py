"""Exercise 05's check: a Dataset and a collate_fn for words of different lengths."""

import tempfile
from pathlib import Path

from checks.common import Wrong, as_tensor, show

import torch
from torch.utils.data import DataLoader

NAME = "05_words_dataset"
LESSON = "05"
LECTURE = "8"
SLIDE = ""
IDEA = "a Dataset and a collate_fn for words of different lengths: padded batch, lengths, labels"
HINTS = [
    "The file's first line is a header, not a word: csv.DictReader reads it as the column names, so that"
    " each row is a dict with a 'word' and a 'language'.",
    "Build the sorted characters and the sorted languages once, in __init__; a dict from character to"
    " number (starting at 1) makes __getitem__ short.",
    "In collate, zip(*batch) splits the items into words and labels. The padded tensor has one row per item"
    " of this batch (its length can differ from batch to batch) and one column per place of the longest"
    " word; each word goes at the start of its row.",
]
FORBIDDEN = []
LETTERS = "abcdefghijklmnopqrstuvwxyzáäéíñóöúüßąćęłńśźż"


def _words_file(draw, folder):
    """A CSV like data/words/words.csv of random words in random languages; returns its path and rows."""
    letters = "".join(draw.random.sample(LETTERS, draw.integer(8, 16)))
    languages = [
        "".join(draw.random.choices("abcdefghijklmnopqrstuvwxyz", k=draw.integer(4, 9))) for _ in range(4)
    ]
    rows = [
        ("".join(draw.random.choices(letters, k=draw.integer(1, 11))), draw.random.choice(languages))
        for _ in range(draw.integer(25, 40))
    ]
    # The last language by name comes first in the file: languages kept in the order met are then unsorted.
    last = max(language for _, language in rows)
    rows.insert(0, ("".join(draw.random.choices(letters, k=draw.integer(1, 11))), last))
    path = Path(folder) / "words.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("word,language\n" + "".join(f"{word},{language}\n" for word, language in rows))
    return path, rows


def _check_items(dataset, rows, chars, languages, where):
    if len(dataset) != len(rows):
        why = " Your count includes the header line `word,language`." if len(dataset) == len(rows) + 1 else ""
        raise Wrong(f"len(dataset) is {len(dataset)}, expected {len(rows)} {where}.{why}")
    got_chars = getattr(dataset, "chars", None)
    got_chars = "".join(got_chars) if isinstance(got_chars, (list, tuple)) else got_chars
    if got_chars != chars:
        why = ""
        if isinstance(got_chars, str) and sorted(got_chars) == sorted(chars):
            why = " The same characters, in another order: sort them."
        elif isinstance(got_chars, str) and set(got_chars) > set(chars):
            extra = "".join(sorted(set(got_chars) - set(chars)))
            why = f" Yours has characters the words do not have ({extra!r}): are the header or the languages in?"
        raise Wrong(f"dataset.chars is {got_chars!r}, expected {chars!r} {where}.{why}")
    got_languages = getattr(dataset, "languages", None)
    if not isinstance(got_languages, (list, tuple)) or list(got_languages) != languages:
        raise Wrong(f"dataset.languages is {got_languages!r}, expected {languages!r} (sorted) {where}.")
    for i, (word, language) in enumerate(rows):
        expected = torch.tensor([chars.index(c) + 1 for c in word])
        label = languages.index(language)
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise Wrong(f"dataset[{i}] is {item!r}: it should be a pair, (word as a tensor, label).")
        tensor = as_tensor(item[0], f"dataset[{i}][0]")
        try:
            same_label = int(item[1]) == label
        except (TypeError, ValueError, RuntimeError):  # a word, or a tensor of several numbers
            same_label = False
        if tensor.dtype != torch.int64 or not torch.equal(tensor, expected) or not same_label:
            why = ""
            if isinstance(item[1], str):
                why = " The label is the language's place in dataset.languages, a whole number, not its name."
            elif tensor.shape == expected.shape and torch.equal(tensor + 1, expected):
                why = " Yours are numbered from 0: number the characters from 1, as 0 is kept for padding."
            raise Wrong(
                f"dataset[{i}] should be the word {word!r} as {show(expected)} (int64) and label {label}"
                f" ({language!r}),\nyours is {show(tensor)} ({tensor.dtype}) and {item[1]!r}.{why}"
            )


def check(module, draw):
    with tempfile.TemporaryDirectory() as folder:
        path, rows = _words_file(draw, folder)
        dataset = module.WordsDataset(path)
    chars = "".join(sorted({c for word, _ in rows for c in word}))
    languages = sorted({language for _, language in rows})
    where = f"on a file of {len(rows)} random words (header `word,language`), e.g. {rows[0][0]},{rows[0][1]}"
    _check_items(dataset, rows, chars, languages, where)

    batch_size = draw.integer(4, 7)
    if len(rows) % batch_size == 0:
        batch_size += 1  # the last batch is smaller: a batch size written into collate shows
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=module.collate)
    for number, batch in enumerate(loader):
        part = rows[number * batch_size : (number + 1) * batch_size]
        lengths = torch.tensor([len(word) for word, _ in part])
        padded = torch.zeros(len(part), int(lengths.max()), dtype=torch.int64)
        for row, (word, _) in enumerate(part):
            padded[row, : len(word)] = torch.tensor([chars.index(c) + 1 for c in word])
        labels = torch.tensor([languages.index(language) for _, language in part])
        what = f"collate() on a batch of {len(part)} words {[word for word, _ in part]}"
        if not isinstance(batch, (tuple, list)) or len(batch) != 3:
            raise Wrong(
                f"{what} returned {type(batch).__name__}: return three tensors, (padded, lengths, labels)."
            )
        got = [
            as_tensor(value, f"{what}: its {name}")
            for name, value in zip(("padded", "lengths", "labels"), batch)
        ]
        # compared by value too: on a square batch (as many words as the longest has letters) the shapes agree
        if torch.equal(got[0], padded.T) and not torch.equal(got[0], padded):
            raise Wrong(
                f"{what} gave padded transposed, one column per word: expected shape {tuple(padded.shape)},"
                " (batch, longest), with one row per word. pad_sequence needs batch_first=True."
            )
        if got[0].dim() == 2 and got[0].shape[0] != len(part):
            raise Wrong(
                f"{what} gave padded with {got[0].shape[0]} rows for a batch of {len(part)} words: one row per"
                " word of this batch (the last batch is smaller)."
            )
        for name, value, expected in zip(("padded", "lengths", "labels"), got, (padded, lengths, labels)):
            if value.dtype != torch.int64 or not torch.equal(value, expected):
                why = ""
                if name == "padded" and value.shape == expected.shape:
                    flipped = torch.zeros_like(padded)
                    for row, (word, _) in enumerate(part):
                        flipped[row, padded.shape[1] - len(word) :] = padded[row, : len(word)]
                    if torch.equal(value, flipped):
                        why = " Yours puts the zeros before each word: pad after each word's end."
                raise Wrong(
                    f"{what} gave {name} = {show(value)} ({value.dtype}, shape {tuple(value.shape)}),\n"
                    f"expected {show(expected)} (int64, shape {tuple(expected.shape)}).{why}"
                )
    return ""


CORRECT = {
    "pad_sequence": [
        (
            "    padded = torch.zeros(len(words), int(lengths.max()), dtype=torch.int64)\n"
            "    for row, word in enumerate(words):\n        padded[row, : len(word)] = word\n",
            "    padded = torch.nn.utils.rnn.pad_sequence(list(words), batch_first=True, padding_value=0)\n",
        )
    ],
    "lines by hand, F.pad": """
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class WordsDataset(Dataset):
    def __init__(self, path):
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()[1:]
        pairs = [line.split(",") for line in lines if line]
        self.words = [w for w, _ in pairs]
        self.languages = sorted(set(g for _, g in pairs))
        self.chars = sorted(set(c for w in self.words for c in w))
        self.labels = [self.languages.index(g) for _, g in pairs]

    def __len__(self):
        return len(self.words)

    def __getitem__(self, i):
        return torch.LongTensor([self.chars.index(c) + 1 for c in self.words[i]]), self.labels[i]


def collate(batch):
    longest = max(len(word) for word, _ in batch)
    padded = torch.stack([F.pad(word, (0, longest - len(word))) for word, _ in batch])
    lengths = torch.tensor([len(word) for word, _ in batch], dtype=torch.long)
    labels = torch.tensor([label for _, label in batch], dtype=torch.long)
    return padded, lengths, labels
""",
    "csv.reader, a list of lists": [
        (
            "            rows = list(csv.DictReader(file))  # DictReader takes the header line as the column names",
            "            reader = csv.reader(file)\n            next(reader)\n"
            "            rows = [dict(word=w, language=g) for w, g in reader]",
        ),
        (
            "    return padded, lengths, torch.tensor(labels)",
            "    return padded, lengths, torch.tensor(list(labels), dtype=torch.int64)",
        ),
    ],
}

WRONG = {
    "the language's name as the label": (
        [("self.words[i]]), self.labels[i]", "self.words[i]]), self.languages[self.labels[i]]")],
        "not its name",
    ),
    "padded transposed": ([("return padded, lengths,", "return padded.T, lengths,")], "batch_first=True"),
    "header read as a word": (
        [
            (
                "rows = list(csv.DictReader(file))",
                "rows = [dict(word=w, language=g) for w, g in csv.reader(file)]",
            )
        ],
        "Your count includes the header line",
    ),
    "characters not sorted": (
        [('"".join(sorted(set("".join(self.words))))', '"".join(set("".join(self.words)))')],
        "sort them",
    ),
    "numbered from 0": ([("{c: i + 1 for", "{c: i for")], "numbered from 0"),
    "padding in front": (
        [("padded[row, : len(word)] = word", "padded[row, len(padded[row]) - len(word) :] = word")],
        "pad after each word's end",
    ),
    "a batch size of its own": (
        [("torch.zeros(len(words), int(lengths.max())", "torch.zeros(8, int(lengths.max())")],
        "rows for a batch of",
    ),
    "languages unsorted": (
        [
            (
                'self.languages = sorted({row["language"] for row in rows})',
                'self.languages = list(dict.fromkeys(row["language"] for row in rows))',
            )
        ],
        "(sorted)",
    ),
}
