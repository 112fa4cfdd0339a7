"""The NumPy reference for notebook 10's transformer (`lrp_helpers.reference.transformer`): each rule on a case
small enough to check by hand, then the whole model: Keras's logits, padding, and where relevance is conserved."""

import math

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import convert, rules
from lrp_helpers.reference import transformer as rt
from lrp_helpers.transformer import text_transformer

# ---------------------------------------------------------------------------------------------
# The rules by hand: one head, two tokens.
# ---------------------------------------------------------------------------------------------

# mixed = A·V with A = [[1/2, 1/2], [1/4, 3/4]] and one value dimension V = [2, 4]: mixed = [3, 3.5].
WEIGHTS = np.array([[0.5, 0.5], [0.25, 0.75]]).reshape(1, 1, 2, 2)  # (N, h, queries, keys)
VALUES = np.array([2.0, 4.0]).reshape(1, 2, 1, 1)  # (N, keys, h, dk)
MIXED_R = np.array([3.0, 7.0]).reshape(1, 2, 1, 1)  # R at mixed, so R/mixed = [1, 2]


def test_the_mixing_product_by_hand():
    np.testing.assert_allclose(np.einsum(rt.MIXING, WEIGHTS, VALUES).ravel(), [3.0, 3.5])


def test_the_uniform_rule_gives_each_factor_half():
    """R_A[q, k] = ½ A[q, k] V[k] R[q]/mixed[q] = ½ A[q, k] V[k] [1, 2][q]; R_V[k] = ½ V[k] Σ_q A[q, k] [1, 2][q]."""
    R_weights, R_values = rt.product_relevance(rules.Uniform(), rt.MIXING, WEIGHTS, VALUES, MIXED_R)
    np.testing.assert_allclose(R_weights.reshape(2, 2), [[0.5, 1.0], [0.5, 3.0]])
    np.testing.assert_allclose(R_values.ravel(), [1.0, 4.0])
    assert R_weights.sum() == R_values.sum() == MIXED_R.sum() / 2


def test_holding_the_attention_weights_constant_gives_everything_to_the_values():
    R_weights, R_values = rt.product_relevance(rules.HoldConstant(), rt.MIXING, WEIGHTS, VALUES, MIXED_R)
    assert not R_weights.any()
    np.testing.assert_allclose(R_values.ravel(), [2.0, 8.0])  # V[k] Σ_q A[q, k] [1, 2][q]
    assert R_values.sum() == MIXED_R.sum()


def test_the_softmax_rule_by_hand():
    """x = [1, 1 + ln 3] gives s = [1/4, 3/4]; with R = [1, 2] (ΣR = 3), R_x = x ⊙ (R − 3s) = [1/4, −(1 + ln 3)/4],
    which sums to Σ x R − (Σ s x)(Σ R) = −(ln 3)/4, not to ΣR."""
    x, R = np.array([1.0, 1.0 + math.log(3)]), np.array([1.0, 2.0])
    s = rt.softmax(x)
    np.testing.assert_allclose(s, [0.25, 0.75])
    R_x = rt.softmax_relevance(x, R)
    np.testing.assert_allclose(R_x, [0.25, -0.25 * (1 + math.log(3))])
    np.testing.assert_allclose(R_x.sum(), (x * R).sum() - (s * x).sum() * R.sum())
    np.testing.assert_allclose(R_x.sum(), -math.log(3) / 4)


def test_the_softmax_rule_returns_nothing_for_equal_scores():
    """Equal inputs x = [2, 2]: s = [½, ½], R_x = 2·([1, 2] − 3/2) = [−1, 1], which sums to 0 whatever ΣR is."""
    R_x = rt.softmax_relevance(np.array([2.0, 2.0]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(R_x, [-1.0, 1.0])


def test_layer_norm_with_sigma_held_constant_by_hand():
    """x = [1, 3] (mean 2, σ = 1 with the norm's ε = 0), γ = [1, 2]: y = (x − 2)·γ = [−1, 2]. With R = [1, 1], s = R/y =
    [−1, ½]; the transpose gives g − mean(g) for g = s·γ = [−1, 1], so R_x = x ⊙ [−1, 1] = [−1, 3]: it sums to ΣR = 2.
    With β = [½, 0] in z, z = [−½, 2], s = [−2, ½], g = [−2, 1], R_x = x ⊙ [−1.5, 1.5] = [−1.5, 4.5]: not conserved."""
    x, gamma, R = np.array([[1.0, 3.0]]), np.array([1.0, 2.0]), np.array([[1.0, 1.0]])
    beta = np.array([0.5, 0.0])
    norm = rt.layer_norm(x, gamma, beta, epsilon=0.0)
    np.testing.assert_allclose(norm(x), [[-0.5, 2.0]])
    np.testing.assert_allclose(rt.linear_relevance(rules.Epsilon(0.0, bias=False), norm, x, R), [[-1.0, 3.0]])
    np.testing.assert_allclose(rt.linear_relevance(rules.Epsilon(0.0, bias=True), norm, x, R), [[-1.5, 4.5]])


def test_the_epsilon_rule_on_a_linear_map_by_hand():
    """One weight 3, bias 1: a = 2 gives z = 7, and ε = 1 makes it 8; R = 8 leaves 2·3·8/8 = 6 for a. Without the
    bias z = 6 + 1 = 7 and a gets 48/7; for a = −2, z = −6 + 1 − 1 = −6 (ε moves z away from 0): −2·3·8/(−6) = 8."""
    dense = rt.einsum_map("ni,io->no", np.array([[3.0]]), np.array([1.0]))
    R = np.array([[8.0]])
    np.testing.assert_allclose(rt.linear_relevance(rules.Epsilon(1.0), dense, np.array([[2.0]]), R), [[6.0]])
    np.testing.assert_allclose(
        rt.linear_relevance(rules.Epsilon(1.0, bias=False), dense, np.array([[2.0]]), R), [[48 / 7]]
    )
    np.testing.assert_allclose(rt.linear_relevance(rules.Epsilon(1.0), dense, np.array([[-2.0]]), R), [[8.0]])


def test_a_residual_sum_splits_in_proportion_to_its_summands():
    """x + f = 2 + 6 = 8: R = 4 splits 1 : 3."""
    np.testing.assert_allclose(rt.residual_split(np.array([2.0]), np.array([6.0]), np.array([4.0])), [[1.0], [3.0]])


# ---------------------------------------------------------------------------------------------
# The whole model: a small random text_transformer.
# ---------------------------------------------------------------------------------------------

VOCABULARY, LENGTH, DIMS, HEADS, HIDDEN = 50, 8, 8, 2, 16


@pytest.fixture(scope="module")
def model():
    """Random weights everywhere (biases, γ = 1 + noise and β included), moderate enough that LRP-0 without a
    stabiliser stays well-conditioned."""
    keras = text_transformer(VOCABULARY, length=LENGTH, dims=DIMS, heads=HEADS, hidden=HIDDEN)
    rng = np.random.default_rng(0)
    keras.set_weights(
        [rng.normal(scale=0.2, size=w.shape) + ("gamma" in w.name) for w in keras.weights]  # fmt: skip
    )
    return keras


@pytest.fixture(scope="module")
def reference(model):
    return convert.from_keras_transformer(model)


@pytest.fixture(scope="module")
def ids():
    """Messages with padding (id 0) at the end, in the middle, and one with a single real token."""
    ids = np.random.default_rng(1).integers(1, VOCABULARY, size=(12, LENGTH))
    ids[1, 5:], ids[2, 2:], ids[3, 3], ids[4, 1:] = 0, 0, 0, 0
    return ids


def bias_free(attention: str) -> rules.Composite:
    """`rules.transformer_composite(attention)` with LRP-0 without biases on every linear map."""
    return rules.Composite(rules.Epsilon(0.0, bias=False), by_kind=rules.transformer_composite(attention).by_kind)


def rounding(explanation) -> float:
    """What float64 rounding may leave of an exact identity: 1e-12 of the largest relevance the backward pass
    carried (LRP-0 without a stabiliser carries large values wherever a z is close to 0)."""
    return 1e-12 * max(np.abs(R).max() for R in explanation.layers.values())


def totals(explanation, name):
    """Σ R at the named tensor, per message."""
    R = explanation.layers[name]
    return R.reshape(len(R), -1).sum(axis=1)


def test_the_reference_computes_the_keras_logits(model, reference, ids):
    keras_logits = tf.keras.Model(model.input, model.get_layer("logits").output).predict(ids, verbose=0)
    np.testing.assert_allclose(reference.logits(ids), keras_logits, rtol=1e-5, atol=1e-5 * np.abs(keras_logits).max())


def test_only_a_text_transformer_is_converted():
    dense = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not a text_transformer"):
        convert.from_keras_transformer(dense)


def test_relevance_at_every_named_tensor_in_forward_order(reference, ids):
    explanation = reference.explain(ids, rules.transformer_composite("attnlrp"), target=1)
    names = list(explanation.layers)
    assert names[:4] == ["embedding", "block1_norm1", "block1_query", "block1_key"]
    assert names[-6:] == ["block2_gelu", "block2_mlp_out", "block2", "final_norm", "pool", "logits"]
    assert len(names) == 1 + 2 * 14 + 3
    n, dk = len(ids), DIMS // HEADS
    expected = {"block2_value": (n, LENGTH, HEADS, dk), "block1_scores": (n, HEADS, LENGTH, LENGTH)}
    expected |= {"block1_mlp_in": (n, LENGTH, HIDDEN), "block1": (n, LENGTH, DIMS), "pool": (n, DIMS)}
    assert {name: explanation.layers[name].shape for name in expected} == expected
    assert explanation.input.shape == ids.shape and (explanation.targets == 1).all()
    np.testing.assert_array_equal(explanation.logits, reference.logits(ids)[:, 1])


@pytest.mark.parametrize(
    "composite",
    [rules.transformer_composite("attnlrp"), rules.transformer_composite("cp", 0.1), bias_free("attnlrp")],
    ids=repr,
)
def test_padding_gets_exactly_zero_relevance(reference, ids, composite):
    explanation = reference.explain(ids, composite)
    padding = ids == 0
    assert (explanation.input[padding] == 0).all() and np.abs(explanation.input[~padding]).min() > 0
    for name, R in explanation.layers.items():
        if name.endswith(("_scores", "_softmax")):  # (N, h, queries, keys)
            keys = np.broadcast_to(padding[:, None, None, :], R.shape)
            queries = np.broadcast_to(padding[:, None, :, None], R.shape)
            assert (R[keys | queries] == 0).all(), name
        elif name not in ("pool", "logits"):  # (N, L, ...)
            assert (R[padding] == 0).all(), name


def test_cp_lrp_without_biases_conserves_exactly(reference, ids):
    """With the attention weights held constant the model is linear in the values, every linear map without its
    bias conserves, the residual splits and LayerNorm (σ constant) conserve: tokens sum to the logit."""
    explanation = reference.explain(ids, bias_free("cp"))
    exactly = {"rtol": 1e-8, "atol": rounding(explanation)}
    np.testing.assert_allclose(explanation.input.sum(axis=1), explanation.logits, **exactly)
    for name in ("embedding", "block1_residual1", "block1", "block2_residual1", "block2", "final_norm", "pool"):
        np.testing.assert_allclose(totals(explanation, name), explanation.logits, **exactly, err_msg=name)
    for name in ("scores", "softmax", "query", "key"):
        assert not explanation.layers[f"block1_{name}"].any() and not explanation.layers[f"block2_{name}"].any()


def test_attnlrp_without_biases_gains_or_loses_relevance_only_at_the_softmax(reference, ids):
    """Every other step conserves; the softmax rule is a first-order Taylor term, R_x = x ⊙ (R − s ΣR), summing to
    Σ x R − (Σ s x)(Σ R) per row of the attention, which equals ΣR only by accident (with equal scores it is 0
    whatever R is). So the tokens' total differs from the logit by exactly what the two softmaxes change."""
    explanation = reference.explain(ids, bias_free("attnlrp"))
    tensors = reference.forward(ids)

    def same(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=rounding(explanation))

    softmax_change = 0
    for block, before in (("block1", "embedding"), ("block2", "block1")):

        def total(name, block=block):
            return totals(explanation, f"{block}_{name}")

        same(total("softmax"), total("mixed") / 2)  # Uniform: half to the attention weights, half to the values
        same(total("value"), total("mixed") / 2)
        same(total("query"), total("scores") / 2)
        same(total("key"), total("scores") / 2)
        same(total("mixed"), total("attention"))
        same(total("norm1"), total("query") + total("key") + total("value"))
        same(total("mlp_in"), total("mlp_out"))  # GELU's identity rule and a bias-free linear map
        np.testing.assert_array_equal(explanation.layers[f"{block}_mlp_in"], explanation.layers[f"{block}_gelu"])
        same(total("residual1"), totals(explanation, block))
        x, s = tensors[f"{block}_softmax_input"], tensors[f"{block}_softmax"]
        R = explanation.layers[f"{block}_softmax"]
        taylor = (x * R).sum(axis=-1) - (s * x).sum(axis=-1) * R.sum(axis=-1)  # per message, head and query
        same(total("scores"), taylor.reshape(len(ids), -1).sum(axis=1))
        same(totals(explanation, before) - totals(explanation, block), total("scores") - total("softmax"))
        softmax_change = softmax_change + total("scores") - total("softmax")
    same(explanation.input.sum(axis=1) - explanation.logits, softmax_change)
    assert np.median(np.abs(explanation.input.sum(axis=1) / explanation.logits - 1)) > 0.01


ATTNLRP = rules.transformer_composite("attnlrp").by_kind


@pytest.mark.parametrize(
    "composite, operation",
    [
        (rules.Composite(rules.Epsilon(), by_kind={**ATTNLRP, rules.SOFTMAX: rules.Gamma()}), "softmax"),
        (rules.Composite(rules.Uniform(), by_kind=ATTNLRP), "dense"),
        (rules.Composite(rules.Epsilon(), by_kind={**ATTNLRP, rules.MIXING: rules.Epsilon()}), "mixing"),
        (rules.Composite(rules.Epsilon(), by_kind={**ATTNLRP, rules.NORMALIZATION: rules.Epsilon()}), "normalization"),
        (rules.Composite(rules.Epsilon(), by_kind={**ATTNLRP, rules.ACTIVATION: rules.Uniform()}), "activation"),
        (rules.Composite(rules.Epsilon(), {"logits": rules.AlphaBeta()}, ATTNLRP), "dense"),
    ],
    ids=["gamma-softmax", "uniform-dense", "epsilon-mixing", "epsilon-norm", "uniform-gelu", "alphabeta-logits"],
)
def test_a_rule_that_does_not_apply_is_refused(reference, ids, composite, operation):
    with pytest.raises(TypeError, match=f"does not apply to a {operation} operation"):
        reference.explain(ids, composite)
