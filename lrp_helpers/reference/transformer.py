"""The small transformer of notebook 10 (`lrp_helpers.transformer.text_transformer`) in NumPy, float64: its
forward pass, and LRP through it with AttnLRP's or CP-LRP's rules (`rules.transformer_composite`).

The forward pass, on token ids (N, L) with 0 as padding, names the tensors the relevance is reported at::

    embedding  = E[id] + P[position]                                          (N, L, d)
    per block b:
      b_norm1     = LayerNorm₁(x)                                             (N, L, d)
      b_query, b_key, b_value = b_norm1·W + b, one per head                   (N, L, h, dk)
      b_scores    = (b_query/√dk)·b_keyᵀ                                       (N, h, L, L)
      b_softmax   = softmax(b_scores + mask), mask = −1e9 on padding keys     (N, h, L, L)
      b_mixed     = b_softmax·b_value                                         (N, L, h, dk)
      b_attention = b_mixed·Wo + bo                                           (N, L, d)
      b_residual1 = x + b_attention
      b_norm2     = LayerNorm₂(b_residual1)
      b_mlp_in    = b_norm2·W1 + b1,  b_gelu = GELU(b_mlp_in),  b_mlp_out = b_gelu·W2 + b2
      b           = b_residual1 + b_mlp_out
    final_norm = LayerNorm(last block),  pool = mean over real tokens (N, d),  logits = pool·W + b (N, 2)

Each operation is explained by the rule the composite picks for the name of the tensor it produces and its
kind (`composite.rule_for(name, kind)`):

    linear maps (query, key, value, attention, mlp_in, mlp_out, pool, logits)  DENSE          Epsilon
    LayerNorm (norm1, norm2, final_norm): its σ                               NORMALIZATION  Identity
                                          then its linear part                DENSE          Epsilon
    GELU (gelu)                                                               ACTIVATION     Identity
    scores = Q̃·Kᵀ, mixed = A·V                                               SCORES, MIXING Uniform, HoldConstant
    softmax                                                                   SOFTMAX        SoftmaxTaylor

A residual sum splits R in proportion to its summands; a token's relevance is the sum over dimensions of R
at `embedding`. Padding never reaches the logit (its keys get zero attention, the mean leaves it out), so
every rule hands it exactly zero relevance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import rules
from ..rules import Composite
from ..targets import resolve as resolve_targets
from .network import Explanation
from .relevance import _safe_divide

MASK = -1e9  # added to the scores of padding keys, as Keras's masked softmax does
SCORES = "nqhc,nkhc->nhqk"  # scores = Q̃·Kᵀ per head, as an einsum
MIXING = "nhqk,nkhc->nqhc"  # mixed = A·V per head
BLOCK_TENSORS = (
    "norm1", "query", "key", "value", "scores", "softmax", "mixed", "attention", "residual1", "norm2", "mlp_in",
    "gelu", "mlp_out",
)  # fmt: skip

# The rule specs the reference computes for each kind of operation; any other spec is refused.
APPLICABLE = {
    rules.DENSE: (rules.Epsilon,),
    rules.NORMALIZATION: (rules.Identity,),
    rules.ACTIVATION: (rules.Identity,),
    rules.SCORES: (rules.Uniform, rules.HoldConstant),
    rules.MIXING: (rules.Uniform, rules.HoldConstant),
    rules.SOFTMAX: (rules.SoftmaxTaylor,),
}


def rule_for(composite: Composite, name: str, kind: str) -> rules.Rule:
    """The spec the composite picks for the operation producing `name`, of kind `kind`, if it applies."""
    rule = rules.spec(composite.rule_for(name, kind))
    if not isinstance(rule, APPLICABLE[kind]):
        known = " or ".join(spec.__name__ for spec in APPLICABLE[kind])
        raise TypeError(
            f"{name}: {rule!r} does not apply to a {kind} operation; the transformer reference computes {known} "
            f"there (see rules.transformer_composite)"
        )
    return rule


# ---------------------------------------------------------------------------------------------
# Linear maps and the ε rule.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearMap:
    """z = apply(a) + bias with `apply` linear; `transpose` is its adjoint, which sends s = R/z back (step 3)."""

    apply: Callable[[np.ndarray], np.ndarray]
    transpose: Callable[[np.ndarray], np.ndarray]
    bias: np.ndarray | float = 0.0

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return self.apply(a) + self.bias


def einsum_map(equation: str, weight: np.ndarray, bias: np.ndarray | float = 0.0) -> LinearMap:
    """a ↦ einsum(equation, a, weight) + bias; for "a,w->z" the transpose is "z,w->a"."""
    operands, result = equation.split("->")
    a, w = operands.split(",")
    return LinearMap(
        lambda x: np.einsum(equation, x, weight), lambda s: np.einsum(f"{result},{w}->{a}", s, weight), bias
    )


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float) -> LinearMap:
    """LayerNorm over the last axis with σ = √(var(x) + ε) of this x held constant: the linear map
    v ↦ (v − mean(v))·γ/σ, plus β. Its transpose is s ↦ g − mean(g) with g = s·γ/σ."""
    sigma = np.sqrt(x.var(axis=-1, keepdims=True) + epsilon)

    def centred(v):
        return v - v.mean(axis=-1, keepdims=True)

    return LinearMap(lambda v: centred(v) * gamma / sigma, lambda s: centred(s * gamma / sigma), beta)


def linear_relevance(rule: rules.Epsilon, linear: LinearMap, a: np.ndarray, R: np.ndarray) -> np.ndarray:
    """LRP-ε: z = apply(a) (+ bias if rule.bias) + ε·sign(z), R_a = a ⊙ transpose(R/z)."""
    z = linear.apply(a) + (linear.bias if rule.bias else 0.0)
    z = z + rule.epsilon * np.where(z >= 0, 1.0, -1.0)
    return a * linear.transpose(_safe_divide(R, z))


def dense_relevance(composite: Composite, name: str, linear: LinearMap, a: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The linear map producing `name`, explained by the composite's rule for it."""
    return linear_relevance(rule_for(composite, name, rules.DENSE), linear, a, R)


def norm_relevance(composite: Composite, name: str, norm: LinearMap, x: np.ndarray, R: np.ndarray) -> np.ndarray:
    """LayerNorm `name` at its input x: σ held constant (Identity, the one normalisation rule) leaves the
    linear map `norm` (`layer_norm`), explained by the composite's rule for it as a linear map."""
    rule_for(composite, name, rules.NORMALIZATION)
    return dense_relevance(composite, name, norm, x, R)


# ---------------------------------------------------------------------------------------------
# The other operations' rules.
# ---------------------------------------------------------------------------------------------


def product_relevance(
    rule: rules.Uniform | rules.HoldConstant, equation: str, a: np.ndarray, b: np.ndarray, R: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(R_a, R_b) for y = einsum(equation, a, b): LRP-0 to each factor with the other held constant,
    R_a = a ⊙ ((R/y)·bᵀ), R_b = b ⊙ (aᵀ·(R/y)); Uniform halves both, HoldConstant gives all to b."""
    operands, result = equation.split("->")
    a_axes, b_axes = operands.split(",")
    s = _safe_divide(R, np.einsum(equation, a, b))
    R_b = b * np.einsum(f"{a_axes},{result}->{b_axes}", a, s)
    if isinstance(rule, rules.HoldConstant):
        return np.zeros_like(a), R_b
    return a * np.einsum(f"{result},{b_axes}->{a_axes}", s, b) / 2, R_b / 2


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_relevance(x: np.ndarray, R: np.ndarray) -> np.ndarray:
    """SoftmaxTaylor over the last axis: R_x = x ⊙ (R − s·ΣR), s = softmax(x), x the softmax's input."""
    return x * (R - softmax(x) * R.sum(axis=-1, keepdims=True))


_erf = np.vectorize(math.erf, otypes=[float])


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)), as Keras's "gelu"."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def residual_split(x: np.ndarray, f: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R at x + f split in proportion to the summands: (x·R/(x+f), f·R/(x+f))."""
    s = _safe_divide(R, x + f)
    return x * s, f * s


# ---------------------------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Block:
    """One pre-LayerNorm encoder block's weights: projections (d, h, dk) with biases (h, dk), the output
    projection (h, dk, d), the MLP (d, hidden) and (hidden, d)."""

    name: str
    norm1_gamma: np.ndarray
    norm1_beta: np.ndarray
    query_weight: np.ndarray
    query_bias: np.ndarray
    key_weight: np.ndarray
    key_bias: np.ndarray
    value_weight: np.ndarray
    value_bias: np.ndarray
    output_weight: np.ndarray
    output_bias: np.ndarray
    norm2_gamma: np.ndarray
    norm2_beta: np.ndarray
    mlp_in_weight: np.ndarray
    mlp_in_bias: np.ndarray
    mlp_out_weight: np.ndarray
    mlp_out_bias: np.ndarray

    def _name(self, tensor: str) -> str:
        return f"{self.name}_{tensor}"

    def _linear(self, tensor: str) -> LinearMap:
        """The linear map, with its bias, that produces `tensor`."""
        equation, weight, bias = {
            "query": ("nld,dhc->nlhc", self.query_weight, self.query_bias),
            "key": ("nld,dhc->nlhc", self.key_weight, self.key_bias),
            "value": ("nld,dhc->nlhc", self.value_weight, self.value_bias),
            "attention": ("nlhc,hcd->nld", self.output_weight, self.output_bias),
            "mlp_in": ("nli,io->nlo", self.mlp_in_weight, self.mlp_in_bias),
            "mlp_out": ("nli,io->nlo", self.mlp_out_weight, self.mlp_out_bias),
        }[tensor]
        return einsum_map(equation, weight, bias)

    def _norm(self, tensor: str, x: np.ndarray, epsilon: float) -> LinearMap:
        """LayerNorm `tensor` ("norm1", "norm2") at its input x, σ held constant."""
        return layer_norm(x, getattr(self, f"{tensor}_gamma"), getattr(self, f"{tensor}_beta"), epsilon)

    def forward(self, x: np.ndarray, real: np.ndarray, norm_epsilon: float) -> dict[str, np.ndarray]:
        """The block's named tensors (module doc) and `{name}_softmax_input`, for its input x (N, L, d);
        `real` (N, L) marks the tokens that are not padding."""
        norm1 = self._norm("norm1", x, norm_epsilon)(x)
        query, key, value = (self._linear(part)(norm1) for part in ("query", "key", "value"))
        scores = np.einsum(SCORES, query / math.sqrt(query.shape[-1]), key)
        softmax_input = scores + np.where(real, 0.0, MASK)[:, None, None, :]
        weights = softmax(softmax_input)
        mixed = np.einsum(MIXING, weights, value)
        attention = self._linear("attention")(mixed)
        residual1 = x + attention
        norm2 = self._norm("norm2", residual1, norm_epsilon)(residual1)
        mlp_in = self._linear("mlp_in")(norm2)
        activated = gelu(mlp_in)
        mlp_out = self._linear("mlp_out")(activated)
        named = dict(
            norm1=norm1, query=query, key=key, value=value, scores=scores, softmax_input=softmax_input,
            softmax=weights, mixed=mixed, attention=attention, residual1=residual1, norm2=norm2, mlp_in=mlp_in,
            gelu=activated, mlp_out=mlp_out,
        )  # fmt: skip
        return {**{self._name(tensor): array for tensor, array in named.items()}, self.name: residual1 + mlp_out}

    def relevance(self, x: np.ndarray, t: dict, composite: Composite, norm_epsilon: float, R: dict) -> np.ndarray:
        """The relevance of the block's input x, given R at its output (R[self.name]); puts the relevance at
        each of its named tensors into R. `t` holds the forward pass's tensors."""
        n = self._name

        def dense(tensor, a, R_out):
            return dense_relevance(composite, n(tensor), self._linear(tensor), a, R_out)

        def norm(tensor, a, R_out):
            return norm_relevance(composite, n(tensor), self._norm(tensor, a, norm_epsilon), a, R_out)

        h_share, R[n("mlp_out")] = residual_split(t[n("residual1")], t[n("mlp_out")], R[self.name])
        R[n("gelu")] = dense("mlp_out", t[n("gelu")], R[n("mlp_out")])
        rule_for(composite, n("gelu"), rules.ACTIVATION)  # Identity, the one activation rule: R passes unchanged
        R[n("mlp_in")] = R[n("gelu")]
        R[n("norm2")] = dense("mlp_in", t[n("norm2")], R[n("mlp_in")])
        R[n("residual1")] = h_share + norm("norm2", t[n("residual1")], R[n("norm2")])

        x_share, R[n("attention")] = residual_split(x, t[n("attention")], R[n("residual1")])
        R[n("mixed")] = dense("attention", t[n("mixed")], R[n("attention")])
        mixing = rule_for(composite, n("mixed"), rules.MIXING)
        R[n("softmax")], R[n("value")] = product_relevance(
            mixing, MIXING, t[n("softmax")], t[n("value")], R[n("mixed")]
        )
        rule_for(composite, n("softmax"), rules.SOFTMAX)  # SoftmaxTaylor, the one softmax rule
        R[n("scores")] = softmax_relevance(t[n("softmax_input")], R[n("softmax")])
        scaled_query = t[n("query")] / math.sqrt(t[n("query")].shape[-1])  # R at Q/√dk is R at Q
        scoring = rule_for(composite, n("scores"), rules.SCORES)
        R[n("query")], R[n("key")] = product_relevance(scoring, SCORES, scaled_query, t[n("key")], R[n("scores")])
        R[n("norm1")] = sum(dense(part, t[n("norm1")], R[n(part)]) for part in ("query", "key", "value"))
        return x_share + norm("norm1", x, R[n("norm1")])


@dataclass(eq=False)
class Transformer:
    """The weights of `text_transformer` (`convert.from_keras_transformer` reads them): the token table
    (vocabulary, d), the positions (length, d), the blocks, the final LayerNorm's γ and β, the logits (d, 2)."""

    tokens: np.ndarray
    positions: np.ndarray
    blocks: list[Block]
    final_gamma: np.ndarray
    final_beta: np.ndarray
    logits_weight: np.ndarray
    logits_bias: np.ndarray
    norm_epsilon: float = 1e-5
    padding_id: int = 0

    @property
    def names(self) -> list[str]:
        """The named tensors, in forward order."""
        per_block = [name for block in self.blocks for name in (*map(block._name, BLOCK_TENSORS), block.name)]
        return ["embedding", *per_block, "final_norm", "pool", "logits"]

    def _stream(self) -> list[str]:
        """The residual stream: the embedding, then each block's output."""
        return ["embedding", *(block.name for block in self.blocks)]

    def _final_norm(self, x: np.ndarray) -> LinearMap:
        return layer_norm(x, self.final_gamma, self.final_beta, self.norm_epsilon)

    def _pool(self, real: np.ndarray) -> LinearMap:
        """The mean over each message's real tokens, a linear map without bias."""
        weights = real / np.maximum(real.sum(axis=1, keepdims=True), 1)
        return einsum_map("nld,nl->nd", weights)

    def _logits(self) -> LinearMap:
        return einsum_map("nd,dc->nc", self.logits_weight, self.logits_bias)

    def forward(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Every named tensor (`names`), and each block's `{block}_softmax_input` (scores + mask)."""
        ids = np.asarray(ids).astype(np.int64)
        real = ids != self.padding_id
        stream = self._stream()
        t = {"embedding": self.tokens[ids] + self.positions[: ids.shape[1]]}
        for block, x_name in zip(self.blocks, stream):
            t |= block.forward(t[x_name], real, self.norm_epsilon)
        t["final_norm"] = self._final_norm(t[stream[-1]])(t[stream[-1]])
        t["pool"] = self._pool(real)(t["final_norm"])
        t["logits"] = self._logits()(t["pool"])
        return t

    def logits(self, ids: np.ndarray) -> np.ndarray:
        return self.forward(ids)["logits"]

    def explain(self, ids: np.ndarray, composite: rules.Rule | Composite, target=None) -> Explanation:
        """Explain the logit of `target` (None: the predicted class; an int; or one per message). `input` is
        each token's relevance (N, L); `layers` the relevance at every named tensor, in forward order."""
        composite = rules.as_composite(composite)
        ids = np.asarray(ids).astype(np.int64)
        t, stream = self.forward(ids), self._stream()
        logits, rows = t["logits"], np.arange(len(ids))
        explained = resolve_targets("predicted" if target is None else target, logits)
        R = {"logits": np.zeros_like(logits)}
        R["logits"][rows, explained] = logits[rows, explained]
        R["pool"] = dense_relevance(composite, "logits", self._logits(), t["pool"], R["logits"])
        pool = self._pool(ids != self.padding_id)
        R["final_norm"] = dense_relevance(composite, "pool", pool, t["final_norm"], R["pool"])
        top = t[stream[-1]]
        R[stream[-1]] = norm_relevance(composite, "final_norm", self._final_norm(top), top, R["final_norm"])
        for block, x_name in zip(reversed(self.blocks), reversed(stream[:-1])):
            R[x_name] = block.relevance(t[x_name], t, composite, self.norm_epsilon, R)
        return Explanation(
            input=R["embedding"].sum(axis=-1),
            layers={name: R[name] for name in self.names},
            logits=logits[rows, explained],
            targets=explained,
        )
