"""Lessons 7 and 8's exercises: the GAN's losses, the cost of a matmul, a model file's size."""
import numpy as np

from ..kinds import ChoiceQuestion, CodeExercise, Mistake, NumberQuestion


# ---------------------------------------------------------------- 7. GANs
_eps = 1e-12


def _dl(dr, df):
    return float(-np.mean(np.log(dr) + np.log(1 - df)))


def _gan_cases(rng):
    return [(rng.uniform(0.05, 0.95, size=n), rng.uniform(0.05, 0.95, size=n))
            for n in rng.integers(4, 20, size=5)]


EXERCISES = [
    # ------------------------------------------------------------ 7. GANs
    CodeExercise(
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
        hint="Cross-entropy for a target of 1 is `-log(p)`; for a target of 0 it is `-log(1 - p)`."),
    ChoiceQuestion(
        "mode-collapse", "Mode collapse",
        "After a while every sample from the GAN looks like a 1, whatever the noise. What is this called?",
        ["Mode collapse: G found one kind of image that fools D", "Overfitting of the discriminator",
         "Vanishing gradients in D"],
        answer=0,
        explanations={1: "D is not the one producing ones: G is.",
                      2: "Vanishing gradients make G stop *improving*; here G is stuck producing one mode."},
        why="The class-spread chart in the GAN studio shows it: one tall bar. A conditional GAN, told "
            "which digit to draw, avoids it.",
        hint="Look at the 'Mode collapse?' histogram in the studio."),
    # ------------------------------------------------------------ 8. GPUs and saving
    CodeExercise(
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
        hint="How many outputs? How much work for each?"),
    NumberQuestion(
        "mlp-params", "How big is the file?",
        "How many parameters (weights and biases) does the 784 → 256 → 128 → 10 MLP have?",
        answer=784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10,
        mistakes=[Mistake("forgot-bias", "You counted the weights only: add one bias per neuron "
                          "(256 + 128 + 10).", value=784 * 256 + 256 * 128 + 128 * 10),
                  Mistake("neurons", "That counts neurons; each connection between two layers is a weight.",
                          value=784 + 256 + 128 + 10)],
        why="235,146 float32 numbers × 4 bytes ≈ 0.94 MB: compare with the saved file's size above.",
        hint="A Linear(a, b) layer has a·b weights and b biases."),
]
