"""An independent LRP implementation in NumPy: short, readable, float64, no TensorFlow inside.

This is the code notebook 01 teaches from and the yardstick the tests hold iNNvestigate to.

Every linear layer (convolution, dense, BatchNorm at inference) is explained with the same
four steps (Montavon et al., "Layer-wise Relevance Propagation: An Overview", 2019)::

    z = rho(layer)(a) + eps     # 1. forward pass with the rule's modified weights
    s = R / z                   # 2. divide the relevance by it
    c = rho(layer)^T (s)        # 3. send it back along the (modified) weights: a gradient
    R_in = a * c                # 4. multiply by the input

Rules are small objects that say how to do these steps (`Epsilon`, `Gamma`, `AlphaBeta`, ...): each
computes a rule spec of `lrp_helpers.rules`, the definitions every engine shares; a `Composite` picks a
rule per layer. Layers without weights need no rule: ReLU and Dropout pass relevance on unchanged,
max-pooling hands it to the winning input, Flatten reshapes it; a residual connection (`Residual`) splits it
between its two summands.

`lrp_helpers.convert.from_keras` reads a trained Keras model into these layers; this package imports nothing
but NumPy and the package's definitions (`lrp_helpers.rules`, `lrp_helpers.targets`, `lrp_helpers.conditions`).
Its modules: `layers`, `relevance` (the rules' implementations), `network` (the backward pass, conservation,
conditional relevance) and `transformer` (the small transformer of notebook 10 and AttnLRP's rules, `Transformer`).
"""

from ..rules import Composite
from .layers import (
    ChannelAffine,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    GlobalMaxPool1D,
    Identity,
    Layer,
    Linear,
    MaxPool1D,
    MaxPool2D,
    ReLU,
    Residual,
)
from .network import Conservation, Explanation, Network, conservation, depth_composite, linear_layers
from .relevance import (
    IMPLEMENTATIONS,
    LRP0,
    AlphaBeta,
    Epsilon,
    Flat,
    Gamma,
    WSquare,
    ZBox,
    ZPlus,
    _safe_divide,
    implementation,
)
from .transformer import Block, Transformer

__all__ = [
    "AlphaBeta", "Block", "ChannelAffine", "Composite", "Conservation", "Conv1D", "Conv2D", "Dense", "Embedding",
    "Epsilon", "Explanation", "Flat", "Flatten", "Gamma", "GlobalMaxPool1D", "IMPLEMENTATIONS", "Identity",
    "LRP0", "Layer", "Linear", "MaxPool1D", "MaxPool2D", "Network", "ReLU", "Residual", "Transformer", "WSquare",
    "ZBox", "ZPlus", "_safe_divide", "conservation", "depth_composite", "implementation", "linear_layers",
]  # fmt: skip
