"""What a backend gives the seam (engine.backend): one required product, three optional extras.

A backend is any object with the attributes below (nothing to inherit); numpy_backend.py,
wasm.py and webgpu.py each meet it. The seam routes every matmul through the active backend
and asks it for its extras by name: `kernels()` returns it when it has image kernels,
`seq_kernels()` when it has sequence-model kernels, `fused_adam()` its `adam_step` when it has one.
"""
from typing import Protocol


class BackendError(RuntimeError):
    """Raised by a backend that cannot compute a product; the seam drops it and numpy answers."""


class Backend(Protocol):
    """Required: the matrix product."""
    name: str  # how status() names it, and what use(name) selects

    def accepts(self, m: int, k: int, n: int) -> bool:
        """Whether this backend takes an (m x k) @ (k x n) product (e.g. only large ones)."""

    def matmul(self, a, b, ta: bool = False, tb: bool = False):
        """op(a) @ op(b) with numpy's shapes and broadcasting, op transposing the last two axes
        when ta / tb is set; a new writable array. Raises BackendError when the device fails."""


class ImageKernels(Protocol):
    """Optional (`has_images` True): channels-last image kernels that engine.nn.functional's
    conv2d and max_pool2d call in place of their numpy loops. x is (N, H, W, C) C-contiguous
    float32; windows kh x kw at stride (sh, sw), padding (ph, pw), ho x wo of them."""
    has_images: bool

    def im2col(self, x, kh, kw, sh, sw, ph, pw, ho, wo):
        """(N*ho*wo, kh*kw*C): each window's values as a row, zeros for padding."""

    def col2im(self, gcols, shape, kh, kw, sh, sw, ph, pw, ho, wo):
        """im2col's adjoint: an array of `shape` (N, H, W, C), each row added back where read."""

    def max_pool2d(self, x, kh, kw, sh, sw, ph, pw, ho, wo):
        """(y (N, ho, wo, C), arg): each window's max and the flat index of its first maximum."""

    def max_pool2d_backward(self, g, arg, shape):
        """The gradient of x (`shape`): zeros, plus each g at its window's arg."""


class FusedAdam(Protocol):
    """Optional: engine.optim's Adam/AdamW update of one parameter in one call."""

    def adam_step(self, p, g, M, V, b1, b2, shrink, l2, eps_c, neg_step) -> bool:
        """In place, the float32 operations of Adam's numpy path in the same order:
        p *= shrink; g' = g + l2 p; M = b1 M + g'; V = b2 V + g'²; p += neg_step M / (√V + eps_c).
        Returns False (nothing done) to leave this parameter to numpy."""


class SeqKernels(Protocol):
    """Optional (`has_seq` True): float32 kernels that engine.nn.seqops calls in place of its
    numpy code (GELU, attention's softmax, LayerNorm; self-attention whole when
    `has_attention`), clip_grad_norm_'s two passes and engine.backend.add's large sums.
    Arrays are C-contiguous float32; each returns what the numpy code beside its call
    computes, to float32 rounding."""
    has_seq: bool

    def gelu(self, x, need_dy=True):
        """(y, dy): GELU(x) = x Phi(x) and its derivative Phi(x) + x phi(x), shaped as x
        (dy None when not `need_dy`: no gradient will be asked for)."""

    def add(self, a, b):
        """a + b for a and b of one shape (engine.backend.add)."""

    def mul(self, a, b):
        """a * b for a and b of one shape (GELU's backward)."""

    def sum_squares(self, x):
        """sum(x ** 2) as a Python float, accumulated in float64 (clip_grad_norm_)."""

    def scale_(self, x, c):
        """x *= c in place, x C-contiguous and writable. Returns x."""

    def softmax_(self, s, scale, causal):
        """In place over the last axis of s (..., T, S): softmax(scale * s); causal: key j
        takes part in row i only when j <= i, the others get 0. Returns s."""

    def softmax_backward_(self, g, w, scale):
        """In place: g = w * (g - sum(g * w, last axis)) * scale. Returns g."""

    has_attention: bool  # optional too (absent = False): the two below as well

    def attention(self, qkv, n_head, scale, causal):
        """(out, weights) of engine.nn.seqops.self_attention without a mask: qkv (B, T, 3C),
        out (B, T, C) with the heads side by side, weights (B, n_head, T, T)."""

    def attention_backward(self, qkv, w, g, n_head, scale, causal):
        """The gradient (B, T, 3C) of qkv, from attention's weights w and the output's g."""

    def layer_norm(self, x, weight, bias, eps):
        """Over x's last axis (weight, bias: that length, or None): (y, xhat, inv), inv of
        shape x.shape[:-1] + (1,)."""

    def layer_norm_backward(self, g, xhat, inv, weight, need_x, need_w, need_b):
        """(gx, gw, gb) of layer_norm, each None unless asked for; gw, gb summed over rows."""
