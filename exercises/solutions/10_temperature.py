"""Exercise 10: sampling the next character with a temperature.

Follows lesson 10 (lecture 13). A character RNN gives a score for every possible next character. To
write, lesson 10 divides the scores by a temperature T, turns them into probabilities with a softmax, and
draws one character from them. T below 1 makes the likeliest characters likelier still (safer, duller
words); T above 1 evens the odds out (bolder, stranger words); T = 1 keeps the model's own odds.

1. temperature_probabilities(scores, temperature): softmax(scores / temperature) over a 1-D tensor of
   scores, safe for scores like 1000.
2. sample(scores, temperature, n, generator): n character numbers (a 1-D int64 tensor) drawn with
   replacement from those probabilities, with torch.multinomial and the given torch.Generator, so that a
   seeded generator repeats the same draws.

The checker compares your probabilities with its own and counts what your sample() draws.

Check it: python exercises/check.py 10
"""

import torch


def temperature_probabilities(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    # ---- your code here ----
    # Dividing by T < 1 stretches the gaps between scores, so the softmax favours the top one more.
    return torch.softmax(scores / temperature, dim=0)  # softmax subtracts the largest score itself


def sample(scores: torch.Tensor, temperature: float, n: int, generator: torch.Generator) -> torch.Tensor:
    # ---- your code here ----
    probabilities = temperature_probabilities(scores, temperature)
    return torch.multinomial(probabilities, n, replacement=True, generator=generator)
