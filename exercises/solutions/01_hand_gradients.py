"""Exercise 01: the gradients of a quadratic model by hand, then gradient descent with them.

Follows lesson 01 (lectures 2-4). Lesson 01 works with y_hat = x * w. Here the model has three weights,
y_hat = x**2 * w2 + x * w1 + b, and the loss of one sample is still the squared error (y_hat - y)**2.

1. gradients(): return d loss/d w2, d loss/d w1 and d loss/d b for one sample, worked out on paper with
   the chain rule as in lecture 4: loss <- (y_hat - y) <- y_hat <- each weight. No autograd here: the
   checker compares your three numbers with autograd's.
2. train(): gradient descent with your gradients, one sample at a time as in lecture 3, starting from
   w2 = w1 = b = 0. The checker makes 10 samples (x between -2 and 2) from three weights it draws at
   random, and train() must find those weights.

Check it: python exercises/check.py 01
"""


def forward(x, w2, w1, b):
    return x * x * w2 + x * w1 + b


def gradients(x, y, w2, w1, b):
    """(d loss/d w2, d loss/d w1, d loss/d b) for the one sample (x, y), as three numbers."""
    # ---- your code here ----
    d_loss_d_yhat = 2 * (forward(x, w2, w1, b) - y)  # the outer step: d/d y_hat of (y_hat - y)**2
    # The chain rule multiplies it by each weight's own local slope: d y_hat/d w2 = x**2,
    # d y_hat/d w1 = x and d y_hat/d b = 1.
    return d_loss_d_yhat * x * x, d_loss_d_yhat * x, d_loss_d_yhat


def train(x_data, y_data, lr=0.02, epochs=1000):
    """Gradient descent over the samples (x_data[i], y_data[i]); returns the learned (w2, w1, b)."""
    # ---- your code here ----
    w2, w1, b = 0.0, 0.0, 0.0
    for _ in range(epochs):
        for x, y in zip(x_data, y_data):
            d_w2, d_w1, d_b = gradients(x, y, w2, w1, b)  # all three at the same point, then step
            w2 -= lr * d_w2
            w1 -= lr * d_w1
            b -= lr * d_b
    return w2, w1, b
