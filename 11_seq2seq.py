"""Lecture 14: sequence to sequence: an encoder reads a date as people write it, a decoder writes it as ISO.

python 11_seq2seq.py                # encoder and decoder (the lecture's 14_1): one summary of the input
python 11_seq2seq.py --attention    # the lecture's 14_2: the decoder looks back at every input character
python 11_seq2seq.py --quick        # a seconds-long smoke run on fewer dates
python 11_seq2seq.py --help         # every flag

The lecture turns lower-cased Shakespeare lines without spaces back into the original lines. We turn "thu 26.11.2026"
or "Nov 26th, 2026" into "2026-11-26". The dates are generated here, so there is nothing to download;
every answer can be checked exactly; the inputs run from 8 to 37 characters, so we can see what length
does; and it is read and written one character at a time, like the lecture's.
"""

import math
import random
import time
from datetime import date, timedelta

import lesson_tools as kit

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader

DATA_SEED = 14  # the dates and their spellings are the same at every --seed; only the training varies
FIRST_DAY, LAST_DAY = date(1950, 1, 1), date(2049, 12, 31)
TEST_DATES = 2000  # calendar days that training never sees, in any spelling; each is written once
TRAIN_PAIRS = 20000  # 15,000 left two seeds of three at 92-93% with attention
# EPOCHS, LR and TRAIN_PAIRS were chosen for --attention; without it the same settings reached 9% exact
# match (README, "11: without and with attention"): one summary vector is what holds it back.
EPOCHS = 3
LR = 0.02  # Adam's one-cycle peak: 0.01 stopped at 91-93% in 3 epochs, 0.02 reached 98-100%, 0.03 97-100%
BATCH_SIZE = 128  # a CPU spends a small batch mostly on overhead: 64 costs 1.5 times as much per pair
# The lecture: hidden 100 (14_1) and 128 (14_2), each embedding as wide as the hidden state. Here one size
# for both runs, so that they differ only in attention; 64 is plenty for 57 input characters.
EMBEDDING = 16
HIDDEN = 64  # 32 was no faster, for the same reason
QUICK_PAIRS, QUICK_EPOCHS, QUICK_BATCH, QUICK_TEST = 2000, 2, 64, 500  # --quick: more, smaller steps
LENGTH_BUCKETS = ((8, 10), (11, 14), (15, 20), (21, 28), (29, 37))  # input lengths, for the accuracy table
EXAMPLES = 8  # held-out translations printed after training

# English names from these lists, not from strftime, whose names follow the computer's language setting
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def nth(day: int) -> str:
    return f"{day}{'th' if 10 < day < 14 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


# Nine ways to write date d. No two put day and month in the same places with the same separator, so
# each string has one meaning. A 2-digit year yy means 20yy below 50 and 19yy from 50 on: exactly the
# range 1950-2049, so no input is ambiguous.
FORMATS = [
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day:02}/{d.month:02}/{d.year % 100:02}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {nth(d.day)}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3].lower()} {d.year}",
    lambda d: f"{d.year}/{d.month:02}/{d.day:02}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()][:3].lower()} {d.day}.{d.month}.{d.year}",
    lambda d: f"{d.day}-{MONTHS[d.month - 1][:3].upper()}-{d.year % 100:02}",
    lambda d: f"{WEEKDAYS[d.weekday()]} the {nth(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
]
# Every character any format writes (a whole year of dates has them all); index 0 is the padding.
IN_CHARS = sorted({c for f in FORMATS for n in range(366) for c in f(date(2000, 1, 1) + timedelta(n))})
IN_INDEX = {c: i + 1 for i, c in enumerate(IN_CHARS)}
PAD = 0
# The decoder writes digits and "-", then EOS to say it is done; it starts from SOS, as in the lecture.
OUT_CHARS = "0123456789-"
SOS, EOS = len(OUT_CHARS), len(OUT_CHARS) + 1
N_OUT = len(OUT_CHARS) + 2
OUT_STEPS = len("YYYY-MM-DD") + 1  # every answer has this length, EOS included, so outputs need no padding


def make_pairs(n_train: int, seed: int = DATA_SEED) -> dict[str, list[tuple[str, str]]]:
    """(written date, ISO date) pairs. The test dates are a random set of calendar days kept out of
    training altogether, so a right answer is a date the model worked out, not one it remembers."""
    rng = random.Random(seed)
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    test_days = set(rng.sample(days, TEST_DATES))
    test = [(rng.choice(FORMATS)(d), d.isoformat()) for d in sorted(test_days)]
    train_days = [d for d in days if d not in test_days]
    train = [(rng.choice(FORMATS)(d), d.isoformat()) for d in rng.choices(train_days, k=n_train)]
    return {"train": train, "test": test}


def encode(pairs):
    """Each pair -> (the input's character indices, the output: SOS, the 10 characters, EOS)."""
    inputs = [torch.tensor([IN_INDEX[c] for c in text]) for text, _ in pairs]
    outputs = torch.tensor([[SOS, *(OUT_CHARS.index(c) for c in iso), EOS] for _, iso in pairs])
    return list(zip(inputs, outputs))


def collate(batch):
    """Pads the inputs to the batch's longest and keeps their true lengths; splits each output into what
    the decoder reads (SOS and the true characters) and what it must write (the same, one step on)."""
    inputs, outputs = zip(*batch)
    lengths = torch.tensor([len(x) for x in inputs])  # on the CPU, where pack_padded_sequence wants them
    outputs = torch.stack(outputs)
    return pad_sequence(inputs, batch_first=True, padding_value=PAD), lengths, outputs[:, :-1], outputs[:, 1:]


# Step 1: the models. The encoder turns the input into vectors, the decoder turns vectors into the output.
class Encoder(nn.Module):
    """One vector per input position (for attention), and a summary of it all (the decoder's start).

    The lecture's GRU reads left to right only. At the "M" of "May" it cannot yet tell May from March, nor
    at the "2" of "2nd" whether another digit follows: with attention it confused Mar/May, Apr/Aug and
    Jan/Jun/Jul and scored 85-92% (measured, seeds 0-2). Reading both ways (bidirectional=True), every
    position knows its neighbours on either side, and the same training reaches 98-100%.
    """

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(len(IN_CHARS) + 1, EMBEDDING, padding_idx=PAD)
        self.gru = nn.GRU(EMBEDDING, HIDDEN // 2, batch_first=True, bidirectional=True)

    def forward(self, chars, lengths):
        # Packing (lesson 09) starts and stops each direction at the input's own ends, never in padding.
        packed = pack_padded_sequence(self.embed(chars), lengths, batch_first=True, enforce_sorted=False)
        outputs, hidden = self.gru(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=chars.shape[1])
        # The forward direction's last state has read the input left to right, the backward one's right to
        # left: side by side, they are the summary the decoder starts from (the lecture's encoder_hidden).
        summary = torch.cat([hidden[0], hidden[1]], dim=1)
        return outputs, summary.unsqueeze(0)  # (batch, steps, HIDDEN) and (1, batch, HIDDEN)


class Decoder(nn.Module):
    """Writes one character per step, starting from the encoder's summary (14_1); with attention (14_2)
    it also looks back at every input position before choosing each character."""

    def __init__(self, attention: bool):
        super().__init__()
        self.embed = nn.Embedding(N_OUT, EMBEDDING)
        self.gru = nn.GRU(EMBEDDING, HIDDEN, batch_first=True)
        self.attn = nn.Linear(HIDDEN, HIDDEN, bias=False) if attention else None
        self.out = nn.Linear(2 * HIDDEN if attention else HIDDEN, N_OUT)

    def forward(self, previous, hidden, encoder_outputs, real):
        """previous: (batch, steps) the characters read; real: (batch, in steps), False on padding."""
        h, hidden = self.gru(self.embed(previous), hidden)
        if self.attn is None:
            return self.out(h), hidden, None
        # The lecture's score h . (W h_e) for every output step and input position: how useful is input
        # character j for the character about to be written? Its get_att_weight loops over the positions;
        # one matrix product scores them all. (Its Linear has a bias, but h . b is the same for every
        # position, and the softmax below cancels it: bias=False above.)
        scores = h @ self.attn(encoder_outputs).transpose(1, 2)  # (batch, out steps, in steps)
        # Padding is no character at all: a score of -inf becomes a weight of exactly 0, and the weights
        # of the real characters add up to 1.
        weights = scores.masked_fill(~real.unsqueeze(1), float("-inf")).softmax(dim=-1)
        context = weights @ encoder_outputs  # the weighted average of the input's vectors
        return self.out(torch.cat([h, context], dim=-1)), hidden, weights


class Seq2Seq(nn.Module):
    """Holds both halves, so model.parameters() is the lecture's list(encoder.parameters()) +
    list(decoder.parameters()); Decoder(attention=True) is its AttnDecoderRNN."""

    def __init__(self, attention: bool):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder(attention)

    def start(self, chars, lengths):
        encoder_outputs, hidden = self.encoder(chars, lengths)
        real = torch.arange(chars.shape[1], device=chars.device) < lengths.to(chars.device).unsqueeze(1)
        return encoder_outputs, hidden, real

    def forward(self, chars, lengths, decoder_inputs):
        """Teacher forcing: every step reads the TRUE previous character, so all steps run in one call."""
        encoder_outputs, hidden, real = self.start(chars, lengths)
        logits, _, weights = self.decoder(decoder_inputs, hidden, encoder_outputs, real)
        return logits, weights

    def translate(self, chars, lengths):
        """Greedy decoding: each step reads the model's OWN previous guess, as it must on a new input.
        The lecture samples with a temperature; the likeliest character (argmax) is its temperature 0."""
        encoder_outputs, hidden, real = self.start(chars, lengths)
        previous = torch.full((len(chars), 1), SOS, device=chars.device)
        guesses, weights = [], []
        for _ in range(OUT_STEPS):
            logits, hidden, step_weights = self.decoder(previous, hidden, encoder_outputs, real)
            previous = logits.argmax(dim=-1)
            guesses.append(previous)
            weights.append(step_weights)
        return torch.cat(guesses, dim=1), None if weights[0] is None else torch.cat(weights, dim=1)


def evaluate(model, items, device) -> dict:
    """Greedy translations; a date counts as right only if all 10 characters and the EOS are."""
    model.eval()
    chars, lengths, _, targets = collate(items)
    with torch.inference_mode():
        guesses, weights = model.translate(chars.to(device), lengths)
    right = guesses.cpu() == targets
    return {
        "exact": right.all(dim=1),
        "chars": right.float().mean().item(),
        "guesses": guesses.cpu(),
        "weights": weights,
    }


def text_of(guess) -> str:
    """Output indices -> text, up to the first EOS."""
    chars = guess.tolist()
    chars = chars[: chars.index(EOS)] if EOS in chars else chars
    return "".join(OUT_CHARS[c] if c < len(OUT_CHARS) else "?" for c in chars)


def accuracy_by_length(texts, exact) -> dict[str, float]:
    print("Exact match by input length:")
    table = {}
    for low, high in LENGTH_BUCKETS:
        inside = torch.tensor([low <= len(text) <= high for text in texts])
        table[f"{low}-{high}"] = exact[inside].float().mean().item()
        print(f"   {low:2d}-{high} characters  {table[f'{low}-{high}']:6.1%}   ({int(inside.sum())} dates)")
    return table


def draw_attention(text, guess, weights, args) -> None:
    """The weights while writing one date: a row per written character, a column per input character."""
    import matplotlib.pyplot as plt

    written = [*text_of(guess), "EOS"]
    fig, ax = plt.subplots(figsize=(0.25 * len(text) + 2, 0.25 * len(written) + 1.5))
    ax.imshow(weights[: len(written), : len(text)].cpu().numpy(), cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(len(text)), [c if c != " " else "␣" for c in text])
    ax.set_yticks(range(len(written)), written)
    ax.set(xlabel="input", ylabel="written", title="Attention: where the decoder looks for each character")
    kit.save_figure(fig, "11_seq2seq_attention", args)


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument("--attention", action="store_true", help="14_2: look back at every input character")
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    n_train, epochs, batch_size, n_test = TRAIN_PAIRS, args.epochs, args.batch_size, TEST_DATES
    if args.quick:
        n_train, epochs, n_test = QUICK_PAIRS, min(epochs, QUICK_EPOCHS), QUICK_TEST
        batch_size = min(batch_size, QUICK_BATCH)
    data = make_pairs(n_train)
    test = data["test"][:: TEST_DATES // n_test]  # every 4th with --quick: still 1950 to 2049
    ways = [f(date(2026, 11, 26)) for f in FORMATS]
    print(f"Dates as people write them -> ISO 8601 (YYYY-MM-DD). 26 November 2026, {len(FORMATS)} ways:")
    print("   " + " · ".join(ways[:5]) + "\n   " + " · ".join(ways[5:]))
    print(f"{n_train} training pairs; {len(test)} held-out dates that training never sees, in any format")
    train_items, test_items = encode(data["train"]), encode(test)
    # The lecture trains on one pair at a time and warns that this is extremely slow: here a batch of
    # pairs, padded to its longest input, goes through at once. Batches sorted by length would pad less,
    # but each would hold only one or two formats: training then stalled at 89%, shuffled it reached 100%.
    loader = DataLoader(train_items, batch_size, shuffle=True, collate_fn=collate)
    model = Seq2Seq(args.attention).to(device)
    how = "WITH attention (14_2)" if args.attention else "WITHOUT attention (14_1): only the summary"
    print(f"Encoder GRU (both ways) -> decoder GRU {how}; hidden {HIDDEN}, batch {batch_size}, on {device}")

    # Step 2: cross-entropy over the output characters at every step, averaged (the lecture sums the steps:
    # the mean keeps the loss, and so the learning rate, the same whatever the answer's length). Adam as in
    # the lecture, at a higher rate in a one-cycle schedule (warm up, then anneal to almost 0; lesson 07).
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=epochs * len(loader))

    # Step 3: the training cycle. Teacher forcing: in training the decoder reads the TRUE previous character
    # at every step, whatever it guessed, so one early mistake does not spoil what the later steps learn.
    # A new input has no true characters to read: the test decodes greedily, each step reading the model's
    # own previous guess, and exact match counts the dates it gets right in every character.
    print(
        "Training reads the TRUE previous character at each step (teacher forcing); the test reads the\n"
        "model's OWN previous guess (greedy decoding), and only a date right in every character counts."
    )
    history = []
    for epoch in range(1, epochs + 1):
        started, total = time.perf_counter(), 0.0
        model.train()
        for chars, lengths, decoder_inputs, targets in loader:
            logits, _ = model(chars.to(device), lengths, decoder_inputs.to(device))
            loss = criterion(logits.flatten(0, 1), targets.to(device).flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        # a blind guess, the same odds for every output character, scores log(N_OUT) at every step
        kit.stop_if_diverged(total / len(loader), args.lr, f"at epoch {epoch}", reference=math.log(N_OUT))
        result = evaluate(model, test_items, device)
        exact = result["exact"].float().mean().item()
        row = {"epoch": epoch, "train_loss": total / len(loader), "test_exact_match": exact}
        history.append(
            {**row, "test_char_accuracy": result["chars"], "seconds": time.perf_counter() - started}
        )
        print(
            f"   epoch {epoch}   train loss {row['train_loss']:.4f}   held-out exact match {exact:6.1%}"
            f"   (characters {result['chars']:.1%})   {history[-1]['seconds']:.1f} s"
        )

    print("Held-out dates, translated greedily:")
    texts, examples = [text for text, _ in test], []
    picks = [*range(0, len(test), len(test) // EXAMPLES)][:EXAMPLES]
    wrong = [i for i, right in enumerate(result["exact"].tolist()) if not right]
    if wrong and result["exact"][picks].all():
        picks[-1] = wrong[0]  # show a mistake when there is one
    for i in picks:
        output, iso = text_of(result["guesses"][i]), test[i][1]
        examples.append({"input": texts[i], "output": output, "target": iso, "right": output == iso})
        mark = "✓" if output == iso else f"✗ (right: {iso})"
        print(f"   {texts[i]:36} -> {output}  {mark}")
    table = accuracy_by_length(texts, result["exact"])
    if args.attention and kit.start_figures(args):
        i = max(range(len(texts)), key=lambda i: len(texts[i]))  # the longest input shows the most
        draw_attention(texts[i], result["guesses"][i], result["weights"][i], args)
    mode = "with attention" if args.attention else "without attention"
    return {
        "attention": args.attention,
        "test_exact_match": exact,  # a fraction, 0 to 1, as are the accuracies below
        "test_char_accuracy": result["chars"],
        "accuracy_by_length": table,
        "history": history,
        "examples": examples,
        "device": str(device),
        "summary": f"{mode}: held-out exact match {exact:.1%} ({result['chars']:.1%} of characters)",
    }


if __name__ == "__main__":
    kit.run(main)
