"""Lessons 5 and 6's exercises: accuracy and overfitting, convolution shapes and parameters."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake, NumberQuestion


# ---------------------------------------------------------------- 5. digits deeper
def _acc_cases(rng):
    out = []
    for _ in range(5):
        n = int(rng.integers(12, 40))
        logits = rng.normal(size=(n, 10))
        y = rng.integers(0, 10, size=n)
        hit = rng.random(n) < 0.6
        y[hit] = logits[hit].argmax(1)
        out.append((logits, y))
    return out


# ---------------------------------------------------------------- 6. convolutions
def _conv_ref(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _conv_cases(rng):
    out = [(28, 3, 1, 1), (28, 5, 2, 0)]
    while len(out) < 8:
        n, k, s, p = int(rng.integers(8, 40)), int(rng.choice([3, 5, 7])), int(rng.integers(2, 4)), int(rng.integers(1, 3))
        out.append((n, k, s, p))
    return out


EXERCISES = [
    # ------------------------------------------------------------ 5. digits deeper
    CodeExercise(
        "accuracy", "Measure accuracy",
        "`logits` is `(n, 10)`: one score per class for n digits; `labels` is `(n,)`. "
        "Write `accuracy(logits, labels)` returning the fraction (0 to 1) the model gets right.",
        func="accuracy",
        starter="def accuracy(logits, labels):\n    guesses = ...\n    return ...\n",
        solution="def accuracy(logits, labels):\n    guesses = logits.argmax(axis=1)\n"
                 "    return np.mean(guesses == labels)\n",
        reference=lambda lg, y: float(np.mean(lg.argmax(1) == y)),
        cases=_acc_cases,
        example=(np.array([[0.1, 2.0, -1.0] + [0] * 7, [3.0, 0.0, 0.5] + [0] * 7]), np.array([1, 2])),
        mistakes=[
            Mistake("forgot-mean", "That's the *number* right; divide by how many digits there are "
                    "(`np.mean` of the matches).", fn=lambda lg, y: float(np.sum(lg.argmax(1) == y))),
            Mistake("percent", "Return a fraction between 0 and 1, not a percentage.",
                    fn=lambda lg, y: 100 * float(np.mean(lg.argmax(1) == y))),
            Mistake("error-rate", "That is the error rate (the fraction *wrong*).",
                    fn=lambda lg, y: 1 - float(np.mean(lg.argmax(1) == y))),
            Mistake("axis", "Take the argmax over the classes, `axis=1` (each row is one digit): "
                    "`axis=0` gives one answer per class instead of per digit.",
                    error=r"broadcast|shape|elementwise"),
        ],
        wrong_answers={
            "forgot-mean": "def accuracy(logits, labels):\n    return np.sum(logits.argmax(axis=1) == labels)\n",
            "percent": "def accuracy(logits, labels):\n    return 100 * np.mean(logits.argmax(1) == labels)\n",
            "error-rate": "def accuracy(logits, labels):\n    return np.mean(logits.argmax(1) != labels)\n",
            "axis": "def accuracy(logits, labels):\n    return np.mean(logits.argmax(axis=0) == labels)\n",
        },
        hint="The guess for each digit is the class with the biggest score: `argmax` along the classes."),
    ChoiceQuestion(
        "overfitting", "Read the curves",
        "Training accuracy climbs to 100 %. Held-out accuracy peaked at epoch 8 and has been falling since. "
        "What is happening?",
        ["Underfitting: the model is too small", "The learning rate is too big",
         "Overfitting: it memorises the training digits"],
        answer=2,
        explanations={0: "A model that reaches 100 % on its training data is big enough to fit it; "
                         "the trouble is that it no longer generalises.",
                      1: "A too-big learning rate makes the *training* loss jump or blow up; here the "
                         "training accuracy is perfect."},
        why="Stop early (keep epoch 8's weights), add dropout or weight decay, augment, or get more data.",
        hint="Compare what happens on the digits it trains on with the ones it never sees."),
    # ------------------------------------------------------------ 6. convolutions
    CodeExercise(
        "conv-output-size", "How big is the output?",
        "A convolution with kernel size `k`, stride `s` and padding `p` (on each side) slides over an "
        "`n × n` image. Write `conv_output_size(n, k, s, p)` returning the output's side.",
        func="conv_output_size",
        starter="def conv_output_size(n, k, s, p):\n    return ...\n",
        solution="def conv_output_size(n, k, s, p):\n    return (n + 2 * p - k) // s + 1\n",
        reference=_conv_ref, cases=_conv_cases, example=(28, 3, 1, 1),
        mistakes=[
            Mistake("forgot-padding", "Padding adds `p` pixels on *each* side: the padded image is "
                    "`n + 2*p` wide.", fn=lambda n, k, s, p: (n - k) // s + 1),
            Mistake("padding-once", "Padding goes on both sides: `n + 2*p`, not `n + p`.",
                    fn=lambda n, k, s, p: (n + p - k) // s + 1),
            Mistake("forgot-plus-one", "Off by one: count the first position too. A 3-wide kernel on a "
                    "3-wide image fits once, and `(3 - 3) // 1 = 0`.", fn=lambda n, k, s, p: (n + 2 * p - k) // s),
            Mistake("forgot-stride", "With stride `s` the kernel jumps `s` pixels at a time: divide the "
                    "room it moves in by `s`.", fn=lambda n, k, s, p: n + 2 * p - k + 1),
        ],
        wrong_answers={
            "forgot-padding": "def conv_output_size(n, k, s, p):\n    return (n - k) // s + 1\n",
            "padding-once": "def conv_output_size(n, k, s, p):\n    return (n + p - k) // s + 1\n",
            "forgot-plus-one": "def conv_output_size(n, k, s, p):\n    return (n + 2*p - k) // s\n",
            "forgot-stride": "def conv_output_size(n, k, s, p):\n    return n + 2*p - k + 1\n",
        },
        hint="Pad first (`n + 2*p`), then count how many times the kernel fits when it jumps `s` pixels."),
    NumberQuestion(
        "conv-params", "Count the weights",
        "How many parameters (weights and biases) does `Conv2d(16, 32, kernel_size=3)` have?",
        answer=16 * 32 * 9 + 32,
        mistakes=[Mistake("forgot-bias", "Don't forget one bias per output channel (32).", value=16 * 32 * 9),
                  Mistake("forgot-in-channels", "Each 3×3 kernel looks at *all 16* input channels: "
                          "it has 3·3·16 weights.", value=9 * 32 + 32),
                  Mistake("forgot-out-channels", "That is one output channel; there are 32.", value=9 * 16 + 1)],
        why="3·3·16 weights per output channel, 32 channels, plus 32 biases: tiny next to a 784→256 "
            "Linear layer (200,960) — weight sharing.",
        hint="One kernel per output channel; each kernel covers 3×3 pixels in every input channel."),
    ChoiceQuestion(
        "lines-break", "Where does counting break?",
        "The lines CNN is near-perfect on one or two lines. Which images does it get wrong most?",
        ["A single long line", "Many lines that cross or touch", "Images with no noise"],
        answer=1,
        explanations={0: "One line is the easiest case: nearly always right.",
                      2: "The generated images have no noise at all; that's not it."},
        why="Crossings and touching lines merge into shapes that local filters can't separate; counting "
            "is a global question a few 3×3 filters and pooling answer only roughly.",
        hint="Train the lab above and look at the gallery of mistakes."),
]
