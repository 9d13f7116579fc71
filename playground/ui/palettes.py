"""Colour palettes for heat-maps."""
import numpy as np


def diverging(lo, mid, hi, n=64):
    """n hex colours running lo → mid → hi (RGB triples), linearly on each half."""
    lo, mid, hi = (np.array(c, float) for c in (lo, mid, hi))
    out = []
    for t in np.linspace(0, 1, n):
        c = lo + (mid - lo) * (t * 2) if t < 0.5 else mid + (hi - mid) * ((t - 0.5) * 2)
        out.append("#%02x%02x%02x" % tuple(int(v) for v in c))
    return out


# TF Playground's: orange (-1) → white → blue (+1)
ORANGE_BLUE = diverging((245, 147, 34), (232, 234, 235), (8, 119, 189))
# GAN Lab's discriminator: purple (fake) → white → green (real)
PURPLE_GREEN = diverging((123, 50, 148), (247, 247, 247), (0, 136, 55))
