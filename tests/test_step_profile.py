"""playground/bench/step_profile.py on a GPT step (CPython): where the time lands."""
import numpy as np

from engine import manual_seed
from engine.nn.utils import clip_grad_norm_
from playground.apps.gpt.model import GPT, GPTConfig
from playground.bench import step_profile


def _gpt_step():
    manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=4, n_embd=32, block_size=16, vocab_size=20))
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
    x = np.random.default_rng(0).integers(0, 20, (4, 17))
    x, y = x[:, :-1], x[:, 1:]  # made here: the step's own Python lands in "other"

    def step():
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def test_gpt_step_profile_names_products_attention_elementwise_optimizer_graph():
    p = step_profile.profile(_gpt_step(), steps=3, warmup=1)
    cats = {c["category"]: c["ms_per_step"] for c in p["categories"]}
    assert set(cats) <= set(step_profile.CATEGORIES)
    for name in ("products", "attention", "elementwise", "embedding", "loss", "optimizer",
                 "graph"):
        assert cats.get(name, 0) > 0, (name, cats)
    assert cats.get("other", 0) < 0.05 * sum(cats.values())
    # GELU and LayerNorm are elementwise, attention's softmax is attention: none is "graph"
    top = {e["function"]: e["category"] for e in p["top"]}
    for fn, cat in top.items():
        if "seqops" in fn:
            assert cat in ("elementwise", "attention"), (fn, cat)


def test_products_made_inside_attention_count_as_attention():
    # the seam's products are split by who asked: Linear's are products, attention's are its own
    import engine.backend
    from engine.nn import functional, seqops
    seam = (engine.backend.__file__, engine.backend.matmul.__code__.co_firstlineno, "matmul")
    blas = ("~", 0, "<built-in method numpy.matmul>")
    linear = (functional.__file__, functional.linear.__code__.co_firstlineno, "linear")
    attn = (seqops.__file__, seqops.self_attention.__code__.co_firstlineno, "self_attention")
    # (calls, calls, own time, cumulative time, {caller: (.., .., own time, cumulative)})
    stats = {blas: (4, 4, 1.0, 1.0, {seam: (4, 4, 1.0, 1.0)}),
             seam: (4, 4, 0.01, 1.01, {linear: (3, 3, 0.0075, 0.4),   # 3 small products
                                       attn: (1, 1, 0.0025, 0.61)}),  # 1 large one
             linear: (3, 3, 0.0, 0.4, {}), attn: (1, 1, 0.0, 0.61, {})}
    per, _ = step_profile.shares(stats)
    assert abs(per["products"] - 0.4) < 0.01 and abs(per["attention"] - 0.61) < 0.01
