"""Exercise 01b: another linear prediction problem and its cost graph (the slides' exercise 2-1).

Follows lesson 01 (lecture 2). Lecture 2 tries w from 0 to 4 on its three-sample data set, averages the
squared error of y_pred = x * w for each w, and draws that cost against w: a bowl whose lowest point is
the best w. The slide's exercise 2-1 asks for another linear prediction problem, with real data, and its
cost graph. Here it is Engel's food expenditure data (data/engel/engel.csv, PROVENANCE.md beside it):
235 Belgian working-class households in 1857, each one's yearly income and what it spent on food, in
francs. Engel noticed that food takes a share of the income; the model food = income * w says which.

1. load_data(path): the file's income column as x_data and its foodexp column as y_data (two lists of
   235 numbers, in the file's order; the first line of the file holds the column names).
2. cost(w, x_data, y_data): the mean squared error of y_pred = x * w over the data, lecture 2's MSE.
3. sweep(x_data, y_data): (w_list, cost_list), the cost for each w of a grid you choose. On Engel's data
   the grid must reach below and above the best w, and step finely enough (0.01 or less near the bottom)
   that its lowest point is within 0.01 of the exact answer (the checker works it out on paper).
4. lowest(w_list, cost_list): the w whose cost is lowest.
5. save_cost_graph(w_list, cost_list, path): draw the cost (y axis) against w (x axis), label both axes
   (w, and cost or loss), save the figure as a PNG file at path, and return the figure.
Work with numbers, lists, numpy or torch, as you like; PyTorch's mse_loss is not allowed here.

Run it to see your graph: python exercises/01b_cost_graph.py
Check it: python exercises/check.py 01b
"""

import csv

import matplotlib

matplotlib.use("Agg")  # draw into files, never a window: the checker runs without a screen
import matplotlib.pyplot as plt  # noqa: E402


def load_data(path):
    """(x_data, y_data): the income and foodexp columns of the CSV file at path, as two lists."""
    # ---- your code here ----
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))  # the header line gives the names: row["income"]
    return [float(row["income"]) for row in rows], [float(row["foodexp"]) for row in rows]


def cost(w, x_data, y_data):
    """The mean of (x * w - y)**2 over the data: lecture 2's MSE for this w."""
    # ---- your code here ----
    return sum((x * w - y) ** 2 for x, y in zip(x_data, y_data)) / len(x_data)


def sweep(x_data, y_data):
    """(w_list, cost_list): the cost of each w of a grid that brackets the lowest point finely."""
    # ---- your code here ----
    # A household cannot spend on food less than nothing or more than it earns, so the share w lies
    # between 0 and 1; steps of 0.005 find the bottom to within half a step.
    w_list = [i / 200 for i in range(201)]
    return w_list, [cost(w, x_data, y_data) for w in w_list]


def lowest(w_list, cost_list):
    """The w of w_list whose cost in cost_list is the lowest."""
    # ---- your code here ----
    return w_list[cost_list.index(min(cost_list))]


def save_cost_graph(w_list, cost_list, path):
    """Draw cost against w with labelled axes, save it as a PNG at path, return the figure."""
    # ---- your code here ----
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(w_list, cost_list)
    ax.set(xlabel="w (share of income spent on food)", ylabel="cost (MSE)", title="Cost against w")
    fig.savefig(path, format="png", bbox_inches="tight")  # tight: the labels stay inside the image
    return fig


if __name__ == "__main__":  # python exercises/01b_cost_graph.py: your sweep of Engel's data, and its graph
    import sys
    from pathlib import Path

    course = next(p for p in Path(__file__).resolve().parents if (p / "lesson_tools.py").is_file())
    sys.path.insert(0, str(course))
    import lesson_tools as kit  # it checks the data file against data/engel/SHA256SUMS

    x_data, y_data = load_data(kit.data_file("engel/engel.csv"))
    w_list, cost_list = sweep(x_data, y_data)
    best = lowest(w_list, cost_list)
    print(f"{len(x_data)} households; the cost is lowest at w = {best:.3f}: food took that share of income")
    path = Path("01b_cost_graph.png").resolve()
    save_cost_graph(w_list, cost_list, path)
    print(f"graph: {path}")
