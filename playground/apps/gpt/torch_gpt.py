"""The GPT of model.py written in PyTorch (nanoGPT's model, flat names), for checking and
benchmarking: the same parameter names and shapes, so a saved run's weights load as they are.

    net = load_torch("gpt_baby.npz")      # a torch.nn.Module, in eval mode
    logits, loss = net(torch.from_numpy(idx))

torch is imported inside the functions: it is a development tool, not a dependency of the
app (which runs in the browser).
"""
import numpy as np

from engine import io

from .model import GPTConfig


def build(config, torch):
    """A torch GPT of ``config`` (a GPTConfig), freshly initialised by torch."""
    nn, F = torch.nn, torch.nn.functional
    cfg = config

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
            self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
            self.resid_dropout = nn.Dropout(cfg.dropout)

        def forward(self, x):
            b, t, c = x.shape
            h = cfg.n_head
            q, k, v = self.c_attn(x).view(b, t, 3, h, c // h).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
            self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
            self.dropout = nn.Dropout(cfg.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = cfg
            self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
            self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
            self.drop = nn.Dropout(cfg.dropout)
            self.h = nn.ModuleList(Block() for _ in range(cfg.n_layer))
            self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight  # tied, as in the engine

        def forward(self, idx, targets=None):
            t = idx.shape[1]
            x = self.drop(self.wte(idx) + self.wpe(torch.arange(t)))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            if targets is None:
                return logits, None
            return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    return GPT()


def twin(model, torch=None):
    """A torch GPT holding a copy of the engine GPT ``model``'s weights (same mode)."""
    if torch is None:
        import torch
    net = build(model.config, torch)
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
                         for k, v in model.state_dict().items()}, strict=True)
    return net.train(model.training)


def load_torch(path, torch=None):
    """The torch GPT of a saved run or model file (engine.io's checks first), in eval mode."""
    if torch is None:
        import torch
    model = io.load(path)
    if not isinstance(getattr(model, "config", None), GPTConfig):
        raise io.ModelFileError(f"not a GPT model file (it holds a {type(model).__name__})")
    return twin(model, torch).eval()
