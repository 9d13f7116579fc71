"""Lessons 3 and 4's exercises: backprop by hand, a finite-difference check, a two-layer net."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake


# ---------------------------------------------------------------- 3. backprop
_FUNCS = [np.sin, np.tanh, np.exp, lambda v: v ** 3 - 2 * v]
_DERIVS = [np.cos, lambda v: 1 - np.tanh(v) ** 2, np.exp, lambda v: 3 * v ** 2 - 2]


def _fd_cases(rng):
    return [(_FUNCS[i % 4], float(rng.uniform(-1.5, 1.5))) for i in range(8)]


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


EXERCISES = [
    # ------------------------------------------------------------ 3. backprop
    CodeExercise(
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
        hint="If `b = 3`, how fast does `a * b` change when `a` moves a little? Then multiply by `grad`."),
    CodeExercise(
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
        hint="Compute `t = np.tanh(x)` first, then `grad * (1 - t**2)`."),
    CodeExercise(
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
        hint="Slope = rise / run: evaluate `f` a little to the right and a little to the left."),
    # ------------------------------------------------------------ 4. a net by hand
    CodeExercise(
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
        hint="Two lines: `hidden = relu(X @ W1 + b1)`, then `hidden @ W2 + b2`."),
    ChoiceQuestion(
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
        hint="Multiply out `(X @ W1 + b1) @ W2 + b2`."),
]
