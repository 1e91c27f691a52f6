"""Lecture 13_3: a character RNN writes new words one character at a time, in the language you ask for.

python 10_char_rnn.py                 # train, then write words in five languages
python 10_char_rnn.py --save          # ... and keep the model in checkpoints/10_char_rnn.pt
python 10_char_rnn.py --generate --language spanish --start ca -n 10   # words from the saved model
python 10_char_rnn.py --generate --temperature 1.5   # bolder words (0.3: safer ones)
python 10_char_rnn.py --quick         # a seconds-long smoke run on fewer words
python 10_char_rnn.py --help          # every flag

The lecture trains a GRU on Shakespeare's lines, lower-cased with the spaces taken out, to predict each
next character, then writes by sampling a
character and feeding it back in as the next input. We do the same with the course's word list
(data/words) instead: it ships with the course under free licences, it trains on a CPU in well under a
minute, and every word carries its language, so we can ask for a Polish word and check that it looks
Polish and is new.
"""

import csv
import math
import time

import lesson_tools as kit

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

LESSON = "10_char_rnn"
WORDS_FILE = "words/words.csv"
LANGUAGES = ["dutch", "english", "polish", "portuguese", "spanish"]  # those of data/words/words.csv
TRAIN_WORDS, VALIDATION_WORDS = 24_000, 3_000  # by position in the (already shuffled) file; the rest test
# The lecture's GRU has 3 layers of 100. With those an epoch took nearly 3 times as long, and 2 epochs
# reached 2.24 nats per character on the validation words; one layer of 128 reached 2.09 (measured).
HIDDEN_SIZE, LAYERS = 128, 1
EMBEDDING_SIZE = 32  # the lecture: 100, its hidden size; 16, 32 and 64 ended within 0.03 nats (measured)
# Adam, as in the lecture, but its lr 0.001 reached only 2.21 nats after 3 epochs (the lecture takes 100
# epochs of single lines, we take a few of batches). A one-cycle schedule (warm up, then anneal) peaking
# at 0.02 reached 2.072-2.082 on the test words in 2 epochs and 21-23 s; a constant 0.01 needed 3 epochs
# and 29-31 s for 2.066-2.072 (seeds 0-2, measured).
EPOCHS = 2
LR = 0.02
# Words per step. 64 took 30% longer for 0.02 nats; 256 was at 2.20 after the first epoch against 2.15, and
# about level after the third (measured).
BATCH_SIZE = 128
TEMPERATURE = 0.8  # the lecture's
MAX_LETTERS = 16  # the longest word in the list; a sample that gets there is cut off
NOVELTY_SAMPLES = 100  # words written per language at the end, to count how many are new
EVAL_BATCH = 500  # evaluation keeps no graph, so it takes bigger batches
# --quick: a short run needs steps more than words. 1,000 words in batches of 32 beat the bigram baseline
# by 0.18-0.19 nats per character; 2,000 words in batches of 128 by only 0.03-0.05 at a constant lr 0.01
# (seeds 0-2, measured).
QUICK_TRAIN, QUICK_EPOCHS, QUICK_BATCH = 1000, 2, 32
# Padding is token 0 (for padding_idx and ignore_index); <end> lets a written word stop by itself. The
# lecture scores all 128 ASCII codes and has no end token: its generate() writes a fixed 100 characters.
PAD, END = 0, 1


def read_words():
    """The (word, language) rows in the file's fixed shuffled order, split by position as in lesson 09:
    the same training, validation and test words for every run and every --seed."""
    with open(kit.data_file(WORDS_FILE), encoding="utf-8", newline="") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    end_of_validation = TRAIN_WORDS + VALIDATION_WORDS
    return rows[:TRAIN_WORDS], rows[TRAIN_WORDS:end_of_validation], rows[end_of_validation:]


class Vocabulary:
    """Token numbers: 0 padding, 1 end of word, then the characters, then one start token per language.
    The model scores only the tokens that can come next; a start token is always an input."""

    def __init__(self, chars: str, languages: list[str]):
        self.chars, self.languages = chars, list(languages)
        self.names = ["<pad>", "<end>", *chars, *(f"<{lang}>" for lang in languages)]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.n_outputs = len(chars) + 2  # padding, end and the characters

    @classmethod
    def from_words(cls, words: list[str], languages: list[str]) -> "Vocabulary":
        # the training words only: a character that only held-out words use must not leak in
        return cls("".join(sorted({c for word in words for c in word})), languages)

    def encode(self, word: str, language: str) -> torch.Tensor:
        """<language> c1 c2 ... cn <end>, as token numbers."""
        return torch.tensor([self.index[f"<{language}>"], *(self.index[c] for c in word), END])

    def decode(self, tokens: list[int]) -> str:
        """The characters before the first <end>."""
        return "".join(self.names[t] for t in tokens[: tokens.index(END) if END in tokens else None])


def make_batch(sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad encoded words to the longest, then shift by one as the lecture does (input = line[:-1],
    target = line[1:]): at every position the target is the token that comes next."""
    padded = pad_sequence(sequences, batch_first=True, padding_value=PAD)
    return padded[:, :-1], padded[:, 1:]


# Step 1: the model, the lecture's embedding -> GRU -> linear. Its first input is the language's start
# token, so one network learns five spelling systems and we can ask it for any one of them.
class CharRNN(nn.Module):
    def __init__(self, n_tokens: int, n_outputs: int, embedding_size: int, hidden_size: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(n_tokens, embedding_size, padding_idx=PAD)
        self.gru = nn.GRU(embedding_size, hidden_size, layers, batch_first=True)
        self.out = nn.Linear(hidden_size, n_outputs)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor | None = None):
        """tokens: (batch, steps). Returns a score for each possible next token at every step, and the
        hidden state: all that was read so far, which sampling passes back in with the next character."""
        output, hidden = self.gru(self.embed(tokens), hidden)
        return self.out(output), hidden


@torch.inference_mode()
def loss_per_char(model: CharRNN, sequences: list[torch.Tensor], device) -> float:
    """Mean cross-entropy in nats over every token to predict: each character and the <end>."""
    model.eval()
    total, count = 0.0, 0
    for inputs, targets in DataLoader(sequences, EVAL_BATCH, collate_fn=make_batch):
        logits, _ = model(inputs.to(device))
        targets = targets.to(device).flatten()
        total += F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=PAD, reduction="sum").item()
        count += (targets != PAD).sum().item()
    return total / count


def pairs(sequences: list[torch.Tensor], vocab: Vocabulary):
    """Every prediction in the sequences as (language, previous token, next token): three tensors."""
    language = torch.cat([torch.full((len(s) - 1,), s[0].item() - vocab.n_outputs) for s in sequences])
    return language, torch.cat([s[:-1] for s in sequences]), torch.cat([s[1:] for s in sequences])


def bigram_table(sequences: list[torch.Tensor], vocab: Vocabulary) -> torch.Tensor:
    """The baseline to beat: log P(next | language, previous token), counted in the training words.

    Add-one (Laplace) smoothing gives every token that can follow one made-up sighting, so that a pair
    training never saw is unlikely rather than impossible. Unlike the GRU, which must remember the
    language from its first input, the table is told the language at every step.
    """
    counts = torch.zeros(len(vocab.languages), len(vocab.names), vocab.n_outputs)
    counts.index_put_(pairs(sequences, vocab), torch.tensor(1.0), accumulate=True)
    counts[:, :, END:] += 1  # every token but padding
    return (counts / counts.sum(dim=-1, keepdim=True)).log()


@torch.inference_mode()
def write_words(model, vocab: Vocabulary, language: str, n: int, temperature: float, device, start=""):
    """n words at once, as the lecture's generate() writes one: read the start token and `start` (this
    primes the hidden state), then sample a character from softmax(scores / temperature), feed it back
    in, and repeat until <end>."""
    model.eval()
    prompt = vocab.encode(start, language)[:-1]  # <language> and the start letters, without <end>
    logits, hidden = model(prompt.repeat(n, 1).to(device))
    sampled = []
    for _ in range(max(MAX_LETTERS - len(start), 0) + 1):  # + 1: room for the <end>
        # A temperature below 1 sharpens the odds towards the likeliest character; above 1 flattens them.
        # In float64, after subtracting the top score, no temperature that --temperature accepts overflows.
        scores = logits[:, -1].cpu().double()
        scores[:, PAD] = -math.inf  # padding is not a character
        scores = (scores - scores.max(dim=1, keepdim=True).values) / temperature
        token = torch.multinomial(scores.softmax(dim=1), 1)
        sampled.append(token)
        if (torch.cat(sampled, dim=1) == END).any(dim=1).all():
            break
        logits, hidden = model(token.to(device), hidden)
    # The last step was room for <end> only: a word still going there is cut at MAX_LETTERS.
    return [
        (start + vocab.decode(row))[: max(MAX_LETTERS, len(start))]
        for row in torch.cat(sampled, dim=1).tolist()
    ]


def show_shift(vocab: Vocabulary, word: str, language: str) -> None:
    inputs, targets = make_batch([vocab.encode(word, language)])
    columns = [(vocab.names[i], vocab.names[t]) for i, t in zip(inputs[0].tolist(), targets[0].tolist())]
    widths = [max(len(i), len(t)) for i, t in columns]
    print(f'One training word, "{word}" ({language}), as the model sees it: the target is the next token')
    print("   input : " + " ".join(i.ljust(w) for (i, _), w in zip(columns, widths)))
    print("   target: " + " ".join(t.ljust(w) for (_, t), w in zip(columns, widths)))


def train_and_write(args, device, figures_on: bool) -> dict:
    train_rows, val_rows, test_rows = read_words()
    if args.quick:
        train_rows, args.epochs = train_rows[:QUICK_TRAIN], min(args.epochs, QUICK_EPOCHS)
        args.batch_size = min(args.batch_size, QUICK_BATCH)
    vocab = Vocabulary.from_words([word for word, _ in train_rows], LANGUAGES)
    print(
        "The lecture learns from Shakespeare. We learn from the course's own words in five languages:\n"
        "small, shipped with the course, and labelled, so that a word written 'in Polish' can be checked.\n"
        f"{len(train_rows)} training words, {len(val_rows)} validation, {len(test_rows)} test; "
        f"{len(vocab.chars)} characters: {vocab.chars}\n"
    )
    show_shift(vocab, *train_rows[0])
    train_set = [vocab.encode(word, lang) for word, lang in train_rows]
    # A held-out word with a character that training never saw cannot be scored: left out of both scores.
    val_set, test_set = (
        [vocab.encode(word, lang) for word, lang in part if set(word) <= set(vocab.chars)]
        for part in (val_rows, test_rows)
    )
    bigram = bigram_table(train_set, vocab)
    bigram_val, bigram_test = (-bigram[pairs(part, vocab)].mean().item() for part in (val_set, test_set))
    left_out = len(val_rows) + len(test_rows) - len(val_set) - len(test_set)
    print(
        f"\nBaseline: a bigram table, P(next | language, previous character), scores {bigram_val:.3f} nats "
        f"per character on the validation words{f' ({left_out} held-out words left out)' * bool(left_out)}"
    )

    model = CharRNN(len(vocab.names), vocab.n_outputs, EMBEDDING_SIZE, HIDDEN_SIZE, LAYERS).to(device)
    print(
        f"\nGRU: embedding {EMBEDDING_SIZE}, hidden {HIDDEN_SIZE}, {LAYERS} layer{'s' * (LAYERS > 1)}; "
        f"{args.epochs} epochs, batch {args.batch_size}, Adam one-cycle, peak lr {args.lr:g}, on {device}"
    )
    # Step 2: cross-entropy of the next token at every position (ignore_index skips the padding), averaged
    # over the tokens where the lecture adds up a line's characters, and the lecture's Adam with a one-cycle
    # schedule (see LR above).
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    batches = DataLoader(train_set, args.batch_size, shuffle=True, collate_fn=make_batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(batches)
    )

    # Step 3: the training cycle, on batches of words. The input is always the true previous character
    # (teacher forcing, as the lecture's train_teacher_forching does, batched), so one call predicts every
    # position of every word. The lecture's loop calls its train() instead, which feeds back its own guess
    # (output.max(1)[1]) one step at a time. Padding comes after <end>, and a GRU reads left to right, so it
    # never sees padding before a real character.
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for inputs, targets in batches:
            inputs, targets = inputs.to(device), targets.to(device)
            logits, _ = model(inputs)
            loss = criterion(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        train_loss = total / len(batches)
        kit.stop_if_diverged(train_loss, args.lr, f"at epoch {epoch}", reference=math.log(vocab.n_outputs))
        seconds = time.perf_counter() - started
        val_loss = loss_per_char(model, val_set, device)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds})
        words = [write_words(model, vocab, lang, 1, args.temperature, device)[0] for lang in LANGUAGES]
        print(
            f"   epoch {epoch}   train loss {train_loss:.3f}   validation {val_loss:.3f} nats/char = "
            f"{val_loss / math.log(2):.2f} bits (bigram {bigram_val:.3f})   {seconds:.1f} s\n"
            f"      " + "   ".join(f"{lang}: {word}" for lang, word in zip(LANGUAGES, words))
        )

    test_loss = loss_per_char(model, test_set, device)
    print(
        f"\nTest words, nats per character: GRU {test_loss:.3f}, bigram {bigram_test:.3f} "
        f"(in bits: {test_loss / math.log(2):.2f} and {bigram_test / math.log(2):.2f})"
    )
    samples = {
        lang: write_words(model, vocab, lang, NOVELTY_SAMPLES, args.temperature, device) for lang in LANGUAGES
    }
    written, trained_on = [word for words in samples.values() for word in words], {w for w, _ in train_rows}
    novel = sum(word not in trained_on for word in written) / len(written)
    print(
        f"{novel:.0%} of {len(written)} samples at temperature {args.temperature:g} are not training words:"
    )
    for lang, words in samples.items():
        print(f"   {lang:10} {' '.join(words[:8])}")
    if args.save:
        sizes = {"embedding_size": EMBEDDING_SIZE, "hidden_size": HIDDEN_SIZE, "layers": LAYERS}
        kit.save_checkpoint(args.save, LESSON, model, vocabulary=vocab.chars, languages=LANGUAGES, **sizes)
    if figures_on:
        draw_losses(history, bigram_val, args)
    return {
        "test_loss_per_char": test_loss,
        "bigram_loss_per_char": bigram_test,
        "novel_share": novel,
        "samples": samples,
        "vocabulary": vocab.chars,
        "history": history,
        "device": str(device),
        "summary": f"test {test_loss:.3f} nats/char, bigram {bigram_test:.3f}; {novel:.0%} of samples new",
    }


def draw_losses(history: list[dict], bigram_val: float, args) -> None:
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="GRU, training words (epoch mean)")
    ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="GRU, validation words")
    ax.axhline(bigram_val, linestyle=":", color="gray", label="bigram table, validation words")
    ax.set(xlabel="epoch", ylabel="nats per character", title="Cross-entropy of the next character")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below the plot, clear of every line
    kit.save_figure(fig, "10_char_rnn_loss", args)


def generate(args, device) -> dict:
    """Words from a saved model: no data and no training."""
    path = args.load or kit.saved_checkpoint(LESSON)
    if path is None or not path.exists():
        where = f" {kit.shown(path)}" if path else ""
        raise kit.LessonError(
            f"no saved model {'at' + where if path else 'yet'}: "
            f"make one with: python 10_char_rnn.py --save{where}"
        )
    checkpoint = kit.load_checkpoint(path, LESSON)
    vocab = Vocabulary(checkpoint["vocabulary"], checkpoint["languages"])
    sizes = (checkpoint["embedding_size"], checkpoint["hidden_size"], checkpoint["layers"])
    model = CharRNN(len(vocab.names), vocab.n_outputs, *sizes)
    kit.load_weights(model, checkpoint, path)
    model.to(device)
    start = (args.start or "").lower()  # the words are lower case
    if unknown := sorted(set(start) - set(vocab.chars)):
        raise kit.LessonError(
            f"--start {args.start!r}: the model never saw {' '.join(unknown)} in training; "
            f"it knows {vocab.chars}"
        )
    print(f"Words from {kit.shown(path)} at temperature {args.temperature:g}:")
    samples = []
    for lang in [args.language] if args.language else vocab.languages:
        words = write_words(model, vocab, lang, args.n, args.temperature, device, start)
        print(f"   {lang:10} {' '.join(words)}")
        samples += words
    return {"samples": samples, "summary": f"{len(samples)} words: {' '.join(samples[:5])} ..."}


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    kit.add_checkpoint_flags(parser, LESSON)
    parser.add_argument(
        "--temperature", type=kit.positive_float, default=TEMPERATURE, help="below 1 safer, above 1 bolder"
    )
    parser.add_argument("--generate", action="store_true", help="write words with a saved model")
    parser.add_argument("--language", choices=LANGUAGES, help="with --generate: this language only")
    parser.add_argument("--start", help="with --generate: the letters every word begins with")
    parser.add_argument("-n", type=kit.positive_int, default=10, help="with --generate: words per language")
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    saved = args.generate or args.load
    if args.save and saved:
        raise kit.LessonError("--save keeps the model a run trains; --generate and --load train none")
    if (args.language or args.start) and not saved:
        raise kit.LessonError("--language and --start go with --generate, which writes with a saved model")
    return generate(args, device) if saved else train_and_write(args, device, kit.start_figures(args))


if __name__ == "__main__":
    kit.run(main)
