"""GAN studio: an MNIST GAN and the 2-D anatomy (`panel serve playground/apps/gan`)."""
