"""Exercise 02: one training loop for every optimizer in torch.optim, LBFGS included.

Follows lesson 02 (lecture 5). The lecture ends by pointing at torch.optim's other optimizers: Adagrad,
Adam, LBFGS, RMSprop, SGD. Most of them need only optimizer.step(). LBFGS looks at the loss several times
in one step, so its step() must be given a closure: a function that clears the gradients, computes the
loss, calls backward() and returns the loss. The others accept a closure too.

Write train(): `steps` optimizer steps on the mean squared error of model on (x_data, y_data), with
whichever optimizer it is given. The checker runs it with SGD, Adam and LBFGS on noisy data it draws, and
each run must end at the least-squares fit, the best any weights can do.

Check it: python exercises/check.py 02
"""

import torch
from torch import nn


# Exercise 01's model the PyTorch way: y_hat = x**2 * w2 + x * w1 + b.
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)  # the weights w2 and w1, and the bias b

    def forward(self, x):
        return self.linear(torch.cat([x * x, x], dim=1))


criterion = nn.MSELoss()  # the mean of the squared errors, as in lesson 02


def train(model, x_data, y_data, optimizer, steps):
    """`steps` steps of optimizer on the loss of model on (x_data, y_data): any optimizer, LBFGS too."""

    # ---- your code here ----
    def closure():
        optimizer.zero_grad()  # backward() adds to .grad, and LBFGS calls this several times per step
        loss = criterion(model(x_data), y_data)
        loss.backward()
        return loss  # LBFGS compares losses to choose how far to go

    for _ in range(steps):
        optimizer.step(closure)  # SGD and Adam call closure once, LBFGS as often as it needs
