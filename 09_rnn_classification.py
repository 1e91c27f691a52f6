"""Lecture 13: an RNN classifier: which of five languages does a word come from?

python 09_rnn_classification.py                 # padding and packing shown, then train and test
python 09_rnn_classification.py --cell lstm     # the same with an LSTM (or --cell rnn)
python 09_rnn_classification.py --save          # keep the trained model (checkpoints/09_rnn_classification.pt)
python 09_rnn_classification.py --cell lstm --save   # ... in checkpoints/09_rnn_classification_lstm.pt
python 09_rnn_classification.py --predict hello casa zielony   # top languages, from the saved model
python 09_rnn_classification.py --lecture       # the lecture's model and settings (100 epochs: long)
python 09_rnn_classification.py --help

The lecture classifies names into 18 countries, from a names file in its own repository whose origin
and license it does not give. Here the words of five languages (English, Spanish, Portuguese, Dutch,
Polish: 6,000 each, from Debian's word lists) ship with the course, and data/words/PROVENANCE.md says
where each list comes from and under which license; --lecture trains on them too. The lecture's 13_4
(packing) is shown first here because the training below packs its batches.

Your turn: exercises/09_last_hidden.py (python exercises/check.py 09).
"""

import csv
import math
from functools import partial

import lesson_tools as kit

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

LESSON = "09_rnn_classification"
WORDS_CSV = "words/words.csv"
TRAIN_WORDS, VALIDATION_WORDS = 24_000, 3_000  # by position in the (already shuffled) file; the rest test
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
EMBEDDING_SIZE = 32  # 50-odd characters need few numbers each
HIDDEN_SIZE = 128  # the memory the cell carries from character to character
N_LAYERS = 1  # 13_2 stacks 2 bidirectional ones (--layers 2 --bidirectional; bench/README.md compares)
N_EPOCHS = 4
LR = 0.01  # Adam's peak rate in a one-cycle schedule: warm up, then anneal to almost 0
BATCH_SIZE = 256  # the lecture's
QUICK_WORDS, QUICK_EPOCHS = 6000, 2  # --quick: a quarter of the training words, 2 epochs
TEST_BATCH = 1024
# Character 0 fills the padding, 1 stands for a character never seen in training. Training never shows
# character 1, so its embedding keeps its random start: an unseen letter adds a little noise, no knowledge.
PAD, UNKNOWN = 0, 1
TOP = 3  # languages shown per word by --predict
# --lecture: 13_2's RNNClassifier(N_CHARS, HIDDEN_SIZE, N_COUNTRIES, N_LAYERS), embedding and GRU both 100
LECTURE_HIDDEN_SIZE, LECTURE_N_LAYERS = 100, 2
LECTURE = {
    "epochs": 100,
    "lr": 0.001,
    "batch_size": 256,
    "model": (
        "LectureRNNClassifier: embedding 100, 2 bidirectional GRU layers of 100, fc reads hidden[-1]",
        f"RNNClassifier: embedding {EMBEDDING_SIZE}, {N_LAYERS} GRU layer of {HIDDEN_SIZE}",
    ),
    "learning rate schedule": ("none, a constant rate", "one-cycle"),
}


def read_words():
    """The (word, language) rows in the file's fixed shuffled order, split by position: the same split
    for every run and every --seed."""
    with open(kit.data_file(WORDS_CSV), encoding="utf-8", newline="") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    end_of_validation = TRAIN_WORDS + VALIDATION_WORDS
    return rows[:TRAIN_WORDS], rows[TRAIN_WORDS:end_of_validation], rows[end_of_validation:]


class Vocabulary:
    """Characters <-> numbers, from the training words only: a test word's new letter stays unknown.
    The lecture numbers characters by their ASCII code (str2ascii_arr), which has no "ñ" or "ł";
    encode() does str2ascii_arr's job."""

    def __init__(self, chars):
        self.chars = chars
        self.index = {c: i + 2 for i, c in enumerate(chars)}  # 0 and 1 are PAD and UNKNOWN

    def __len__(self):
        return len(self.chars) + 2

    def encode(self, word):
        return torch.tensor([self.index.get(c, UNKNOWN) for c in word.lower()])


class WordsDataset(Dataset):
    """Each item: one word as a 1-D tensor of character numbers, and its language's number. The lecture's
    NameDataset gives names and countries as strings, turned into numbers batch by batch; these are words,
    numbered once."""

    def __init__(self, rows, vocab, languages):
        self.words = [word for word, _ in rows]
        self.encoded = [vocab.encode(word) for word, _ in rows]  # once, not at every epoch
        self.targets = [languages.index(language) for _, language in rows]

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, i):
        return self.encoded[i], self.targets[i]


def collate(batch):
    """The lecture's make_variables (and its pad_sequences): words differ in length, so a batch is padded
    to its longest word, and the true lengths are kept. The lecture also sorts the batch by length."""
    words, targets = zip(*batch)
    seq_lengths = torch.tensor([len(w) for w in words])  # on the CPU, where pack_padded_sequence wants it
    return pad_sequence(words, batch_first=True, padding_value=PAD), seq_lengths, torch.tensor(targets)


@torch.no_grad()
def show_padding_and_packing(rows, vocab):
    """The lecture's 13_1 pads a batch of names into one tensor; its 13_4 packs three words and runs an
    LSTM on them. Both here, on three words; returns their padded batch and its lengths."""
    words = [rows[i][0] for i in range(3)]
    seq_tensor, seq_lengths, _ = collate([(vocab.encode(w), 0) for w in words])
    print(f"1) Three words of different lengths as one batch (padded as in 13_1, packed as in 13_4): {words}")
    print(
        f"   padded to the longest with {PAD}s: shape {tuple(seq_tensor.shape)}, lengths {seq_lengths.tolist()}"
    )
    for word, row in zip(words, seq_tensor.tolist()):
        print(f"      {word:12} {row}")
    # The RNN must not read the padding: a short word's summary would be taken after a run of zeros.
    # pack_padded_sequence keeps only the real characters, step by step across the batch. The lecture
    # sorts the batch by length first, as packing once required; enforce_sorted=False sorts inside and
    # puts the results back in the batch's own order, so nothing needs re-sorting by hand.
    # 13_4's sizes; 13_4 turns the batch into (step, batch) first, and its embedding has no padding_idx
    embed = nn.Embedding(len(vocab), 3, padding_idx=PAD)
    lstm = nn.LSTM(3, 5, batch_first=True)
    packed_input = pack_padded_sequence(
        embed(seq_tensor), seq_lengths, batch_first=True, enforce_sorted=False
    )
    print(
        f"   packed: {len(packed_input.data)} real characters of {seq_tensor.numel()} places; words still going at each "
        f"step: {packed_input.batch_sizes.tolist()} (longest first: {packed_input.sorted_indices.tolist()})"
    )
    packed_output, (ht, ct) = lstm(packed_input)
    output, _ = pad_packed_sequence(packed_output, batch_first=True)
    print(
        f"   an LSTM on the packed batch, its output unpacked again: {tuple(output.shape)} (batch, step, hidden),"
        f" zeros after each word's end;\n   its last hidden state ht {tuple(ht.shape)}: ht[-1][i] is word"
        f" i read to its own last letter: {torch.allclose(ht[-1], output[range(3), seq_lengths - 1])}"
    )
    return seq_tensor, seq_lengths


@torch.no_grad()
def show_sizes(classifier, seq_tensor, seq_lengths):
    """The lecture's 13_1 prints the size of what each layer gives, for one name and for a padded batch.
    Here for the three words above, through the model about to train (what its layers give is recorded
    as they run). Returns the sizes printed."""
    sizes = [("input", tuple(seq_tensor.shape))]

    def record(name, layer, inputs, output):
        if isinstance(output, tuple):  # a recurrent layer: (every step's output, the last hidden state)
            name, output = f"{name}'s last hidden state", output[1]
            output = output[0] if isinstance(output, tuple) else output  # an LSTM's is (h, c)
        sizes.append((name, tuple(output.shape)))

    hooks = [
        layer.register_forward_hook(partial(record, name)) for name, layer in classifier.named_children()
    ]
    classifier(seq_tensor.to(classifier.fc.weight.device), seq_lengths)
    for hook in hooks:
        hook.remove()
    print(f"   sizes through {type(classifier).__name__} (13_1), for the 3 words of 1):")
    print("      " + " -> ".join(f"{name} {size}" for name, size in sizes))
    return sizes


# Step 1: the model: characters -> nn.Embedding -> RNN, GRU or LSTM -> the last hidden state -> one
# score per language. The lecture embeds ASCII codes in 100 numbers and reads them with 2 bidirectional
# GRU layers of 100 (LectureRNNClassifier below, --lecture); we number the training words' own
# characters and use 32 numbers and 1 GRU layer of 128 (bench/README.md compares it with the
# lecture's stack of layers). Its code
# passes only hidden[-1], the last layer's backward direction, to the Linear layer; with --bidirectional
# we concatenate both directions. The recurrent layer is called self.rnn, not the lecture's self.gru,
# because --cell makes it a GRU, an LSTM or a plain RNN.
class RNNClassifier(nn.Module):
    def __init__(self, input_size, output_size, cell="gru", n_layers=N_LAYERS, bidirectional=False):
        super().__init__()
        self.n_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(input_size, EMBEDDING_SIZE, padding_idx=PAD)
        self.rnn = CELLS[cell](
            EMBEDDING_SIZE, HIDDEN_SIZE, num_layers=n_layers, bidirectional=bidirectional, batch_first=True
        )
        self.fc = nn.Linear(HIDDEN_SIZE * self.n_directions, output_size)

    def forward(self, input, seq_lengths):
        """input: (batch, longest) padded character numbers; seq_lengths: (batch,) on the CPU."""
        embedded = self.embedding(input)
        # pack them up nicely: the RNN reads each word only up to its own last letter, never the padding
        rnn_input = pack_padded_sequence(embedded, seq_lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(rnn_input)
        if isinstance(hidden, tuple):  # an LSTM also returns its cell state: (h, c)
            hidden = hidden[0]
        # hidden: (layers * directions, batch, HIDDEN_SIZE); the last layer's, after the last letter
        # (and, reading backwards, after the first), summarises the whole word. No need to unpack.
        return self.fc(torch.cat(list(hidden[-self.n_directions :]), dim=1))


class LectureRNNClassifier(nn.Module):
    """--lecture: 13_2's RNNClassifier as its code builds it, with its names (self.gru): the embedding as
    wide as the hidden state, the GRU reading (step, batch) as the lecture's transpose makes it, and only
    hidden[-1] reaching the Linear layer. It numbers this lesson's characters, not ASCII codes."""

    def __init__(self, input_size, hidden_size, output_size, n_layers=1, bidirectional=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_directions = int(bidirectional) + 1
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, input, seq_lengths):
        input = input.t()  # B x S -> S x B: the GRU reads sequence first
        embedded = self.embedding(input)  # S x B x hidden_size
        # Pack them up nicely (the lecture sorts the batch by length first; enforce_sorted=False sorts here)
        gru_input = pack_padded_sequence(embedded, seq_lengths, enforce_sorted=False)
        output, hidden = self.gru(gru_input)  # no hidden state given: zeros, as _init_hidden makes
        # Use the last layer output as FC's input: hidden[-1], the last layer read backwards
        return self.fc(hidden[-1])


def train(model, device, train_loader, criterion, optimizer, scheduler):
    """Step 3 for one epoch, over padded batches. Returns the mean loss per word."""
    model.train()
    total_loss = 0.0
    for input, seq_lengths, target in train_loader:
        input, target = input.to(device), target.to(device)
        output = model(input, seq_lengths)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:  # --lecture: none, the rate stays as it is
            scheduler.step()
        total_loss += loss.item() * len(target)
    return total_loss / len(train_loader.dataset)


@torch.inference_mode()
def predict(model, device, dataset):
    """Probabilities for every word of dataset, in order."""
    model.eval()
    loader = DataLoader(dataset, batch_size=TEST_BATCH, collate_fn=collate)
    return torch.cat([model(input.to(device), lengths).softmax(dim=1).cpu() for input, lengths, _ in loader])


def test(model, device, dataset):
    """Percent of the dataset's words whose likeliest language is theirs, and every guess."""
    guesses = predict(model, device, dataset).argmax(dim=1)
    return 100.0 * (guesses == torch.tensor(dataset.targets)).float().mean().item(), guesses


def main(argv=None):
    args = parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    if args.predict:
        return predict_words(args, device)
    if args.load:
        return load_and_test(args, device)
    figures_on = kit.start_figures(args)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    train_rows, validation_rows, test_rows = read_words()
    train_rows = train_rows[:QUICK_WORDS] if args.quick else train_rows
    languages = sorted({language for _, language in train_rows})
    vocab = Vocabulary("".join(sorted({c for word, _ in train_rows for c in word})))
    three_words = show_padding_and_packing(test_rows, vocab)
    train_dataset, validation_dataset, test_dataset = (
        WordsDataset(rows, vocab, languages) for rows in (train_rows, validation_rows, test_rows)
    )
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True, collate_fn=collate)
    shape = model_shape(args)
    print(
        f"\n2) {len(train_rows):,} training words, {len(validation_rows):,} validation, {len(test_rows):,} test;"
        f" {len(vocab) - 2} characters; {describe(shape, args.lecture)}, on {device}"
    )
    if args.lecture:
        classifier = LectureRNNClassifier(len(vocab), LECTURE_HIDDEN_SIZE, len(languages), LECTURE_N_LAYERS)
    else:
        classifier = RNNClassifier(len(vocab), len(languages), **shape)
    classifier = classifier.to(device)
    show_sizes(classifier, *three_words)
    # Step 2: cross-entropy over the languages; Adam, as in the lecture, with a one-cycle schedule
    # (a short warm-up, then the rate falls to nearly 0), which lets a few epochs settle well. --lecture:
    # the lecture's constant rate, no schedule.
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=args.lr)
    scheduler = None
    if not args.lecture:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
        )

    # Step 3: the training cycle. The validation words pick nothing here: they only show, epoch by epoch,
    # how well the model does on words it never trained on. (The lecture tests on its test names every
    # epoch, and guesses four names.)
    log = kit.EpochLog(epochs, args.lr, reference=math.log(len(languages)), seconds=True)
    for epoch in range(1, epochs + 1):
        train_loss = train(classifier, device, train_loader, criterion, optimizer, scheduler)
        validation_accuracy, _ = test(classifier, device, validation_dataset)
        log.end_epoch(epoch, train_loss=train_loss, validation_accuracy=validation_accuracy)

    results = final_test(classifier, device, test_dataset, languages, shape, args.lecture, figures_on, args)
    if args.save:  # with what it takes to rebuild the model and read words as it did
        kept = {"vocabulary": vocab.chars, "languages": languages, "lecture": args.lecture, **shape}
        kit.save_checkpoint(args.save, LESSON, classifier, variant(shape, args.lecture), **kept)
    return {
        **results,
        "batches_per_epoch": len(train_loader),
        "history": log.history,
        "vocabulary": vocab.chars,
        "model": classifier,
        "optimizer": optimizer,
        "scheduler": scheduler,
    }


def parse_args(argv):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=N_EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru", help="the recurrent cell")
    parser.add_argument("--layers", type=kit.positive_int, default=N_LAYERS, help="stacked recurrent layers")
    parser.add_argument("--bidirectional", action="store_true", help="also read each word backwards")
    kit.add_lecture_flag(parser, LECTURE)
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
    if args.lecture and (args.predict or args.load):
        parser.error("--lecture trains the lecture's model; --predict and --load use a saved one")
    if args.lecture and (args.cell, args.layers, args.bidirectional) != ("gru", N_LAYERS, False):
        parser.error(
            "--lecture trains the lecture's own GRU; --cell, --layers and --bidirectional shape ours"
        )
    kit.use_lecture_settings(args, parser, LECTURE)
    return args


def model_shape(args):
    """The recurrent layer's kind, layers and directions: the flags', or with --lecture the lecture's."""
    if args.lecture:
        return {"cell": "gru", "n_layers": LECTURE_N_LAYERS, "bidirectional": True}
    return {"cell": args.cell, "n_layers": args.layers, "bidirectional": args.bidirectional}


def describe(shape, lecture):
    if lecture:
        return f"the lecture's GRU: {shape['n_layers']} bidirectional layers of {LECTURE_HIDDEN_SIZE}"
    return (
        f"{shape['cell'].upper()} x {shape['n_layers']}{' bidirectional' if shape['bidirectional'] else ''}"
    )


def variant(shape, lecture):
    """What names a figure or a bare --save of a model other than the default: "lstm", "lecture", ..."""
    if lecture:
        return "lecture"
    parts = [shape["cell"]] if shape["cell"] != "gru" else []
    parts += [f"{shape['n_layers']}layers"] if shape["n_layers"] != N_LAYERS else []
    return "_".join(parts + ["bidirectional"] * shape["bidirectional"])


def final_test(classifier, device, test_dataset, languages, shape, lecture, figures_on, args):
    test_accuracy, guesses = test(classifier, device, test_dataset)
    print(
        f"\n3) Test accuracy {test_accuracy:.1f}% on {len(test_dataset):,} words never seen in training "
        f"(chance: {100 / len(languages):.0f}%)"
    )
    confusion = report(guesses, test_dataset, languages)
    if figures_on:
        fig = confusion_figure(confusion, languages, describe(shape, lecture))
        name = "_".join(filter(None, [f"{LESSON}_confusion", variant(shape, lecture)]))
        kit.save_figure(fig, name, args)
    return {
        "test_accuracy": test_accuracy,
        "confusion": confusion.tolist(),
        "guesses": guesses.tolist(),
        "device": str(device),
        "summary": f"test accuracy {test_accuracy:.1f}% ({'lecture' if lecture else shape['cell']})",
    }


def report(guesses, dataset, languages):
    """The confusion matrix (rows: true language, columns: guess) and, for each language, the percent of
    its words guessed right (its row's diagonal over its row), printed."""
    confusion = torch.zeros(len(languages), len(languages), dtype=torch.long)
    for truth, guess in zip(dataset.targets, guesses.tolist()):
        confusion[truth, guess] += 1
    width = max(map(len, languages))
    print(
        f"   confusion matrix (rows: true language, columns: guessed)\n   {'':{width}} "
        + " ".join(f"{lang[:5]:>6}" for lang in languages)
        + "   right"
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


def confusion_figure(confusion, languages, model):
    """The confusion matrix as a picture: each cell holds its count, shaded by the fraction of its row
    (the true language's words). Returns the figure (tests read it back)."""
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
        title=f"Test words: which language? ({model})",
    )
    ax.tick_params(axis="x", rotation=30)
    fig.colorbar(image, ax=ax, label="fraction of the true language's words")
    return fig


def load_model(path, device):
    """A saved model and what it needs: its vocabulary, its languages, its shape and whether it is the
    lecture's."""
    checkpoint = kit.load_checkpoint(path, LESSON)
    try:
        vocab, languages = Vocabulary(checkpoint["vocabulary"]), list(checkpoint["languages"])
        shape = {key: checkpoint[key] for key in ("cell", "n_layers", "bidirectional")}
    except KeyError as missing:
        raise kit.LessonError(
            f"--load {path}: this checkpoint lacks {missing}; save it again with --save"
        ) from None
    if shape["cell"] not in CELLS:
        raise kit.LessonError(f"--load {path}: unknown cell {shape['cell']!r}")
    lecture = bool(checkpoint.get("lecture", False))
    if lecture:
        classifier = LectureRNNClassifier(len(vocab), LECTURE_HIDDEN_SIZE, len(languages), shape["n_layers"])
    else:
        classifier = RNNClassifier(len(vocab), len(languages), **shape)
    kit.load_weights(classifier, checkpoint, path)
    return classifier.to(device), vocab, languages, shape, lecture


def load_and_test(args, device):
    """--load without --predict: test a saved model on the test words; no training."""
    classifier, vocab, languages, shape, lecture = load_model(args.load, device)
    print(f"Loaded the {describe(shape, lecture)} saved in {kit.shown(args.load)}")
    test_rows = read_words()[2]
    test_dataset = WordsDataset(test_rows, vocab, languages)
    return final_test(
        classifier, device, test_dataset, languages, shape, lecture, kit.start_figures(args), args
    )


def predict_words(args, device):
    """--predict: the top languages of each WORD, from a saved model; never trains (the lecture's
    test(name))."""
    for word in args.words:
        if not any(c.isalpha() for c in word):
            raise kit.LessonError(f"--predict needs words made of letters: {word!r} has none")
    path = args.load or kit.saved_checkpoint(LESSON)
    if path is None:
        raise kit.LessonError(
            "--predict needs a trained model, and none is saved yet. Train and save one first with:"
            f" python {LESSON}.py --save   (or give one with --load PATH)"
        )
    classifier, vocab, languages, shape, lecture = load_model(path, device)
    print(f"Which language? ({describe(shape, lecture)} from {kit.shown(path)})")
    dataset = WordsDataset([(word, languages[0]) for word in args.words], vocab, languages)  # labels unused
    predictions = []
    for word, probabilities in zip(args.words, predict(classifier, device, dataset)):
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


if __name__ == "__main__":
    kit.run(main)
