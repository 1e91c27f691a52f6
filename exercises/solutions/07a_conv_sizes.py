"""Exercise 07a: the output size of a convolution and of max pooling.

Follows lesson 07 (lectures 10-11). Lesson 07's shapes shrink 28x28 -> 24x24 (a 5x5 convolution) ->
12x12 (2x2 max pooling). A filter of kernel_size slides over the input, padded with `padding` zeros on
each side, `stride` places at a time, and is applied only where it fits whole; each place it is applied
gives one output value.

1. conv_output_size(size, kernel_size, stride, padding): the height (or width) of nn.Conv2d's output for
   an input of that height (or width), as an int.
2. pool_output_size(size, kernel_size, stride, padding): the same for nn.MaxPool2d, whose stride is
   kernel_size when none is given (stride=None).

The checker compares your sizes with real nn.Conv2d and nn.MaxPool2d outputs for settings it draws.

Check it: python exercises/check.py 07a
"""


def conv_output_size(size, kernel_size, stride=1, padding=0):
    # ---- your code here ----
    # The padded input has size + 2 * padding places. The filter's first place uses kernel_size of them;
    # each further place needs stride more, and a place that would run past the end is skipped: floor.
    return (size + 2 * padding - kernel_size) // stride + 1


def pool_output_size(size, kernel_size, stride=None, padding=0):
    # ---- your code here ----
    if stride is None:
        stride = kernel_size  # pooling windows side by side, not overlapping
    return conv_output_size(size, kernel_size, stride, padding)  # the window slides like a filter
