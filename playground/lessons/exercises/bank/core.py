"""The lessons' exercises: each with a reference, fresh random cases, known mistakes with their
hints, and a piece of wrong code per mistake (tests check every one gets its own hint)."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake, NumberQuestion, _add

# ---------------------------------------------------------------- 1. digits in 60 s
_add(ChoiceQuestion(
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
    hint="Look at the small picture shown beside the drawing pad."))

_add(NumberQuestion(
    "digits-outputs", "How many outputs?",
    "How many numbers does the classifier output for one drawing (before picking its guess)?",
    answer=10,
    mistakes=[Mistake("one", "It does not output the digit itself: it outputs a score for every "
                             "possible digit, and the guess is the biggest.", value=1),
              Mistake("inputs", "784 is the number of *inputs* (28×28 pixels).", value=784)],
    why="One score per class, 0 to 9; softmax turns them into the probability bars.",
    hint="Look at the probability bars."))

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


_add(CodeExercise(
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
    hint="Chain rule: `dL/dw = mean(2 * residual * d(residual)/dw)` and `d(residual)/dw = x`."))

_add(CodeExercise(
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
    hint="New value = old value − learning rate × gradient."))

_add(ChoiceQuestion(
    "lr-too-big", "The loss went to nan",
    "You press Train and the loss jumps around, grows, and ends as `nan`. What do you change first?",
    ["Train for more epochs", "Make the learning rate bigger", "Make the learning rate smaller"],
    answer=2,
    explanations={0: "More epochs of a diverging run just diverge for longer.",
                  1: "Bigger steps overshoot the valley by even more: each step lands higher up "
                     "the other side, and the loss blows up faster."},
    why="Each step overshot the bottom of the valley and landed higher on the other side.",
    hint="Watch the line-fit widget above with the largest learning rate."))

# ---------------------------------------------------------------- 3. backprop
_add(CodeExercise(
    "mul-backward", "Backward of multiply",
    "`out = a * b`. Given `grad` = dL/d(out), write `mul_backward(a, b, grad)` returning "
    "`(dL/da, dL/db)`. Inputs are numpy arrays of the same shape.",
    func="mul_backward",
    starter="def mul_backward(a, b, grad):\n    grad_a = ...\n    grad_b = ...\n    return grad_a, grad_b\n",
    solution="def mul_backward(a, b, grad):\n    grad_a = grad * b\n    grad_b = grad * a\n"
             "    return grad_a, grad_b\n",
    reference=lambda a, b, g: (g * b, g * a),
    cases=lambda rng: [tuple(rng.normal(size=n) for _ in range(3)) for n in rng.integers(2, 6, size=5)],
    example=(np.array(2.0), np.array(-3.0), np.array(1.0)),
    mistakes=[
        Mistake("swapped", "Swapped: `d(a*b)/da` is `b` (the *other* input), so `dL/da = grad * b`.",
                fn=lambda a, b, g: (g * a, g * b)),
        Mistake("forgot-grad", "You computed the local derivatives but forgot the chain rule: multiply "
                "them by the incoming `grad`.", fn=lambda a, b, g: (b, a)),
        Mistake("used-forward", "That is the forward value `a * b` times grad, not a derivative.",
                fn=lambda a, b, g: (g * a * b, g * a * b)),
        Mistake("wrong-sign", "Wrong sign: nothing in `a * b` flips the sign.",
                fn=lambda a, b, g: (-g * b, -g * a)),
    ],
    wrong_answers={
        "swapped": "def mul_backward(a, b, grad):\n    return grad * a, grad * b\n",
        "forgot-grad": "def mul_backward(a, b, grad):\n    return b, a\n",
        "used-forward": "def mul_backward(a, b, grad):\n    out = a * b\n    return grad * out, grad * out\n",
        "wrong-sign": "def mul_backward(a, b, grad):\n    return -grad * b, -grad * a\n",
    },
    hint="If `b = 3`, how fast does `a * b` change when `a` moves a little? Then multiply by `grad`."))

_add(CodeExercise(
    "tanh-backward", "Backward of tanh",
    "`out = np.tanh(x)`. Write `tanh_backward(x, grad)` returning dL/dx. "
    "(The derivative of tanh is `1 - tanh(x)**2`.)",
    func="tanh_backward",
    starter="def tanh_backward(x, grad):\n    return ...\n",
    solution="def tanh_backward(x, grad):\n    t = np.tanh(x)\n    return grad * (1 - t**2)\n",
    reference=lambda x, g: g * (1 - np.tanh(x) ** 2),
    cases=lambda rng: [(rng.normal(size=4) * 1.5, rng.normal(size=4)) for _ in range(5)],
    example=(np.array([0.0, 1.0]), np.array([1.0, 1.0])),
    mistakes=[
        Mistake("used-forward", "That is the forward pass, `tanh(x)`, not its derivative "
                "`1 - tanh(x)**2`.", fn=lambda x, g: g * np.tanh(x)),
        Mistake("x-not-tanh", "`1 - x**2` uses `x`; the derivative is `1 - tanh(x)**2`: square the "
                "*output* of tanh.", fn=lambda x, g: g * (1 - x ** 2)),
        Mistake("forgot-grad", "Chain rule: multiply the local derivative by the incoming `grad`.",
                fn=lambda x, g: 1 - np.tanh(x) ** 2),
        Mistake("wrong-sign", "Wrong sign: tanh is increasing, so its derivative is positive: "
                "`1 - tanh(x)**2`, not `tanh(x)**2 - 1`.", fn=lambda x, g: g * (np.tanh(x) ** 2 - 1)),
    ],
    wrong_answers={
        "used-forward": "def tanh_backward(x, grad):\n    return grad * np.tanh(x)\n",
        "x-not-tanh": "def tanh_backward(x, grad):\n    return grad * (1 - x**2)\n",
        "forgot-grad": "def tanh_backward(x, grad):\n    return 1 - np.tanh(x)**2\n",
        "wrong-sign": "def tanh_backward(x, grad):\n    return grad * (np.tanh(x)**2 - 1)\n",
    },
    hint="Compute `t = np.tanh(x)` first, then `grad * (1 - t**2)`."))

_FUNCS = [np.sin, np.tanh, np.exp, lambda v: v ** 3 - 2 * v]
_DERIVS = [np.cos, lambda v: 1 - np.tanh(v) ** 2, np.exp, lambda v: 3 * v ** 2 - 2]


def _fd_cases(rng):
    return [(_FUNCS[i % 4], float(rng.uniform(-1.5, 1.5))) for i in range(8)]


_add(CodeExercise(
    "finite-difference", "Check a gradient numerically",
    "Write `numerical_derivative(f, x)` estimating `f'(x)` for a float `x` with a central "
    "difference and `h = 1e-5`.",
    func="numerical_derivative",
    starter="def numerical_derivative(f, x, h=1e-5):\n    return ...\n",
    solution="def numerical_derivative(f, x, h=1e-5):\n    return (f(x + h) - f(x - h)) / (2 * h)\n",
    reference=lambda f, x: _DERIVS[_FUNCS.index(f)](x),
    cases=_fd_cases, rtol=1e-4, atol=1e-6,
    example=(np.sin, 0.0),
    mistakes=[
        Mistake("forgot-two", "Twice too big: from `x - h` to `x + h` is a distance of `2*h`.",
                fn=lambda f, x: 2 * _DERIVS[_FUNCS.index(f)](x)),
        Mistake("wrong-sign", "Wrong sign: it is `f(x + h) - f(x - h)` (the right value minus the left).",
                fn=lambda f, x: -_DERIVS[_FUNCS.index(f)](x)),
        Mistake("no-divide", "You have the change in `f` but not the *rate*: divide by the distance "
                "`2*h`.", fn=lambda f, x: 2e-5 * _DERIVS[_FUNCS.index(f)](x)),
    ],
    wrong_answers={
        "forgot-two": "def numerical_derivative(f, x, h=1e-5):\n    return (f(x + h) - f(x - h)) / h\n",
        "wrong-sign": "def numerical_derivative(f, x, h=1e-5):\n    return (f(x - h) - f(x + h)) / (2 * h)\n",
        "no-divide": "def numerical_derivative(f, x, h=1e-5):\n    return f(x + h) - f(x - h)\n",
    },
    hint="Slope = rise / run: evaluate `f` a little to the right and a little to the left."))

# ---------------------------------------------------------------- 4. a net by hand


def _relu(v):
    return np.maximum(v, 0)


def _net_cases(rng):
    out = []
    for _ in range(4):
        n, h = int(rng.integers(3, 9)), int(rng.integers(3, 7))
        if n == h:
            n += 1
        out.append((rng.normal(size=(n, 2)), rng.normal(size=(2, h)), rng.normal(size=h),
                    rng.normal(size=(h, 1)), rng.normal(size=1)))
    return out


_add(CodeExercise(
    "two-layer-forward", "Forward pass of a 2-layer net",
    "Write `forward(X, W1, b1, W2, b2)`: a hidden layer with ReLU, then a linear output. "
    "`X` is `(n, 2)` (n points), `W1` is `(2, h)`, `b1` is `(h,)`, `W2` is `(h, 1)`, `b2` is `(1,)`. "
    "Return the `(n, 1)` outputs.",
    func="forward",
    starter="def forward(X, W1, b1, W2, b2):\n    hidden = ...\n    return ...\n",
    solution="def forward(X, W1, b1, W2, b2):\n    hidden = np.maximum(X @ W1 + b1, 0)  # ReLU\n"
             "    return hidden @ W2 + b2\n",
    reference=lambda X, W1, b1, W2, b2: _relu(X @ W1 + b1) @ W2 + b2,
    cases=_net_cases,
    example=(np.array([[1.0, 0.0], [0.0, 1.0]]), np.eye(2), np.zeros(2), np.ones((2, 1)), np.zeros(1)),
    mistakes=[
        Mistake("no-relu", "No non-linearity: without the ReLU two linear layers collapse into one "
                "linear layer (the playground above shows it can't solve xor). Apply "
                "`np.maximum(..., 0)` to the hidden layer.",
                fn=lambda X, W1, b1, W2, b2: (X @ W1 + b1) @ W2 + b2),
        Mistake("relu-output", "The ReLU belongs on the hidden layer only: the output stays linear "
                "(it can be negative).", fn=lambda X, W1, b1, W2, b2: _relu(_relu(X @ W1 + b1) @ W2 + b2)),
        Mistake("no-bias", "You left out the biases `b1` and `b2`: without them every line the "
                "neurons draw passes through the origin.", fn=lambda X, W1, b1, W2, b2: _relu(X @ W1) @ W2),
        Mistake("tanh", "That is tanh; this net uses ReLU: `np.maximum(v, 0)`.",
                fn=lambda X, W1, b1, W2, b2: np.tanh(X @ W1 + b1) @ W2 + b2),
        Mistake("shape", "Shape mismatch: `X` is `(n, 2)` and `W1` is `(2, h)`, so the product is "
                "`X @ W1` (rows of X times columns of W1), giving `(n, h)`.",
                error=r"matmul|shapes .* not aligned|could not be broadcast|mismatch"),
    ],
    wrong_answers={
        "no-relu": "def forward(X, W1, b1, W2, b2):\n    return (X @ W1 + b1) @ W2 + b2\n",
        "relu-output": "def forward(X, W1, b1, W2, b2):\n    h = np.maximum(X @ W1 + b1, 0)\n"
                       "    return np.maximum(h @ W2 + b2, 0)\n",
        "no-bias": "def forward(X, W1, b1, W2, b2):\n    return np.maximum(X @ W1, 0) @ W2\n",
        "tanh": "def forward(X, W1, b1, W2, b2):\n    return np.tanh(X @ W1 + b1) @ W2 + b2\n",
        "shape": "def forward(X, W1, b1, W2, b2):\n    h = np.maximum(W1 @ X + b1, 0)\n    return h @ W2 + b2\n",
    },
    hint="Two lines: `hidden = relu(X @ W1 + b1)`, then `hidden @ W2 + b2`."))

_add(ChoiceQuestion(
    "why-nonlinear", "Why non-linearities?",
    "You stack two `Linear` layers with *no* activation in between. What can the stack compute?",
    ["More than one layer: curved boundaries",
     "Exactly what one Linear layer can: a straight boundary",
     "Nothing: it can't be trained"],
    answer=1,
    explanations={0: "`(X @ W1 + b1) @ W2 + b2 = X @ (W1 @ W2) + (b1 @ W2 + b2)`: one matrix and one "
                     "bias, so still one straight line. Try xor above with activation 'linear'.",
                  2: "It trains fine; it just can't bend."},
    why="A product of matrices is a matrix: the stack is one linear map until something bends it.",
    hint="Multiply out `(X @ W1 + b1) @ W2 + b2`."))

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


_add(CodeExercise(
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
    hint="The guess for each digit is the class with the biggest score: `argmax` along the classes."))

_add(ChoiceQuestion(
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
    hint="Compare what happens on the digits it trains on with the ones it never sees."))

# ---------------------------------------------------------------- 6. convolutions


def _conv_ref(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _conv_cases(rng):
    out = [(28, 3, 1, 1), (28, 5, 2, 0)]
    while len(out) < 8:
        n, k, s, p = int(rng.integers(8, 40)), int(rng.choice([3, 5, 7])), int(rng.integers(2, 4)), int(rng.integers(1, 3))
        out.append((n, k, s, p))
    return out


_add(CodeExercise(
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
    hint="Pad first (`n + 2*p`), then count how many times the kernel fits when it jumps `s` pixels."))

_add(NumberQuestion(
    "conv-params", "Count the weights",
    "How many parameters (weights and biases) does `Conv2d(16, 32, kernel_size=3)` have?",
    answer=16 * 32 * 9 + 32,
    mistakes=[Mistake("forgot-bias", "Don't forget one bias per output channel (32).", value=16 * 32 * 9),
              Mistake("forgot-in-channels", "Each 3×3 kernel looks at *all 16* input channels: "
                      "it has 3·3·16 weights.", value=9 * 32 + 32),
              Mistake("forgot-out-channels", "That is one output channel; there are 32.", value=9 * 16 + 1)],
    why="3·3·16 weights per output channel, 32 channels, plus 32 biases: tiny next to a 784→256 "
        "Linear layer (200,960) — weight sharing.",
    hint="One kernel per output channel; each kernel covers 3×3 pixels in every input channel."))

_add(ChoiceQuestion(
    "lines-break", "Where does counting break?",
    "The lines CNN is near-perfect on one or two lines. Which images does it get wrong most?",
    ["A single long line", "Many lines that cross or touch", "Images with no noise"],
    answer=1,
    explanations={0: "One line is the easiest case: nearly always right.",
                  2: "The generated images have no noise at all; that's not it."},
    why="Crossings and touching lines merge into shapes that local filters can't separate; counting "
        "is a global question a few 3×3 filters and pooling answer only roughly.",
    hint="Train the lab above and look at the gallery of mistakes."))

# ---------------------------------------------------------------- 7. GANs
_eps = 1e-12


def _dl(dr, df):
    return float(-np.mean(np.log(dr) + np.log(1 - df)))


def _gan_cases(rng):
    return [(rng.uniform(0.05, 0.95, size=n), rng.uniform(0.05, 0.95, size=n))
            for n in rng.integers(4, 20, size=5)]


_add(CodeExercise(
    "d-loss", "The expert's loss",
    "`d_real` holds D's probabilities that real images are real; `d_fake` the same for generated "
    "ones. Write `d_loss(d_real, d_fake)`: the binary cross-entropy D minimises (real → 1, fake → 0), "
    "averaged over the batch.",
    func="d_loss",
    starter="def d_loss(d_real, d_fake):\n    return ...\n",
    solution="def d_loss(d_real, d_fake):\n    return -np.mean(np.log(d_real) + np.log(1 - d_fake))\n",
    reference=_dl, cases=_gan_cases,
    example=(np.array([0.9, 0.8]), np.array([0.1, 0.3])),
    mistakes=[
        Mistake("wrong-sign", "Wrong sign: log-probabilities are negative, and a loss should go *down* "
                "as D gets better. Put a minus in front.", fn=lambda r, f: -_dl(r, f)),
        Mistake("forgot-mean", "Average over the batch (`np.mean`), don't sum: otherwise the loss "
                "scales with the batch size.",
                fn=lambda r, f: float(-np.sum(np.log(r) + np.log(1 - f)))),
        Mistake("swapped", "You swapped the targets: real images should be called real "
                "(`log(d_real)`), fakes fake (`log(1 - d_fake)`).",
                fn=lambda r, f: float(-np.mean(np.log(f) + np.log(1 - r)))),
        Mistake("forgot-one-minus", "For fakes the target is 0, so the likelihood is `1 - d_fake`.",
                fn=lambda r, f: float(-np.mean(np.log(r) + np.log(f)))),
    ],
    wrong_answers={
        "wrong-sign": "def d_loss(d_real, d_fake):\n    return np.mean(np.log(d_real) + np.log(1 - d_fake))\n",
        "forgot-mean": "def d_loss(d_real, d_fake):\n    return -np.sum(np.log(d_real) + np.log(1 - d_fake))\n",
        "swapped": "def d_loss(d_real, d_fake):\n    return -np.mean(np.log(d_fake) + np.log(1 - d_real))\n",
        "forgot-one-minus": "def d_loss(d_real, d_fake):\n    return -np.mean(np.log(d_real) + np.log(d_fake))\n",
    },
    hint="Cross-entropy for a target of 1 is `-log(p)`; for a target of 0 it is `-log(1 - p)`."))

_add(ChoiceQuestion(
    "mode-collapse", "Mode collapse",
    "After a while every sample from the GAN looks like a 1, whatever the noise. What is this called?",
    ["Mode collapse: G found one kind of image that fools D", "Overfitting of the discriminator",
     "Vanishing gradients in D"],
    answer=0,
    explanations={1: "D is not the one producing ones: G is.",
                  2: "Vanishing gradients make G stop *improving*; here G is stuck producing one mode."},
    why="The class-spread chart in the GAN studio shows it: one tall bar. A conditional GAN, told "
        "which digit to draw, avoids it.",
    hint="Look at the 'Mode collapse?' histogram in the studio."))

# ---------------------------------------------------------------- 8. GPUs and saving
_add(CodeExercise(
    "matmul-flops", "Count the work in a matmul",
    "Multiplying an `(m, k)` matrix by a `(k, n)` matrix: each output is a dot product of length `k` "
    "(k multiplies and k adds). Write `matmul_flops(m, k, n)` returning the floating-point operations.",
    func="matmul_flops",
    starter="def matmul_flops(m, k, n):\n    return ...\n",
    solution="def matmul_flops(m, k, n):\n    return 2 * m * k * n\n",
    reference=lambda m, k, n: 2 * m * k * n,
    cases=lambda rng: [tuple(int(v) for v in rng.integers(2, 300, size=3)) for _ in range(6)],
    example=(64, 784, 256),
    mistakes=[
        Mistake("forgot-two", "That counts multiply-adds; each is *two* operations (a multiply and an "
                "add).", fn=lambda m, k, n: m * k * n),
        Mistake("outputs-only", "That is the number of outputs; each one costs a dot product of length "
                "`k`.", fn=lambda m, k, n: m * n),
        Mistake("sizes", "That is how many numbers go *in*; the work is one dot product per output.",
                fn=lambda m, k, n: m * k + k * n),
    ],
    wrong_answers={"forgot-two": "def matmul_flops(m, k, n):\n    return m * k * n\n",
                   "outputs-only": "def matmul_flops(m, k, n):\n    return m * n\n",
                   "sizes": "def matmul_flops(m, k, n):\n    return m * k + k * n\n"},
    hint="How many outputs? How much work for each?"))

_add(NumberQuestion(
    "mlp-params", "How big is the file?",
    "How many parameters (weights and biases) does the 784 → 256 → 128 → 10 MLP have?",
    answer=784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10,
    mistakes=[Mistake("forgot-bias", "You counted the weights only: add one bias per neuron "
                      "(256 + 128 + 10).", value=784 * 256 + 256 * 128 + 128 * 10),
              Mistake("neurons", "That counts neurons; each connection between two layers is a weight.",
                      value=784 + 256 + 128 + 10)],
    why="235,146 float32 numbers × 4 bytes ≈ 0.94 MB: compare with the saved file's size above.",
    hint="A Linear(a, b) layer has a·b weights and b biases."))

# lesson 9 (makemore) lives in its own file
from . import makemore  # noqa: E402,F401
