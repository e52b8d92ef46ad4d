"""NDS ResNet / ResNeXt-A spaces (`nds-resnet`, `nds-resnexta`); importing registers them."""

from supernet_bench.spaces.nds.space import NDSResNet, NDSResNeXtA, NDSSpace

__all__ = ["NDSResNet", "NDSResNeXtA", "NDSSpace"]
