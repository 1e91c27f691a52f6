"""Lectures 12-13: recurrent networks (RNN, GRU, LSTM) read text one character at a time.

    python 08_rnn.py                          # which language is this word? (5 languages, ~12 s on 2 cores)
    python 08_rnn.py --cell lstm              # the same with an LSTM (or --cell rnn)
    python 08_rnn.py --predict hello casa     # top languages for each word, from the saved model
    python 08_rnn.py --task hello             # the lecture's toy: teach an RNN "hihell" -> "ihello"
    python 08_rnn.py --task hello --embedding # the same, with nn.Embedding instead of one-hot inputs
    python 08_rnn.py --help                   # every flag

At each step an RNN cell takes one input (here a character) and its hidden state, and returns a new
hidden state: a summary of everything it has read so far. That memory is why RNNs suit language, where
the meaning of a letter depends on the letters before it.
"""

import csv
import math
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

import lesson_tools as kit

LESSON = "08_rnn"

# --task hello: the lecture's toy. Five distinct characters; each step must predict the next one.
HELLO_CHARS = "hielo"
HELLO_INPUT = "hihell"
HELLO_TARGET = "ihello"
HELLO_HIDDEN = 8  # a few numbers of memory are plenty for a 6-character string
HELLO_EMBEDDING = 4  # --embedding: each character becomes 4 learned numbers instead of a 5-long one-hot
HELLO_EPOCHS = 100  # an upper bound: training stops as soon as the prediction reads "ihello"
HELLO_LR = 0.05

# --task words: which of five languages a word comes from (data/words/PROVENANCE.md).
WORDS_FILE = "words/words.csv"
SPLIT = (0.8, 0.1, 0.1)  # train / validation / test, taken in file order (the file is already shuffled)
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
DEFAULT_CELL = "gru"  # measured best of the three within the time budget (see the README)
EMBEDDING_SIZE = 32  # 50-odd characters need few numbers each; larger did not help
HIDDEN_SIZE = 128  # the memory the cell carries from character to character
BATCH_SIZE = 256  # big batches: fewer Python-level steps, each still a small matrix on a CPU
EPOCHS = 5
LR = 0.01  # Adam's peak rate in a one-cycle schedule: warm up, then anneal to almost 0
EVAL_BATCH = 1024  # evaluation keeps no graph, so it can take larger batches
QUICK_TRAIN = 6000  # --quick: a fifth of the training words and 2 epochs, a few seconds
QUICK_EPOCHS = 2
PAD, UNKNOWN = 0, 1  # character index 0 fills the padding, 1 stands for characters never seen in training
MODEL_PATH = kit.CHECKPOINTS / "08_rnn_words.pt"  # what --predict uses unless --load says otherwise
TOP_K = 3  # languages shown per word by --predict
SHOW_WRONG = 8  # misclassified test words printed


# =========================================================================== --task hello


class HelloRNN(nn.Module):
    """One nn.RNN step per character, then a linear layer that scores the next character."""

    def __init__(self, n_chars: int, hidden_size: int, embedding_size: int | None = None):
        super().__init__()
        self.n_chars = n_chars
        # One-hot: a character is a vector with a single 1. An embedding instead learns a dense vector
        # per character, which matters when there are thousands of symbols (words) rather than five.
        self.embed = nn.Embedding(n_chars, embedding_size) if embedding_size else None
        self.rnn = nn.RNN(embedding_size or n_chars, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, n_chars)

    def forward(self, chars: torch.Tensor, hidden: torch.Tensor):
        """chars: (batch, steps) character indices; hidden: (1, batch, hidden_size), what was read so far."""
        inputs = self.embed(chars) if self.embed is not None else F.one_hot(chars, self.n_chars).float()
        output, hidden = self.rnn(inputs, hidden)
        return self.out(output), hidden


def encode_hello(text: str, device) -> torch.Tensor:
    return torch.tensor([[HELLO_CHARS.index(c) for c in text]], device=device)  # shape (1, len(text))


def run_hello(args, device) -> dict:
    epochs, lr = args.epochs, args.lr
    x, y = encode_hello(HELLO_INPUT, device), encode_hello(HELLO_TARGET, device)
    kind = f"nn.Embedding({len(HELLO_CHARS)}, {HELLO_EMBEDDING})" if args.embedding else "one-hot vectors"
    print(f'Teach an RNN to turn "{HELLO_INPUT}" into "{HELLO_TARGET}": inputs are {kind}, on {device}')
    model = HelloRNN(len(HELLO_CHARS), HELLO_HIDDEN, HELLO_EMBEDDING if args.embedding else None).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    text, epoch = "", 0
    for epoch in kit.epoch_range(epochs):
        model.train()
        optimizer.zero_grad()
        # The lecture's loop: feed one character at a time and pass the hidden state on to the next
        # step, so that when the RNN sees the second "h" it knows an "i" came before it.
        hidden = torch.zeros(1, 1, HELLO_HIDDEN, device=device)  # nothing read yet
        loss, guesses = 0.0, []
        for step in range(x.shape[1]):
            logits, hidden = model(x[:, step : step + 1], hidden)
            loss = loss + criterion(logits[:, 0], y[:, step])
            guesses.append(HELLO_CHARS[logits[0, 0].argmax().item()])
        loss.backward()  # through all six steps at once: backpropagation through time
        optimizer.step()
        # Adam's bounded steps can keep a wrecked model's loss finite, so compare with a blind guess too
        blind_guess = len(HELLO_INPUT) * math.log(len(HELLO_CHARS))
        kit.stop_if_diverged(loss.item(), lr, f"at epoch {epoch}", reference=blind_guess)
        text = "".join(guesses)
        print(f"   epoch {epoch:3d}   loss = {loss.item():.3f}   predicted: {text}")
        if text == HELLO_TARGET:
            break
    # nn.RNN can also take the whole sequence in one call and loop inside; the words task does that.
    model.eval()
    with torch.inference_mode():
        logits, _ = model(x, torch.zeros(1, 1, HELLO_HIDDEN, device=device))
    final = "".join(HELLO_CHARS[i] for i in logits[0].argmax(dim=1).tolist())
    if final == HELLO_TARGET:
        print(f'   it reads "{final}" after {epoch} epochs')
    else:
        print(f'   after {epoch} epochs it reads "{final}", not yet "{HELLO_TARGET}": try more --epochs')
    return {
        "task": "hello",
        "final_string": final,
        "epochs": epoch,
        "summary": f'hello: "{final}" after {epoch} epochs',
    }


# =========================================================================== --task words: data


def read_words() -> tuple[list[str], list[str]]:
    """The 30,000 (word, language) rows, in the file's fixed shuffled order."""
    path = kit.data_file(WORDS_FILE)  # checks the SHA-256, so a damaged file is named, not half-read
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return [row["word"] for row in rows], [row["language"] for row in rows]


def split_words(words: list[str], labels: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """Train / validation / test by position: the same split for every run and every --seed."""
    n_train, n_val = int(len(words) * SPLIT[0]), int(len(words) * SPLIT[1])
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, len(words))}
    return {name: (words[a:b], labels[a:b]) for name, (a, b) in bounds.items()}


class Vocabulary:
    """Characters <-> indices. Index 0 is padding and 1 any character not seen in training."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {c: i + 2 for i, c in enumerate(chars)}

    @classmethod
    def from_words(cls, words: list[str]) -> "Vocabulary":
        return cls("".join(sorted({c for w in words for c in w})))

    def __len__(self) -> int:
        return len(self.chars) + 2

    def encode(self, word: str) -> torch.Tensor:
        return torch.tensor([self.index.get(c, UNKNOWN) for c in word.lower()], dtype=torch.long)


class WordsDataset(Dataset):
    """Each item is one word as a 1-D tensor of character indices, and its language's number."""

    def __init__(self, words: list[str], labels: list[str], vocab: Vocabulary, languages: list[str]):
        self.words = words
        self.encoded = [vocab.encode(w) for w in words]  # once, not at every epoch
        self.targets = [languages.index(label) for label in labels]

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, i):
        return self.encoded[i], self.targets[i]


def collate(batch):
    """Words differ in length, so a batch is padded to its longest word and the true lengths are kept.

    pack_padded_sequence later uses the lengths so that the RNN never reads the padding.
    """
    seqs, targets = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])  # stays on the CPU, where pack_padded_sequence wants it
    return pad_sequence(seqs, batch_first=True, padding_value=PAD), lengths, torch.tensor(targets)


def loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    # num_workers=0: the words are a few hundred kilobytes already in memory, and worker processes would
    # cost more to start and feed than the padding they would take off the main process.
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset, batch_size, shuffle=shuffle, collate_fn=collate, num_workers=0, generator=generator
    )


# =========================================================================== --task words: model


class WordClassifier(nn.Module):
    """Characters -> nn.Embedding -> RNN/GRU/LSTM -> the last hidden state -> one score per language."""

    def __init__(self, n_chars: int, n_languages: int, cell: str, embedding_size: int, hidden_size: int):
        super().__init__()
        self.embed = nn.Embedding(n_chars, embedding_size, padding_idx=PAD)
        self.rnn = CELLS[cell](embedding_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, n_languages)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars: (batch, longest) padded indices; lengths: (batch,) true lengths, on the CPU."""
        # Packing tells the RNN where each word ends, so a short word's final hidden state is taken
        # after its own last letter rather than after a run of padding.
        packed = pack_padded_sequence(self.embed(chars), lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):  # an LSTM also returns its cell state: (h, c)
            hidden = hidden[0]
        return self.out(hidden[-1])  # the hidden state after the last letter: the whole word, summarised


# =========================================================================== --task words: train, evaluate


def train_words(model, train_set, val_set, args, device, epochs: int) -> list[float]:
    batches = loader(train_set, args.batch_size, shuffle=True, seed=args.seed)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    # One-cycle: a short warm-up, then the rate falls to nearly 0, which lets a few epochs settle well.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=epochs * len(batches)
    )
    val_accuracies, stopwatch = [], kit.Stopwatch()
    for epoch in kit.epoch_range(epochs):
        model.train()
        total, count = 0.0, 0
        for chars, lengths, targets in batches:
            chars, targets = chars.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(chars, lengths), targets)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total, count = total + loss.item() * len(targets), count + len(targets)
        blind_guess = math.log(model.out.out_features)  # the loss of giving every language the same odds
        kit.stop_if_diverged(total / count, args.lr, f"at epoch {epoch}", reference=blind_guess)
        val_accuracies.append(evaluate(model, val_set, device)["accuracy"])
        print(
            f"   epoch {epoch}   loss = {total / count:.4f}   validation accuracy = {val_accuracies[-1]:.1%}"
            f"   ({stopwatch.seconds():.0f} s)"
        )
    return val_accuracies


def predict_batch(model, dataset: Dataset, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities for every word of dataset, and the true language numbers."""
    model.eval()
    probabilities, targets = [], []
    with torch.inference_mode():
        for chars, lengths, target in loader(dataset, EVAL_BATCH, shuffle=False):
            probabilities.append(model(chars.to(device), lengths).softmax(dim=1).cpu())
            targets.append(target)
    return torch.cat(probabilities), torch.cat(targets)


def evaluate(model, dataset: Dataset, device) -> dict:
    probabilities, targets = predict_batch(model, dataset, device)
    guesses = probabilities.argmax(dim=1)
    return {
        "accuracy": (guesses == targets).float().mean().item(),
        "probabilities": probabilities,
        "guesses": guesses,
        "targets": targets,
    }


def report(result: dict, dataset: WordsDataset, languages: list[str]) -> tuple[dict, torch.Tensor, list]:
    """Per-language accuracy, the confusion matrix and some wrong answers, printed."""
    n = len(languages)
    confusion = torch.zeros(n, n, dtype=torch.long)  # row: the true language, column: the guess
    for t, g in zip(result["targets"].tolist(), result["guesses"].tolist()):
        confusion[t, g] += 1
    per_language = {
        lang: (confusion[i, i] / confusion[i].sum().clamp(min=1)).item() for i, lang in enumerate(languages)
    }
    print(
        "   per-language accuracy:  " + "   ".join(f"{lang} {acc:.1%}" for lang, acc in per_language.items())
    )
    width = max(len(lang) for lang in languages)
    print(
        f"   confusion matrix (rows: true language, columns: guessed)\n   {'':{width}} "
        + " ".join(f"{lang[:5]:>6}" for lang in languages)
    )
    for i, lang in enumerate(languages):
        print(f"   {lang:{width}} " + " ".join(f"{v:6d}" for v in confusion[i].tolist()))
    wrong = (result["guesses"] != result["targets"]).nonzero().flatten().tolist()
    examples = []
    for i in wrong[:SHOW_WRONG]:
        guess = result["guesses"][i].item()
        examples.append(
            (
                dataset.words[i],
                languages[result["targets"][i]],
                languages[guess],
                result["probabilities"][i, guess].item(),
            )
        )
    if examples:
        print(f"   some of the {len(wrong)} test words it gets wrong:")
        for word, truth, guess, p in examples:
            print(f"      {word:18} is {truth}, guessed {guess} ({p:.0%})")
    return per_language, confusion, examples


def draw_confusion(confusion: torch.Tensor, languages: list[str], cell: str, args) -> None:
    import matplotlib.pyplot as plt

    rates = confusion / confusion.sum(dim=1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(languages)):
        for j in range(len(languages)):
            ax.text(
                j,
                i,
                f"{confusion[i, j].item()}",
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
            )
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
    kit.save_figure(fig, "08_confusion_matrix", args)


# =========================================================================== --task words: save, load, predict


def save_model(path, model: WordClassifier, vocab: Vocabulary, languages: list[str], hparams: dict) -> None:
    # Plain values only (a string, a list of strings, ints), so torch.load(weights_only=True) reads them.
    kit.save_checkpoint(path, LESSON, model, vocabulary=vocab.chars, languages=list(languages), **hparams)


def load_model(path, device) -> tuple[WordClassifier, Vocabulary, list[str], dict]:
    checkpoint = kit.load_checkpoint(path, LESSON)
    try:
        hparams = {key: checkpoint[key] for key in ("cell", "embedding_size", "hidden_size")}
        vocab, languages = Vocabulary(checkpoint["vocabulary"]), list(checkpoint["languages"])
    except KeyError as missing:
        raise kit.LessonError(
            f"--load {path}: this checkpoint lacks {missing}; save it again with --save"
        ) from None
    if hparams["cell"] not in CELLS:
        raise kit.LessonError(f"--load {path}: unknown cell {hparams['cell']!r}")
    model = WordClassifier(len(vocab), len(languages), **hparams)
    kit.load_weights(model, checkpoint, path)
    return model.to(device), vocab, languages, hparams


def check_word(word: str) -> str:
    """A word to predict: spaces trimmed; it must contain at least one letter."""
    cleaned = word.strip()
    if not any(c.isalpha() for c in cleaned):
        shown = "an empty word" if not cleaned else f"{word!r} has no letters"
        raise kit.LessonError(f"--predict needs words made of letters: {shown}")
    return cleaned


def predict_words(model, vocab: Vocabulary, languages: list[str], words: list[str], device) -> list[dict]:
    """The top languages, with probabilities, for each word. Upper case is folded to lower case, as in
    the training words; a character never seen in training becomes the unknown-character index."""
    words = [check_word(w) for w in words]
    dataset = WordsDataset(words, [languages[0]] * len(words), vocab, languages)  # the labels go unused
    probabilities, _ = predict_batch(model, dataset, device)
    results = []
    for word, probs in zip(words, probabilities):
        top = probs.topk(min(TOP_K, len(languages)))
        ranked = [(languages[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
        unseen = sorted({c for c in word.lower() if c not in vocab.index})
        note = f"   (never seen in training: {' '.join(unseen)})" if unseen else ""
        print(f"   {word:18} " + "   ".join(f"{lang} {p:.1%}" for lang, p in ranked) + note)
        results.append({"word": word, "top": ranked, "unseen": unseen})
    return results


# =========================================================================== --task words: the whole task


def run_words(args, device, figures_on: bool) -> dict:
    stopwatch = kit.Stopwatch()
    if args.predict is not None:
        for word in args.predict:
            check_word(word)  # a bad word is reported before any training, not after it
        path = args.load or MODEL_PATH
        if args.load is None and not path.exists():
            how = "a rough --quick one, which is not saved" if args.quick else "one at the defaults"
            print(f"No saved model at {path} yet: training {how} first.\n")
            return train_and_test(args, device, figures_on, stopwatch, predict=args.predict)
        model, vocab, languages, hparams = load_model(path, device)
        print(f"Which language? ({hparams['cell'].upper()} from {path})")
        predictions = predict_words(model, vocab, languages, args.predict, device)
        best = "; ".join(f"{p['word']}: {p['top'][0][0]}" for p in predictions)
        return {"task": "words", "predictions": predictions, "summary": f"predict: {best}"}
    return train_and_test(args, device, figures_on, stopwatch)


def train_and_test(args, device, figures_on, stopwatch, predict=None) -> dict:
    words, labels = read_words()
    parts = split_words(words, labels)
    languages = sorted(set(labels))

    if args.load is not None and predict is None:  # evaluate a saved model, no training
        model, vocab, languages, hparams = load_model(args.load, device)
        print(f"Evaluating the {hparams['cell'].upper()} saved in {args.load}")
        epochs, val_accuracies = 0, []
    else:
        hparams = {"cell": args.cell, "embedding_size": EMBEDDING_SIZE, "hidden_size": HIDDEN_SIZE}
        train_words_list, train_labels = parts["train"]
        epochs = args.epochs
        if args.quick:
            train_words_list, train_labels = train_words_list[:QUICK_TRAIN], train_labels[:QUICK_TRAIN]
            epochs = min(epochs, QUICK_EPOCHS)
        vocab = Vocabulary.from_words(train_words_list)  # only what training sees; the rest is "unknown"
        counts = Counter(train_labels)
        print(
            f"{len(train_words_list)} training words ({', '.join(f'{n} {lang}' for lang, n in sorted(counts.items()))}), "
            f"{len(parts['val'][0])} validation, {len(parts['test'][0])} test; {len(vocab) - 2} characters"
        )
        model = WordClassifier(len(vocab), len(languages), **hparams).to(device)
        print(
            f"{hparams['cell'].upper()}: embedding {EMBEDDING_SIZE}, hidden {HIDDEN_SIZE}, {epochs} epochs, "
            f"batch {args.batch_size}, lr {args.lr}, on {device}"
        )
        train_set = WordsDataset(train_words_list, train_labels, vocab, languages)
        val_set = WordsDataset(*parts["val"], vocab, languages)
        val_accuracies = train_words(model, train_set, val_set, args, device, epochs)
        save_to = args.save or (None if args.quick else MODEL_PATH)  # a --quick model is too rough to keep
        if save_to is not None:
            save_model(save_to, model, vocab, languages, hparams)

    test_set = WordsDataset(*parts["test"], vocab, languages)
    result = evaluate(model, test_set, device)
    print(
        f"\nTest accuracy: {result['accuracy']:.1%} on {len(test_set)} words (chance: {1 / len(languages):.0%})"
    )
    per_language, confusion, wrong = report(result, test_set, languages)
    if figures_on:
        draw_confusion(confusion, languages, hparams["cell"], args)
    predictions = []
    if predict is not None:
        print("\nWhich language?")
        predictions = predict_words(model, vocab, languages, predict, device)
    seconds = stopwatch.seconds()
    return {
        "task": "words",
        "cell": hparams["cell"],
        "epochs": epochs,
        "val_accuracies": val_accuracies,
        "test_accuracy": result["accuracy"],
        "per_language": per_language,
        "confusion": confusion.tolist(),
        "wrong": wrong,
        "predictions": predictions,
        "seconds": seconds,
        "device": str(device),
        "summary": f"words: test accuracy {result['accuracy']:.1%} ({hparams['cell']}, {seconds:.0f} s)",
    }


# =========================================================================== command line


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=None, lr=None, batch_size=BATCH_SIZE)
    parser.epilog = (
        f"Defaults by task: --epochs {EPOCHS} and --lr {LR} for words; for hello --lr {HELLO_LR} and at "
        f"most {HELLO_EPOCHS} epochs (it stops once it reads {HELLO_TARGET!r})."
    )
    kit.add_checkpoint_flags(parser)
    parser.add_argument("--task", choices=["words", "hello"], default="words", help="which lesson to run")
    parser.add_argument(
        "--cell", choices=sorted(CELLS), default=DEFAULT_CELL, help="words: the recurrent cell"
    )
    parser.add_argument("--predict", nargs="+", metavar="WORD", help="words: guess the language of each WORD")
    parser.add_argument(
        "--embedding", action="store_true", help="hello: nn.Embedding instead of one-hot inputs"
    )
    args = parser.parse_args(argv)
    if args.task == "hello" and (args.save or args.load or args.predict):
        raise kit.LessonError(
            "--save, --load and --predict belong to the words task; drop them or --task hello"
        )
    words = args.task == "words"
    args.epochs = args.epochs or (EPOCHS if words else HELLO_EPOCHS)
    args.lr = args.lr or (LR if words else HELLO_LR)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    figures_on = kit.start_figures(args)
    return run_words(args, device, figures_on) if words else run_hello(args, device)


if __name__ == "__main__":
    kit.run(main)
