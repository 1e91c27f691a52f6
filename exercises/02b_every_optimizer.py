"""Exercise 02b: every optimizer the slide lists, in one training loop (the slides' exercise 5-1).

Follows lesson 02 (lecture 5). Slide 5-1 says: try other optimizers, and names eight of torch.optim's:
Adagrad, Adam, Adamax, ASGD, LBFGS, RMSprop, Rprop and SGD. Each one takes the model's parameters and
its own settings, above all a learning rate that suits it; the training loop stays the same for all of
them if each step is given a closure (LBFGS needs one: it evaluates the loss several times per step;
the others call it once). Exercise 02 wrote that loop for three optimizers; here it serves all eight.

1. make_optimizer(name, params): the optimizer of torch.optim called `name` (one of NAMES) on params,
   with settings you choose so that it reaches the least-squares fit within 60 steps on the data below.
2. compare(x_data, y_data, steps): for each name in NAMES, a fresh Model, its optimizer from
   make_optimizer, and exactly `steps` optimizer steps on criterion (the mean squared error), all in one
   loop. Return a dict from each name to its trained model. Printing each one's final loss is a good idea.
The checker draws noisy points near a line (x between -2 and 2, 60 to 80 steps). Each model must end
with a loss within 2% (of 1 + the variance of y) of the least-squares fit's, the best any line can do.

Check it: python exercises/check.py 02b
"""

import torch  # noqa: F401  (torch.optim)
from torch import nn

NAMES = ["Adagrad", "Adam", "Adamax", "ASGD", "LBFGS", "RMSprop", "Rprop", "SGD"]  # slide 5-1's list


class Model(nn.Module):  # lesson 02's model: y_pred = x * w + b
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


criterion = nn.MSELoss()


def make_optimizer(name, params):
    """torch.optim's optimizer called name, on params, with settings that reach the fit in 60 steps."""
    # ---- your code here ----
    raise NotImplementedError


def compare(x_data, y_data, steps):
    """{name: a fresh Model trained for `steps` steps by make_optimizer(name, ...)} for every name in NAMES."""
    # ---- your code here ----
    raise NotImplementedError
