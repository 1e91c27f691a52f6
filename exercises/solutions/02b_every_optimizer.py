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

import torch
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
    # Each optimizer's own learning rate: the defaults suit long runs on big models (Adam's 0.001 would
    # need thousands of steps here), and SGD's step also depends on the size of the inputs.
    settings = {
        "Adagrad": dict(lr=1.0),  # its steps shrink as squared gradients pile up, so it starts big
        "Adam": dict(lr=0.2),
        "Adamax": dict(lr=0.3),
        "ASGD": dict(lr=0.1),  # SGD that also keeps an average of the weights it visits
        "LBFGS": dict(line_search_fn="strong_wolfe"),  # finds its own step length along each direction
        "RMSprop": dict(lr=0.1),
        "Rprop": dict(),  # only the sign of the gradient counts; its default step sizes adapt by themselves
        "SGD": dict(lr=0.1),
    }
    return getattr(torch.optim, name)(params, **settings[name])


def compare(x_data, y_data, steps):
    """{name: a fresh Model trained for `steps` steps by make_optimizer(name, ...)} for every name in NAMES."""
    # ---- your code here ----
    models = {}
    for name in NAMES:
        model = Model()  # a fresh start for each optimizer, or each would continue the last one's work
        optimizer = make_optimizer(name, model.parameters())
        loss = train(model, optimizer, x_data, y_data, steps)
        print(f"{name:>8}: loss {loss.item():.4f} after {steps} steps")
        models[name] = model
    return models


def train(model, optimizer, x_data, y_data, steps):
    """`steps` steps of any optimizer on the loss of model; returns the last loss."""

    def closure():
        optimizer.zero_grad()  # backward() adds to .grad, and LBFGS calls this several times per step
        loss = criterion(model(x_data), y_data)
        loss.backward()
        return loss

    for _ in range(steps):
        loss = optimizer.step(closure)  # every optimizer hands back the closure's loss
    return loss
