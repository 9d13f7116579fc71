"""Layers for sequence models: LayerNorm, MultiheadAttention, TransformerEncoderLayer.

Same constructor arguments, parameter names and layouts as torch.nn, so a saved model's
weights load into the PyTorch layer of the same name (`engine.io.to_torch` builds it).
A GPT block is `TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, activation="gelu",
batch_first=True, norm_first=True)` called with `is_causal=True`.
"""
import numpy as np

from . import functional as F, init
from ..tensor import Tensor, as_tensor as _t
from .layers import Dropout, Linear
from .module import Module, Parameter, record_args, recorded_args, register


@register
class LayerNorm(Module):
    """Normalise each position over its last axes (no batch statistics, no running stats)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        record_args(self, normalized_shape=list(shape), eps=eps,
                    elementwise_affine=elementwise_affine, bias=bias)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


@register
class MultiheadAttention(Module):
    """Attention with num_heads heads of size embed_dim // num_heads, as torch.nn's.

    Parameters: in_proj_weight (3E, E) holds the query, key and value projections stacked,
    in_proj_bias (3E,), out_proj a Linear(E, E). forward(query, key, value) returns
    (output, weights); weights are averaged over heads unless average_attn_weights=False.
    attn_mask: bool with True = NOT allowed (torch.nn.MultiheadAttention's convention), or
    float added to the scores. is_causal=True masks the future by itself (PyTorch wants
    the causal attn_mask passed as well; here it is built for you)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        if dropout:
            raise NotImplementedError("MultiheadAttention: attention dropout is not supported")
        record_args(self, embed_dim=embed_dim, num_heads=num_heads, dropout=dropout, bias=bias,
                    batch_first=batch_first)
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = init.xavier_uniform_(Parameter(np.empty((3 * embed_dim, embed_dim),
                                                                      np.float32)))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data[...] = 0
        self.__dict__["last_weights"] = None  # (B, H, T, S) of the last call: for plots

    def _heads(self, x):
        b, t, _ = x.shape  # (B, T, E) -> (B, H, T, head_dim)
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        if key_padding_mask is not None:
            raise NotImplementedError("MultiheadAttention: key_padding_mask is not supported")
        q, k, v = _t(query), _t(key), _t(value)
        if not self.batch_first:  # (T, B, E) -> (B, T, E)
            q, k, v = (x.transpose(1, 0, 2) for x in (q, k, v))
        e, w, bias = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        keep = None
        if attn_mask is not None:
            am = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            keep = ~am if am.dtype == bool else am  # torch's MHA: True = masked out
        if q is k and k is v:  # self-attention: one product for q, k and v, one attention node
            out, weights = F.self_attention(F.linear(q, w, bias), self.num_heads, is_causal,
                                            attn_mask=keep)
        else:
            q, k, v = (F.linear(x, w[i * e:(i + 1) * e], None if bias is None else
                                       bias[i * e:(i + 1) * e]) for i, x in enumerate((q, k, v)))
            out, weights = F.attention(self._heads(q), self._heads(k), self._heads(v), keep,
                                       is_causal)
            b, _, t, _ = out.shape
            out = out.transpose(0, 2, 1, 3).reshape(b, t, e)  # heads side by side again
        self.__dict__["last_weights"] = weights.data
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.transpose(1, 0, 2)
        if not need_weights:
            return out, None
        wd = weights.data.mean(axis=1) if average_attn_weights else weights.data
        return out, Tensor(wd)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


_ACTIVATIONS = {"relu": lambda x: _t(x).relu(), "gelu": F.gelu}


@register
class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward layer, each with a residual and a LayerNorm.

    norm_first=True is the GPT-2 ("pre-norm") block:  x = x + attn(norm1(x));
    x = x + linear2(act(linear1(norm2(x)))). norm_first=False normalises after each add.
    forward(src, src_mask=None, is_causal=False); src_mask as MultiheadAttention's attn_mask."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"TransformerEncoderLayer: activation must be one of "
                             f"{sorted(_ACTIVATIONS)}, got {activation!r}")
        record_args(self, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                    dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                    batch_first=batch_first, norm_first=norm_first, bias=bias)
        self.batch_first, self.norm_first = batch_first, norm_first
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, batch_first=True)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.__dict__["act"] = _ACTIVATIONS[activation]

    def _sa(self, x, mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=mask, need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.act(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        if src_key_padding_mask is not None:
            raise NotImplementedError("TransformerEncoderLayer: src_key_padding_mask is not "
                                      "supported")
        x = _t(src)
        if not self.batch_first:
            x = x.transpose(1, 0, 2)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, is_causal)
            x = x + self._ff(self.norm2(x))
        else:
            x = self.norm1(x + self._sa(x, src_mask, is_causal))
            x = self.norm2(x + self._ff(x))
        return x if self.batch_first else x.transpose(1, 0, 2)

    def extra_repr(self):
        a = recorded_args(self)
        return (f"d_model={a['d_model']}, nhead={a['nhead']}, dim_feedforward="
                f"{a['dim_feedforward']}, norm_first={a['norm_first']}")
