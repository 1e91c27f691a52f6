"""Lecture 13: an RNN classifier: which of five languages does a word come from?

python 09_rnn_classification.py                 # padding and packing shown, then train and test (about 30 s on 2 CPU cores)
python 09_rnn_classification.py --cell lstm     # the same with an LSTM (or --cell rnn)
python 09_rnn_classification.py --save          # keep the trained model (checkpoints/09_rnn_classification.pt)
python 09_rnn_classification.py --predict hello casa zielony   # top languages, from the saved model
python 09_rnn_classification.py --help

The lecture classifies names into 18 countries, from a names file in its own repository whose origin
and license it does not give. Here the words of five languages (English, Spanish, Portuguese, Dutch,
Polish: 6,000 each, from Debian's word lists) ship with the course, and data/words/PROVENANCE.md says
where each list comes from and under which license. The lecture's 13_4 comes first here because the
training below packs its batches; its 13_2 trains 100 epochs at Adam's lr 0.001, ours 5 at up to 0.01.
"""

import csv
import math
import time

import lesson_tools as kit

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

LESSON = "09_rnn_classification"
WORDS_CSV = "words/words.csv"
TRAIN_WORDS, VALIDATION_WORDS = 24_000, 3_000  # by position in the (already shuffled) file; the rest test
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
EMBEDDING_SIZE = 32  # 50-odd characters need few numbers each; larger did not help (measured)
HIDDEN_SIZE = 128  # the memory the cell carries from character to character
# Seeds 0-2: 4 epochs reached 91.8-92.1% test accuracy in 26-27 s; a 5th gave 92.2-92.3% for 4 s more (measured)
EPOCHS = 4
LR = 0.01  # Adam's peak rate in a one-cycle schedule: warm up, then anneal to almost 0
BATCH_SIZE = 256  # big batches: fewer Python-level steps, each still a small matrix on a CPU
QUICK_WORDS, QUICK_EPOCHS = 6000, 2  # --quick: a quarter of the training words, 2 epochs
TEST_BATCH = 1024
# Character 0 fills the padding, 1 stands for a character never seen in training. Training never shows
# character 1, so its embedding keeps its random start: an unseen letter adds a little noise, no knowledge.
PAD, UNKNOWN = 0, 1
TOP = 3  # languages shown per word by --predict


def read_words():
    """The (word, language) rows in the file's fixed shuffled order, split by position: the same split
    for every run and every --seed."""
    with open(kit.data_file(WORDS_CSV), encoding="utf-8", newline="") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    end_of_validation = TRAIN_WORDS + VALIDATION_WORDS
    return rows[:TRAIN_WORDS], rows[TRAIN_WORDS:end_of_validation], rows[end_of_validation:]


class Vocabulary:
    """Characters <-> numbers, from the training words only: a test word's new letter stays unknown."""

    def __init__(self, chars):
        self.chars = chars
        self.index = {c: i + 2 for i, c in enumerate(chars)}  # 0 and 1 are PAD and UNKNOWN

    def __len__(self):
        return len(self.chars) + 2

    def encode(self, word):
        return torch.tensor([self.index.get(c, UNKNOWN) for c in word.lower()])


class WordsDataset(Dataset):
    """Each item: one word as a 1-D tensor of character numbers, and its language's number."""

    def __init__(self, rows, vocab, languages):
        self.words = [word for word, _ in rows]
        self.encoded = [vocab.encode(word) for word, _ in rows]  # once, not at every epoch
        self.targets = [languages.index(language) for _, language in rows]

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, i):
        return self.encoded[i], self.targets[i]


def collate(batch):
    """Words differ in length, so a batch is padded to its longest word, and the true lengths are kept."""
    words, targets = zip(*batch)
    lengths = torch.tensor([len(w) for w in words])  # stays on the CPU, where pack_padded_sequence wants it
    return pad_sequence(words, batch_first=True, padding_value=PAD), lengths, torch.tensor(targets)


@torch.no_grad()
def show_padding_and_packing(rows, vocab):
    """The lecture's 13_1 pads a batch of names into one tensor; its 13_4 packs three words and runs an
    LSTM on them. Both here, on three words."""
    words = [rows[i][0] for i in range(3)]
    chars, lengths, _ = collate([(vocab.encode(w), 0) for w in words])
    print(f"1) Three words of different lengths as one batch (padded as in 13_1, packed as in 13_4): {words}")
    print(f"   padded to the longest with {PAD}s: shape {tuple(chars.shape)}, lengths {lengths.tolist()}")
    for word, row in zip(words, chars.tolist()):
        print(f"      {word:12} {row}")
    # The RNN must not read the padding: a short word's summary would be taken after a run of zeros.
    # pack_padded_sequence keeps only the real characters, step by step across the batch. The lecture
    # sorts the batch by length first, as packing once required; enforce_sorted=False sorts inside and
    # puts the results back in the batch's own order, so nothing needs re-sorting by hand.
    embedding, lstm = (
        nn.Embedding(len(vocab), 3, padding_idx=PAD),
        nn.LSTM(3, 5, batch_first=True),
    )  # 13_4's sizes
    packed = pack_padded_sequence(embedding(chars), lengths, batch_first=True, enforce_sorted=False)
    print(
        f"   packed: {len(packed.data)} real characters of {chars.numel()} places; words still going at each "
        f"step: {packed.batch_sizes.tolist()} (longest first: {packed.sorted_indices.tolist()})"
    )
    packed_output, (hidden, _) = lstm(packed)
    output, _ = pad_packed_sequence(packed_output, batch_first=True)
    print(
        f"   an LSTM on the packed batch, its output unpacked again: {tuple(output.shape)} (batch, step, hidden),"
        f" zeros after each word's end;\n   its last hidden state {tuple(hidden.shape)}: hidden[-1][i] is word"
        f" i read to its own last letter: {torch.allclose(hidden[-1], output[range(3), lengths - 1])}"
    )


# Step 1: the model: characters -> nn.Embedding -> RNN, GRU or LSTM -> the last hidden state -> one
# score per language. The lecture embeds ASCII codes (ord(c) < 128, so no "ñ" or "ł") in 100 numbers
# and reads them with 2 bidirectional GRU layers of 100; we number the training words' own characters
# and use 32 numbers and 1 GRU layer of 128: bench/benchmark.py --cells measured the lecture's stack
# half a point better at 3.3 times the time (README). Its code also passes only hidden[-1], the backward direction, to the Linear layer;
# with --bidirectional we concatenate both directions.
class WordClassifier(nn.Module):
    def __init__(self, n_chars, n_languages, cell="gru", layers=1, bidirectional=False):
        super().__init__()
        self.embedding = nn.Embedding(n_chars, EMBEDDING_SIZE, padding_idx=PAD)
        self.rnn = CELLS[cell](
            EMBEDDING_SIZE, HIDDEN_SIZE, num_layers=layers, bidirectional=bidirectional, batch_first=True
        )
        self.directions = 2 if bidirectional else 1
        self.fc = nn.Linear(HIDDEN_SIZE * self.directions, n_languages)

    def forward(self, chars, lengths):
        """chars: (batch, longest) padded character numbers; lengths: (batch,) true lengths, on the CPU."""
        packed = pack_padded_sequence(self.embedding(chars), lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):  # an LSTM also returns its cell state: (h, c)
            hidden = hidden[0]
        # hidden: (layers * directions, batch, HIDDEN_SIZE); the last layer's, after the last letter
        # (and, reading backwards, after the first), summarises the whole word
        return self.fc(torch.cat(list(hidden[-self.directions :]), dim=1))


@torch.inference_mode()
def predict(model, dataset, device):
    """Probabilities for every word of dataset, in order."""
    model.eval()
    loader = DataLoader(dataset, batch_size=TEST_BATCH, collate_fn=collate)
    return torch.cat([model(chars.to(device), lengths).softmax(dim=1).cpu() for chars, lengths, _ in loader])


def accuracy(model, dataset, device):
    guesses = predict(model, dataset, device).argmax(dim=1)
    return (guesses == torch.tensor(dataset.targets)).float().mean().item(), guesses


def report(guesses, dataset, languages):
    """Per-language accuracy and the confusion matrix (rows: true language, columns: guess), printed."""
    confusion = torch.zeros(len(languages), len(languages), dtype=torch.long)
    for truth, guess in zip(dataset.targets, guesses.tolist()):
        confusion[truth, guess] += 1
    width = max(map(len, languages))
    print(
        f"   confusion matrix (rows: true language, columns: guessed)\n   {'':{width}} "
        + " ".join(f"{lang[:5]:>6}" for lang in languages)
    )
    for i, language in enumerate(languages):
        print(
            f"   {language:{width}} "
            + " ".join(f"{n:6d}" for n in confusion[i].tolist())
            + f"   {confusion[i, i] / confusion[i].sum():.1%}"
        )
    wrong = [i for i, (t, g) in enumerate(zip(dataset.targets, guesses.tolist())) if t != g]
    print(
        "   some words it gets wrong: "
        + ", ".join(
            f"{dataset.words[i]} ({languages[dataset.targets[i]]}, guessed {languages[guesses[i]]})"
            for i in wrong[:5]
        )
    )
    return confusion


def draw_confusion(confusion, languages, cell, args):
    import matplotlib.pyplot as plt

    rates = confusion / confusion.sum(dim=1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(languages)):
        for j in range(len(languages)):
            color = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, f"{confusion[i, j].item()}", ha="center", va="center", color=color)
    ax.set(
        xticks=range(len(languages)),
        yticks=range(len(languages)),
        xticklabels=languages,
        yticklabels=languages,
        xlabel="guessed language",
        ylabel="true language",
        title=f"Test words: which language? ({cell.upper()})",
    )
    ax.tick_params(axis="x", rotation=30)
    fig.colorbar(image, ax=ax, label="fraction of the true language's words")
    kit.save_figure(fig, f"{LESSON}_confusion", args)


def load_model(path, device):
    """A saved model and what it needs: its vocabulary, its languages and its shape."""
    checkpoint = kit.load_checkpoint(path, LESSON)
    try:
        vocab, languages = Vocabulary(checkpoint["vocabulary"]), list(checkpoint["languages"])
        shape = {key: checkpoint[key] for key in ("cell", "layers", "bidirectional")}
    except KeyError as missing:
        raise kit.LessonError(
            f"--load {path}: this checkpoint lacks {missing}; save it again with --save"
        ) from None
    if shape["cell"] not in CELLS:
        raise kit.LessonError(f"--load {path}: unknown cell {shape['cell']!r}")
    model = WordClassifier(len(vocab), len(languages), **shape)
    kit.load_weights(model, checkpoint, path)
    return model.to(device), vocab, languages, shape


def predict_words(args, device):
    """--predict: the top languages of each WORD, from a saved model; never trains."""
    for word in args.words:
        if not any(c.isalpha() for c in word):
            raise kit.LessonError(f"--predict needs words made of letters: {word!r} has none")
    path = args.load or kit.saved_checkpoint(LESSON)
    if path is None:
        raise kit.LessonError(
            "--predict needs a trained model, and none is saved yet. Train and save one first with:"
            f" python {LESSON}.py --save   (or give one with --load PATH)"
        )
    model, vocab, languages, shape = load_model(path, device)
    print(f"Which language? ({shape['cell'].upper()} from {kit.shown(path)})")
    dataset = WordsDataset([(word, languages[0]) for word in args.words], vocab, languages)  # labels unused
    predictions = []
    for word, probabilities in zip(args.words, predict(model, dataset, device)):
        top = probabilities.topk(TOP)
        ranked = [(languages[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
        unseen = sorted({c for c in word.lower() if c not in vocab.index})
        note = f"   (never seen in training: {' '.join(unseen)})" if unseen else ""
        print(f"   {word:18} " + "   ".join(f"{lang} {p:.1%}" for lang, p in ranked) + note)
        predictions.append({"word": word, "top": ranked, "unseen": unseen})
    return {
        "predictions": predictions,
        "summary": "; ".join(f"{p['word']}: {p['top'][0][0]}" for p in predictions),
    }


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru", help="the recurrent cell")
    parser.add_argument("--layers", type=kit.positive_int, default=1, help="stacked recurrent layers")
    parser.add_argument("--bidirectional", action="store_true", help="also read each word backwards")
    kit.add_checkpoint_flags(parser, LESSON)
    parser.add_argument(
        "--predict", action="store_true", help="guess the language of each WORD, from a saved model"
    )
    parser.add_argument(
        "words", nargs="*", metavar="WORD", help="words for --predict (after --, words may start with -)"
    )
    args = parser.parse_args(argv)
    if args.words and not args.predict:
        parser.error(f"words are read only with --predict: {' '.join(args.words)}")
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    if args.predict:
        return predict_words(args, device)
    figures_on = kit.start_figures(args)

    train_rows, validation_rows, test_rows = read_words()
    if args.quick:
        train_rows = train_rows[:QUICK_WORDS]
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs
    if args.load:
        model, vocab, languages, shape = load_model(args.load, device)
        print(f"Loaded the {shape['cell'].upper()} saved in {args.load}")
    else:
        languages = sorted({language for _, language in train_rows})
        vocab = Vocabulary("".join(sorted({c for word, _ in train_rows for c in word})))
        shape = {"cell": args.cell, "layers": args.layers, "bidirectional": args.bidirectional}
        show_padding_and_packing(test_rows, vocab)
        model = WordClassifier(len(vocab), len(languages), **shape).to(device)
    test_set = WordsDataset(test_rows, vocab, languages)

    history = []
    if not args.load:
        print(
            f"\n2) {len(train_rows):,} training words, {len(validation_rows):,} validation, {len(test_rows):,} test;"
            f" {len(vocab) - 2} characters; {args.cell.upper()} x {args.layers}"
            f"{' bidirectional' if args.bidirectional else ''}, on {device}"
        )
        train_loader = DataLoader(
            WordsDataset(train_rows, vocab, languages),
            batch_size=args.batch_size,
            shuffle=True,
            collate_fn=collate,
        )
        validation_set = WordsDataset(validation_rows, vocab, languages)
        # Step 2: cross-entropy over the languages; Adam, as in the lecture, with a one-cycle schedule
        # (a short warm-up, then the rate falls to nearly 0), which lets a few epochs settle well.
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
        )
        # Step 3: the training cycle over padded batches; the validation words pick nothing here, they
        # only show how well the model does on words it never trained on, epoch by epoch.
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.train()
            total = torch.zeros(
                (), device=device
            )  # summed on the device: .item() every step would wait for it
            for chars, lengths, targets in train_loader:
                chars, targets = chars.to(device), targets.to(device)
                loss = criterion(model(chars, lengths), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += loss.detach()
            train_loss = total.item() / len(train_loader)
            kit.stop_if_diverged(train_loss, args.lr, f"at epoch {epoch}", reference=math.log(len(languages)))
            validation_accuracy, _ = accuracy(model, validation_set, device)
            seconds = time.perf_counter() - started
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "validation_accuracy": validation_accuracy,
                    "seconds": seconds,
                }
            )
            print(
                f"   epoch {epoch}   loss {train_loss:.4f}   validation accuracy {validation_accuracy:.1%}   {seconds:.1f} s"
            )

    test_accuracy, guesses = accuracy(model, test_set, device)
    print(
        f"\n3) Test accuracy {test_accuracy:.1%} on {len(test_set):,} words never seen in training (chance: {1 / len(languages):.0%})"
    )
    confusion = report(guesses, test_set, languages)
    if args.save:
        kit.save_checkpoint(args.save, LESSON, model, vocabulary=vocab.chars, languages=languages, **shape)
    if figures_on:
        draw_confusion(confusion, languages, shape["cell"], args)
    return {
        "test_accuracy": test_accuracy,
        "history": history,
        "confusion": confusion.tolist(),
        "vocabulary": vocab.chars,
        "device": str(device),
        "summary": f"test accuracy {test_accuracy:.1%} ({shape['cell']})",
    }


if __name__ == "__main__":
    kit.run(main)
