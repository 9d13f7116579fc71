"""Model recipes shared by the CLI, the apps and the benchmarks."""
from engine import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}
DIGITS_EPOCHS = {"softmax": 10, "mlp": 10, "cnn": 5}


def digits_model(kind="mlp", hidden=(256, 128), activation="relu"):
    """softmax regression, an MLP (784-256-128-10 by default) or the small CNN, for 1x28x28 digits."""
    act = ACTIVATIONS[activation]
    if kind == "softmax":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    if kind == "mlp":
        layers, width = [nn.Flatten()], 784
        for h in hidden:
            layers += [nn.Linear(width, h), act()]
            width = h
        return nn.Sequential(*layers, nn.Linear(width, 10))
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3), act(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3), act(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 5 * 5, 128), act(), nn.Linear(128, 10))
    raise ValueError(f"unknown digits model {kind!r}: choose softmax, mlp or cnn")
