"""What notebook 10 measures besides LRP: raw attention, attention rollout, occlusion and token deletion
(lrp_helpers.transformer), and the attention weights and input × gradient they take from the transformer
engine — on cases whose answer can be worked out by hand, and on a small random transformer."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import engine, transformer
from lrp_helpers.text import PADDING_ID

LENGTH = 8
IDS = np.array([[5, 6, 7, 0, 0, 0, 0, 0], [9, 10, 11, 12, 13, 14, 15, 16]], dtype=np.int32)


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(0)
    return transformer.text_transformer(20, length=LENGTH, dims=8, heads=2, hidden=16)


def _uniform(n, heads=2, length=LENGTH):
    """Attention weights (1, heads, length, length): every query spreads its attention evenly over the first n keys."""
    weights = np.zeros((1, heads, length, length))
    weights[..., :n] = 1 / n
    return weights


# Rollout and raw attention, by hand


def test_the_rollout_of_identity_attention_is_the_identity():
    identity = np.broadcast_to(np.eye(LENGTH), (3, 2, LENGTH, LENGTH))
    np.testing.assert_allclose(
        transformer.rollout([identity, identity]), np.broadcast_to(np.eye(LENGTH), (3, LENGTH, LENGTH))
    )


def test_the_rollout_of_uniform_attention_keeps_a_share_for_the_token_itself():
    """One block: Â = ½U + ½I. Two blocks: Â² = ¼U² + ½U + ¼I = ¾U + ¼I, since U² = U for U of equal rows."""
    uniform = _uniform(LENGTH)
    U, identity = np.full((LENGTH, LENGTH), 1 / LENGTH), np.eye(LENGTH)
    np.testing.assert_allclose(transformer.rollout([uniform])[0], 0.5 * U + 0.5 * identity)
    np.testing.assert_allclose(transformer.rollout([uniform, uniform])[0], 0.75 * U + 0.25 * identity)


def test_the_rollout_multiplies_the_later_block_on_the_left():
    """Block 1 sends every query to token 0, block 2 to token 2: Â₁ = ½T₀ + ½I, Â₂ = ½T₂ + ½I, and the rollout
    is Â₂·Â₁, which differs from Â₁·Â₂."""
    to_first, to_last = np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3))
    to_first[..., 0], to_last[..., 2] = 1, 1
    first, last = (0.5 * weights[0, 0] + 0.5 * np.eye(3) for weights in (to_first, to_last))
    assert not np.allclose(last @ first, first @ last)
    np.testing.assert_allclose(transformer.rollout([to_first, to_last])[0], last @ first)


def test_raw_attention_averages_the_heads_and_the_real_queries():
    """Head 1 sends every query to key 0, head 2 to key 1: each of the two keys receives half of the attention.
    Padding queries (here sending everything to key 2) do not count; padding keys get 0."""
    weights = np.zeros((1, 2, 4, 4))
    weights[0, 0, :, 0] = 1
    weights[0, 1, :, 1] = 1
    weights[0, :, 3] = [[0, 0, 1, 0]]  # the padding query
    ids = np.array([[3, 4, 5, 0]])
    np.testing.assert_allclose(transformer.raw_attention(weights, ids), [[0.5, 0.5, 0.0, 0.0]])


def test_attention_received_is_zero_at_padding_and_sums_to_one_over_a_message():
    received = transformer.attention_received(_uniform(3)[:, 0], IDS[:1])
    np.testing.assert_allclose(received, [[1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0]])


# The attention weights and input × gradient, from the engine


def test_attention_weights_are_a_softmax_over_the_real_keys(model):
    for weights in engine.TransformerEngine(model, engine.INPUT_T_GRADIENT).attention(IDS).values():
        assert weights.shape == (len(IDS), 2, LENGTH, LENGTH)
        np.testing.assert_allclose(weights.sum(axis=-1), 1, atol=1e-6)
        assert np.all(weights[0, :, :, 3:] == 0), "padding keys must get no attention"


def test_with_queries_and_keys_zero_every_real_key_gets_an_equal_share(model):
    """Scores Q·Kᵀ = 0 everywhere (the query and key kernels and biases zeroed): the softmax over the n real keys
    is 1/n each."""
    attention = model.get_layer("block2").attention
    saved = attention.get_weights()
    zeroed = [np.zeros_like(w) if "query" in v.name or "key" in v.name else w for v, w in zip(attention.weights, saved)]
    attention.set_weights(zeroed)
    try:
        last = engine.TransformerEngine(model, engine.INPUT_T_GRADIENT).attention(IDS)["block2"]
    finally:
        attention.set_weights(saved)
    np.testing.assert_allclose(last[0, :, :, :3], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(last[1], 1 / LENGTH, rtol=1e-6)


def test_input_times_gradient_is_the_derivative_along_the_tokens_own_vector(model):
    """Σ_d x_d ∂z/∂x_d is the derivative of z(x + δ·x_t) in δ at 0 for token t alone: scaling the token's word
    vector and its position vector by 1 + δ (its word occurs once) moves only it. A central difference agrees."""
    embedding = model.get_layer("embedding")
    words, positions = embedding.get_weights()
    logits = transformer.logits_model(model)
    message, token, target = IDS[1:], 4, 1
    gradient = engine.TransformerEngine(model, engine.INPUT_T_GRADIENT)
    scores = gradient.explain(message, np.array([target]), layers=False).input

    def logit_scaled_by(factor):
        scaled_words, scaled_positions = words.copy(), positions.copy()
        scaled_words[message[0, token]] *= factor
        scaled_positions[token] *= factor
        embedding.set_weights([scaled_words, scaled_positions])
        return logits.predict(message, verbose=0)[0, target].astype(np.float64)

    delta = 1e-2
    try:
        difference = (logit_scaled_by(1 + delta) - logit_scaled_by(1 - delta)) / (2 * delta)
    finally:
        embedding.set_weights([words, positions])
    assert scores[0, token] == pytest.approx(difference, rel=1e-2, abs=2e-5)
    assert np.all(gradient.explain(IDS[:1], np.array([0]), layers=False).input[0, 3:] == 0)


# Occlusion and deletion, on a model whose logits are sums we can add up by hand

VALUE = np.zeros(20)
VALUE[[1, 2, 3, 4]] = [
    1.0,
    2.0,
    3.0,
    0.5,
]  # the logit of class 1 is the sum of its tokens' values; class 0 its negative


def _summing_logits(ids):
    total = VALUE[ids].sum(axis=1)
    return np.stack([-total, total], axis=1)


def test_occlusion_is_each_tokens_own_value_on_a_summing_model():
    ids = np.array([[3, 1, 2, 0], [2, 2, 0, 0]])
    np.testing.assert_allclose(
        transformer.occlusion(_summing_logits, ids, np.array([1, 0])), [[3, 1, 2, 0], [-2, -2, 0, 0]]
    )


def test_deletion_order_puts_padding_last_and_keeps_ties_in_place():
    ids = np.array([[4, 5, 6, 7, 0]])
    scores = np.array([[1.0, 3.0, 1.0, 2.0, 9.0]])
    np.testing.assert_array_equal(transformer.deletion_order(scores, ids), [[1, 3, 0, 2, 4]])
    np.testing.assert_array_equal(transformer.deletion_order(scores, ids, most_relevant_first=False), [[0, 2, 3, 1, 4]])


def test_deletion_curves_remove_tokens_in_order_until_none_is_left():
    ids = np.array([[1, 3, 2, 0]])
    scores = VALUE[ids]
    most = transformer.deletion_curves(_summing_logits, ids, [1], transformer.deletion_order(scores, ids), steps=3)
    least = transformer.deletion_curves(
        _summing_logits, ids, [1], transformer.deletion_order(scores, ids, most_relevant_first=False), steps=3
    )
    np.testing.assert_allclose(most, [[6, 3, 1, 0]])
    np.testing.assert_allclose(least, [[6, 5, 3, 0]])


def test_deletion_can_replace_tokens_by_another_word():
    """Replaced by a word of value 0.5 instead of removed, most valuable first: 6, 3 + 0.5, 1 + 1, 1.5."""
    ids = np.array([[1, 3, 2, 0]])
    order = transformer.deletion_order(VALUE[ids], ids)
    curves = transformer.deletion_curves(_summing_logits, ids, [1], order, steps=3, replacement=4)
    np.testing.assert_allclose(curves, [[6, 3.5, 2, 1.5]])


def test_deletion_steps_are_fractions_of_each_messages_length():
    """Two steps: half of each message's tokens, then all; padding is never counted. Up to half: a quarter
    (rounded to even: 0 of 2, 1 of 4), then half."""
    ids = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    order = transformer.deletion_order(np.zeros(ids.shape), ids)
    np.testing.assert_allclose(
        transformer.deletion_curves(_summing_logits, ids, [1, 1], order, steps=2), [[2, 1, 0], [4, 2, 0]]
    )
    half = transformer.deletion_curves(_summing_logits, ids, [1, 1], order, steps=2, up_to=0.5)
    np.testing.assert_allclose(half, [[2, 2, 1], [4, 3, 2]])


def test_a_removed_token_is_padding_to_the_model(model):
    """Setting a token to padding is what the model sees when the token is not there: a message with its last
    token removed gives the logits of the same message one token shorter."""
    logits = transformer.logits_model(model)
    curves = transformer.deletion_curves(
        lambda ids: logits.predict(ids, verbose=0), IDS[:1], [1], np.array([[2, 1, 0, 3, 4, 5, 6, 7]]), steps=3
    )
    shorter = IDS[:1].copy()
    shorter[0, 2] = PADDING_ID
    assert curves[0, 1] == pytest.approx(logits.predict(shorter, verbose=0)[0, 1], abs=1e-6)
    assert curves[0, 0] == pytest.approx(logits.predict(IDS[:1], verbose=0)[0, 1], abs=1e-6)
