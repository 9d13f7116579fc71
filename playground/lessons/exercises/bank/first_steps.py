"""Lessons 1 and 2's exercises: what the digits model sees, gradient descent on a line."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake, NumberQuestion


# ---------------------------------------------------------------- 2. gradient descent
_mse = "Loss: `L = mean((w*x + b - y)**2)`"


def _line_grads(w, b, x, y):
    r = w * x + b - y
    return float(np.mean(2 * r * x)), float(np.mean(2 * r))


def _line_cases(rng):
    out = []
    for _ in range(6):
        n = int(rng.integers(5, 30))
        x = rng.normal(size=n)
        y = 1.5 * x - 0.5 + 0.3 * rng.normal(size=n)
        out.append((float(rng.normal()), float(rng.normal()), x, y))
    return out


def _sums(w, b, x, y):
    r = w * x + b - y
    return float(np.sum(2 * r * x)), float(np.sum(2 * r))


EXERCISES = [
    # ------------------------------------------------------------ 1. digits in 60 s
    ChoiceQuestion(
        "digits-input", "What does the model see?",
        "You draw a digit on the pad. What exactly goes into the classifier?",
        ["The list of strokes you drew, in order",
         "A 28×28 grid of grey values: 784 numbers between 0 and 1",
         "The picture at full screen resolution"],
        answer=1,
        explanations={0: "The pad records strokes so it can undo them, but the model only gets the "
                         "finished picture: stroke order is lost.",
                      2: "The drawing is shrunk first: MNIST digits are 28×28 pixels, so yours is "
                         "boxed, scaled to 20×20 and centred in 28×28 (the small image beside the pad)."},
        why="Every model on the page starts from those 784 numbers.",
        hint="Look at the small picture shown beside the drawing pad."),
    NumberQuestion(
        "digits-outputs", "How many outputs?",
        "How many numbers does the classifier output for one drawing (before picking its guess)?",
        answer=10,
        mistakes=[Mistake("one", "It does not output the digit itself: it outputs a score for every "
                                 "possible digit, and the guess is the biggest.", value=1),
                  Mistake("inputs", "784 is the number of *inputs* (28×28 pixels).", value=784)],
        why="One score per class, 0 to 9; softmax turns them into the probability bars.",
        hint="Look at the probability bars."),
    # ------------------------------------------------------------ 2. gradient descent
    CodeExercise(
        "line-gradients", "The gradient of a line fit",
        f"Fit `y ≈ w*x + b`. {_mse}. Write `gradients(w, b, x, y)` returning `(dL/dw, dL/db)`. "
        "`x` and `y` are numpy arrays, `w` and `b` floats.",
        func="gradients",
        starter="def gradients(w, b, x, y):\n    residual = w * x + b - y\n"
                "    dw = ...\n    db = ...\n    return dw, db\n",
        solution="def gradients(w, b, x, y):\n    residual = w * x + b - y\n"
                 "    dw = np.mean(2 * residual * x)\n    db = np.mean(2 * residual)\n    return dw, db\n",
        reference=_line_grads, cases=_line_cases,
        example=(0.5, 0.0, np.array([0.0, 1.0, 2.0]), np.array([-0.5, 1.0, 2.5])),
        mistakes=[
            Mistake("wrong-sign", "Both gradients have the wrong sign: the derivative of "
                    "`(w*x + b - y)**2` is `+2*(w*x + b - y)` times the inner derivative. "
                    "(With `y - (w*x + b)` inside, the square is the same but the inner derivative flips.)",
                    fn=lambda w, b, x, y: tuple(-g for g in _line_grads(w, b, x, y))),
            Mistake("forgot-mean", "You summed over the points: the loss is a *mean*, so divide by the "
                    "number of points (`np.mean`). With sums the step size grows with the data set.",
                    fn=_sums),
            Mistake("forgot-two", "Off by a factor of 2: the derivative of `r**2` is `2*r`.",
                    fn=lambda w, b, x, y: tuple(g / 2 for g in _line_grads(w, b, x, y))),
            Mistake("swapped", "Right numbers, wrong order: return `(dL/dw, dL/db)`.",
                    fn=lambda w, b, x, y: _line_grads(w, b, x, y)[::-1]),
            Mistake("forgot-x", "`dL/dw` needs the inner derivative `d(w*x + b)/dw = x`: multiply the "
                    "residual by `x` before averaging.",
                    fn=lambda w, b, x, y: (_line_grads(w, b, x, y)[1],) * 2),
        ],
        wrong_answers={
            "wrong-sign": "def gradients(w, b, x, y):\n    r = y - (w * x + b)\n"
                          "    return np.mean(2 * r * x), np.mean(2 * r)\n",
            "forgot-mean": "def gradients(w, b, x, y):\n    r = w * x + b - y\n"
                           "    return np.sum(2 * r * x), np.sum(2 * r)\n",
            "forgot-two": "def gradients(w, b, x, y):\n    r = w * x + b - y\n"
                          "    return np.mean(r * x), np.mean(r)\n",
            "swapped": "def gradients(w, b, x, y):\n    r = w * x + b - y\n"
                       "    return np.mean(2 * r), np.mean(2 * r * x)\n",
            "forgot-x": "def gradients(w, b, x, y):\n    r = w * x + b - y\n"
                        "    return np.mean(2 * r), np.mean(2 * r)\n",
        },
        hint="Chain rule: `dL/dw = mean(2 * residual * d(residual)/dw)` and `d(residual)/dw = x`."),
    CodeExercise(
        "sgd-step", "One step downhill",
        "Write `step(w, grad, lr)` returning the new parameter after one gradient-descent step.",
        func="step",
        starter="def step(w, grad, lr):\n    return ...\n",
        solution="def step(w, grad, lr):\n    return w - lr * grad\n",
        reference=lambda w, g, lr: w - lr * g,
        cases=lambda rng: [(rng.normal(size=3), rng.normal(size=3), float(rng.uniform(0.01, 0.5)))
                           for _ in range(5)],
        example=(np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1),
        mistakes=[
            Mistake("ascent", "You went *uphill*: the gradient points where the loss grows, so subtract it.",
                    fn=lambda w, g, lr: w + lr * g),
            Mistake("forgot-lr", "Scale the gradient by the learning rate `lr`: a raw gradient step is "
                    "usually far too big.", fn=lambda w, g, lr: w - g),
            Mistake("returned-delta", "Return the *new* parameter, `w` plus the change, not only the change.",
                    fn=lambda w, g, lr: -lr * g),
        ],
        wrong_answers={"ascent": "def step(w, grad, lr):\n    return w + lr * grad\n",
                       "forgot-lr": "def step(w, grad, lr):\n    return w - grad\n",
                       "returned-delta": "def step(w, grad, lr):\n    return -lr * grad\n"},
        hint="New value = old value − learning rate × gradient."),
    ChoiceQuestion(
        "lr-too-big", "The loss went to nan",
        "You press Train and the loss jumps around, grows, and ends as `nan`. What do you change first?",
        ["Train for more epochs", "Make the learning rate bigger", "Make the learning rate smaller"],
        answer=2,
        explanations={0: "More epochs of a diverging run just diverge for longer.",
                      1: "Bigger steps overshoot the valley by even more: each step lands higher up "
                         "the other side, and the loss blows up faster."},
        why="Each step overshot the bottom of the valley and landed higher on the other side.",
        hint="Watch the line-fit widget above with the largest learning rate."),
]
