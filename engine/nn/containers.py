"""Containers: Sequential (apply in order) and ModuleList (hold a list), as in torch.nn."""
import collections

from .module import Module, from_spec, register


@register
class Sequential(Module):
    """Apply modules in order. Sequential(a, b) names them '0', '1'; an OrderedDict names them."""

    def __init__(self, *mods):
        super().__init__()
        items = mods[0].items() if len(mods) == 1 and isinstance(mods[0], dict) else \
            ((str(i), m) for i, m in enumerate(mods))
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self.named_children())
        if isinstance(i, slice):
            return Sequential(collections.OrderedDict(mods[i]))
        return mods[i][1]

    def __len__(self):
        return sum(1 for _ in self.children())

    def __iter__(self):
        return self.children()

    def append(self, m):
        setattr(self, str(len(self)), m)
        return self

    def spec(self):
        names = [n for n, _ in self.named_children()]
        s = {"type": type(self).__name__, "children": [m.spec() for m in self.children()]}
        if names != [str(i) for i in range(len(names))]:
            s["names"] = names
        return s

    @classmethod
    def rebuild(cls, spec):
        mods = [from_spec(c) for c in spec["children"]]
        if "names" in spec:
            return cls(collections.OrderedDict(zip(spec["names"], mods)))
        return cls(*mods)


@register
class ModuleList(Module):
    """A list of Modules whose parameters are registered (names '0', '1', ...)."""

    def __init__(self, mods=()):
        super().__init__()
        for m in mods:
            self.append(m)

    def append(self, m):
        setattr(self, str(len(self)), m)
        return self

    def __getitem__(self, i):
        return list(self.children())[i]

    def __len__(self):
        return sum(1 for _ in self.children())

    def __iter__(self):
        return self.children()

    def spec(self):
        return {"type": "ModuleList", "children": [m.spec() for m in self]}

    @classmethod
    def rebuild(cls, spec):
        return cls([from_spec(c) for c in spec["children"]])
