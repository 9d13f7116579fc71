"""nanoGPT's model, in the engine: a character-level GPT (numpy + engine only, no Panel).

The names are nanoGPT's (wte, wpe, drop, h[i].{ln_1, attn.{c_attn, c_proj}, ln_2,
mlp.{c_fc, c_proj}}, ln_f, lm_head; nanoGPT keeps all but lm_head under ``transformer.``),
so a saved state_dict loads as it is into torch_gpt.py's PyTorch GPT. The output head
shares its weight with the token embedding (weight tying): one Parameter, used twice, its
gradient the sum of both uses.

    cfg = GPTConfig(**{k: v for k, v in PRESETS["baby"].items() if k in CONFIG_KEYS})
    model = GPT(cfg)
    logits, loss = model(x, y)                    # x, y: (B, T) int arrays
    model.generate(idx, 200, temperature=0.8, top_k=10)
"""
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from engine import nn, no_grad, optim, sampling
from engine.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 64    # the longest context the model sees
    vocab_size: int = 65    # characters of the corpus
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False      # biases in the Linears and LayerNorms (nanoGPT: False is a bit better)


CONFIG_KEYS = tuple(f.name for f in fields(GPTConfig))

_RECIPE = dict(lr=1e-3, min_lr=1e-4, max_iters=2000, warmup_iters=100, weight_decay=0.1,
               beta2=0.99, grad_clip=1.0, eval_interval=250, eval_iters=20)
PRESETS = {  # the model's shape and nanoGPT's CPU training recipe (train.py reads the rest)
    "nano": dict(n_layer=2, n_head=4, n_embd=64, block_size=64, batch_size=12, dropout=0.0,
                 bias=False, **_RECIPE),
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, dropout=0.0,
                 bias=False, **_RECIPE),
}


class CausalSelfAttention(nn.Module):
    """n_head heads of size n_embd / n_head, each looking back only (position i sees 0..i)."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd {cfg.n_embd} is not divisible by n_head {cfg.n_head}")
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)  # q, k, v at once
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
        self.keep_weights = False  # set by GPT.attention: keep the last weights for plotting
        self.weights = None        # (B, n_head, T, T)

    def forward(self, x):
        # per head: softmax(q k^T / sqrt(hs), causal) v, with q, k, v the (B, nh, T, hs)
        # thirds of c_attn's output and the heads side by side again in y (B, T, C); one
        # fused op (engine.nn.seqops.self_attention), as nanoGPT calls PyTorch's flash one
        y, w = F.self_attention(self.c_attn(x), self.n_head, is_causal=True)
        if self.keep_weights:
            self.weights = w.data
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))  # (B, T, 4C) inside


class Block(nn.Module):
    """Pre-LayerNorm: each half reads a normalised copy and adds its result to the stream."""

    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


@nn.register
class GPT(nn.Module):
    """Token + position embeddings (added), n_layer Blocks, a final LayerNorm, the head.

    ``meta`` is free JSON-able information saved in the file's spec with the model (the
    training run keeps its vocabulary and iteration count there)."""

    def __init__(self, config=None, **kw):
        super().__init__()
        cfg = config if config is not None else GPTConfig(**kw)
        nn.record_args(self, **asdict(cfg))
        self.config, self.meta = cfg, {}
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one Parameter, two uses
        for name, p in self.named_parameters():  # nanoGPT's init
            if p.ndim == 1:
                continue  # LayerNorm gains stay 1 (biases 0)
            std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("c_proj.weight") else 0.02
            nn.init.normal_(p, 0.0, std)  # the residual projections scaled down
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def spec(self):
        return {**super().spec(), "meta": self.meta}

    @classmethod
    def rebuild(cls, spec):
        model = cls(GPTConfig(**spec.get("args", {})))
        model.meta = dict(spec.get("meta") or {})
        return model

    def forward(self, idx, targets=None):
        """logits (B, T, vocab) and, with targets (B, T), the mean cross-entropy (or None)."""
        idx = np.asarray(idx)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"GPT: expected token ids of shape (batch, time), got {idx.shape}")
        t = idx.shape[1]
        if t > self.config.block_size:
            raise ValueError(f"GPT: a sequence of {t} tokens is longer than block_size "
                             f"{self.config.block_size}")
        x = self.drop(self.wte(idx) + self.wpe(np.arange(t)))  # (B, T, C) + (T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        v = logits.shape[-1]
        return logits, F.cross_entropy(logits.reshape(-1, v), np.asarray(targets).reshape(-1))

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """AdamW as nanoGPT's, two parameter groups: weight decay on the matrices (>= 2-D:
        embeddings, Linears), none on the LayerNorm gains and biases. The tied weight
        counts once (parameters() yields it once)."""
        params = list(self.parameters())
        decay_params = [p for p in params if p.ndim >= 2]
        nodecay_params = [p for p in params if p.ndim < 2]
        optim_groups = [{"params": decay_params, "weight_decay": weight_decay},
                        {"params": nodecay_params, "weight_decay": 0.0}]
        return optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

    # -- sampling -------------------------------------------------------------------
    def _next(self, idx, temperature, top_k, rng):
        """One new token per row of idx (B, T), from the last block_size tokens."""
        logits, _ = self(idx[:, -self.config.block_size:])
        return sampling.sample_logits(logits.data[:, -1, :], temperature, top_k, rng)

    def stream(self, idx, max_new_tokens, temperature=1.0, top_k=None, rng=None):
        """Yield max_new_tokens token ids (ints) continuing one sequence idx, one at a time."""
        seq = np.asarray(idx, dtype=np.int64).reshape(1, -1)
        if seq.shape[1] == 0:
            raise ValueError("GPT: give at least one token to continue (e.g. a newline)")
        with self.evaluating():
            for _ in range(max_new_tokens):
                with no_grad():
                    nxt = int(self._next(seq, temperature, top_k, rng)[0])
                seq = np.append(seq[:, -self.config.block_size + 1:], [[nxt]], axis=1)
                yield nxt

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, rng=None):
        """idx (B, T) (or (T,)) with max_new_tokens more tokens sampled after each row."""
        idx = np.asarray(idx, dtype=np.int64)
        one = idx.ndim == 1
        seq = idx.reshape(1, -1) if one else idx
        if seq.shape[1] == 0:
            raise ValueError("GPT: give at least one token to continue (e.g. a newline)")
        with self.evaluating(), no_grad():
            for _ in range(max_new_tokens):
                nxt = self._next(seq, temperature, top_k, rng)
                seq = np.concatenate([seq, nxt[:, None]], axis=1)
        return seq[0] if one else seq

    def attention(self, idx):
        """For one sequence idx (T,): a list over layers of (n_head, T, T) attention weights
        (row i: how much position i takes from each earlier position)."""
        seq = np.asarray(idx, dtype=np.int64).reshape(1, -1)[:, -self.config.block_size:]
        attns = [block.attn for block in self.h]
        with self.evaluating():
            try:
                for a in attns:
                    a.keep_weights = True
                with no_grad():
                    self(seq)
                return [a.weights[0].copy() for a in attns]
            finally:
                for a in attns:
                    a.keep_weights, a.weights = False, None

