"""Learning-rate schedules, PyTorch-style: build one on an optimiser (that sets the lr for
step 0), call `.step()` once per epoch (or per batch) after `optimizer.step()`;
`get_last_lr()` returns the lr of each parameter group. As in PyTorch each group follows
the schedule from its own starting lr (`base_lrs`).
"""
import math

__all__ = ["CosineAnnealingLR", "LRScheduler", "LinearLR", "LinearWarmup", "StepLR", "cosine"]


def cosine(t, base_lr, eta_min=0.0):
    """The cosine annealing curve at ``t``, the fraction of the run done (0: base_lr, 1:
    eta_min): CosineAnnealingLR's lr, for a caller that counts progress itself (in samples)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t)) / 2


class LRScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, base_lr, lr):
        """The lr for epoch `self.last_epoch` of a group that started at base_lr, now at lr."""
        raise NotImplementedError

    def get_lr(self):
        """Each group's lr for epoch `self.last_epoch`."""
        return [self.lr_at(base, g["lr"])
                for base, g in zip(self.base_lrs, self.optimizer.param_groups)]

    def step(self):
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, sd):
        self.__dict__.update(sd)


class StepLR(LRScheduler):
    """Multiply the lr by gamma every step_size epochs (like PyTorch, it scales the
    current lr, so a change you make by hand carries on)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, lr):
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return lr
        return lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2:
    from base_lr down to eta_min at epoch T_max (and back up after, as PyTorch does)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max < 1:
            raise ValueError(f"T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, lr):
        return cosine(self.last_epoch / self.T_max, base_lr, self.eta_min)


class LinearLR(LRScheduler):
    """lr = base_lr * factor, the factor going linearly from start_factor to end_factor
    over total_iters epochs, then staying there (PyTorch's LinearLR)."""

    def __init__(self, optimizer, start_factor=1 / 3, end_factor=1.0, total_iters=5):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1):
            raise ValueError(f"need 0 < start_factor <= 1 and 0 <= end_factor <= 1, "
                             f"got {start_factor}, {end_factor}")
        if total_iters < 1:
            raise ValueError(f"total_iters must be >= 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, lr):
        frac = min(self.last_epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class LinearWarmup(LinearLR):
    """Warm up: lr = base_lr * (k+1)/warmup_steps at step k, then base_lr from step
    warmup_steps-1 on."""

    def __init__(self, optimizer, warmup_steps):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
        super().__init__(optimizer, start_factor=1 / warmup_steps, end_factor=1.0,
                         total_iters=max(warmup_steps - 1, 1))
