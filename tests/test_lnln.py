"""LNLN against its equations: every module's forward and every DMC loss, recomputed by hand on tiny sizes
with the model's own weights; the gradient reversal; the random missing data and its completeness labels;
the reference's parameter counts at its default sizes."""

import pytest
import torch
import torch.nn.functional as F

from modeling_msmix import LNLNConfig, LNLNModel

TINY = dict(text_dim=12, audio_dim=5, vision_dim=7, hidden_dim=8, num_tokens=3, num_heads=2, head_dim=4,
            hyper_head_dim=4, mlp_dim=10, completeness_hidden_dim=6, discriminator_hidden_dim=5, embedding_depth=2,
            dmc_depth=2, hyper_depth=3, fusion_depth=2, text_max_length=9, audio_max_length=11, vision_max_length=10,
            augmentation="none")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(**changes) -> LNLNModel:
    torch.manual_seed(0)
    return LNLNModel(LNLNConfig(**{**TINY, **changes}))


def attention(layer_attention, query, key, value, key_mask=None):
    """softmax(Q K^T / sqrt(d_head)) V per head, then the output projection (written out, no SDPA)."""
    heads = layer_attention.num_heads

    def split(x):
        return x.unflatten(-1, (heads, -1)).transpose(1, 2)

    q = split(query @ layer_attention.to_q.weight.T)
    k = split(key @ layer_attention.to_k.weight.T)
    v = split(value @ layer_attention.to_v.weight.T)
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    out = (scores.softmax(dim=-1) @ v).transpose(1, 2).flatten(start_dim=2)
    return F.linear(out, layer_attention.to_out[0].weight, layer_attention.to_out[0].bias)


def transformer_layer(layer, x, source=None, key_mask=None):
    """x + Attn(LN_q(x), LN_k(s), LN_v(s)); then x + W2 GELU(W1 LN(x))."""
    source = x if source is None else source
    x = x + attention(layer.attention, layer.query_norm(x), layer.key_norm(source), layer.value_norm(source), key_mask)
    first, second = layer.feed_forward[0], layer.feed_forward[3]
    return x + second(F.gelu(first(layer.feed_forward_norm(x))))


def token_transformer(module, x, mask=None):
    """[tokens; x] + positions through the layers; every state (the input first)."""
    key_mask = mask
    if module.tokens is not None:
        x = torch.cat([module.tokens.expand(x.shape[0], -1, -1), x], dim=1)
        if mask is not None:
            key_mask = torch.cat([torch.ones(mask.shape[0], module.num_tokens, dtype=torch.bool), mask], dim=1)
    x = x + module.positions[:, : x.shape[1]]
    states = [x]
    for layer in module.layers:
        states.append(transformer_layer(layer, states[-1], key_mask=key_mask))
    return states


def completeness_score(model, h_t):
    """w = sigmoid(W2 LeakyReLU_0.1(W1 c + b1) + b2), c the output at the check's one token."""
    check = model.completeness_check
    c = token_transformer(check.transformer, h_t)[-1][:, 0]
    first, second = check.head[0], check.head[2]
    return torch.sigmoid(second(F.leaky_relu(first(c), 0.1)))


def proxy_feature(model, h_a, h_v):
    generator = model.proxy_generator
    start = generator.proxy_tokens.expand(h_a.shape[0], -1, -1)
    return token_transformer(generator.transformer, torch.cat([start, h_a, h_v], dim=1))[-1][:, : h_a.shape[1]]


def hyper_layer(layer, h_d, h_a, h_v, h_hyper):
    """LN(h_hyper) + W_o (softmax(Q K_a^T / sqrt(d)) V_a + softmax(Q K_v^T / sqrt(d)) V_v), Q from LN(h_d)."""
    h_d, h_a, h_v, h_hyper = (norm(x) for norm, x in zip(layer.norms, (h_d, h_a, h_v, h_hyper)))
    heads = layer.num_heads

    def attend(query, key, value):
        split = [x.unflatten(-1, (heads, -1)).transpose(1, 2) for x in (query, key, value)]
        weights = (split[0] @ split[1].transpose(-1, -2) / split[0].shape[-1] ** 0.5).softmax(dim=-1)
        return (weights @ split[2]).transpose(1, 2).flatten(start_dim=2)

    query = h_d @ layer.to_q.weight.T
    from_audio = attend(query, h_a @ layer.to_k_audio.weight.T, h_a @ layer.to_v_audio.weight.T)
    from_vision = attend(query, h_v @ layer.to_k_vision.weight.T, h_v @ layer.to_v_vision.weight.T)
    return h_hyper + layer.to_out[0](from_audio + from_vision)


def states(batch=4, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, TINY["num_tokens"], TINY["hidden_dim"], generator=generator) for _ in range(3))


def test_embedding_transformers_equal_the_equations_and_ignore_padding():
    model = tiny_model().eval()
    x = torch.randn(3, 9, 12)
    mask = torch.arange(9)[None, :] < torch.tensor([[9], [4], [1]])
    embedded = model.embed[0](x)
    expected = token_transformer(model.embedding_transformers[0], embedded, mask)[-1][:, :3]
    torch.testing.assert_close(model.embedding_transformers[0](embedded, mask), expected, rtol=1e-5, atol=1e-6)
    row = model.embedding_transformers[0](embedded[1:2, :4], mask[1:2, :4])
    torch.testing.assert_close(row, expected[1:2], rtol=1e-5, atol=1e-6)


def test_dmc_modules_equal_the_equations():
    model = tiny_model().eval()
    h_t, h_a, h_v = states()
    w = model.completeness_check(h_t)
    torch.testing.assert_close(w, completeness_score(model, h_t), rtol=1e-5, atol=1e-6)
    assert w.shape == (4, 1) and ((w > 0) & (w < 1)).all()
    h_p = model.proxy_generator(h_a, h_v)
    torch.testing.assert_close(h_p, proxy_feature(model, h_a, h_v), rtol=1e-5, atol=1e-6)
    for rebuild, state in zip(model.reconstructors, (h_t, h_a, h_v)):
        torch.testing.assert_close(rebuild(state), token_transformer(rebuild, state)[-1], rtol=1e-5, atol=1e-6)


def fuse_by_hand(model, h_t, h_a, h_v):
    """h_d = w h_t + (1 - w) h_p; language states; hyper-modality layers; fusion; head on the mean token."""
    w = completeness_score(model, h_t)[:, :, None]
    h_d = w * h_t + (1 - w) * proxy_feature(model, h_a, h_v)
    dominant = token_transformer(model.language_encoder, h_d)
    assert len(dominant) == len(model.hyper_layers)  # the input and every layer of the language encoder
    hyper = model.hyper_modality.expand(h_t.shape[0], -1, -1)
    for layer, state in zip(model.hyper_layers, dominant):
        hyper = hyper_layer(layer, state, h_a, h_v, hyper)
    cls = model.fusion_class_token.expand(h_t.shape[0], -1, -1)
    source = torch.cat([cls, hyper], dim=1) + model.fusion_source_positions
    target = torch.cat([cls, dominant[-1]], dim=1) + model.fusion_target_positions
    for layer in model.fusion_layers:
        target = transformer_layer(layer, target, source)
    return target[:, 1:].mean(dim=1) @ model.head.weight.T + model.head.bias


def test_fuse_equals_dominant_feature_hyper_modality_learning_and_fusion_by_hand():
    model = tiny_model().eval()
    with torch.no_grad():
        prediction, losses = model.fuse(*states())
        expected = fuse_by_hand(model, *states())
    assert losses is None  # evaluation: no DMC losses
    assert prediction.shape == (4, 1)
    torch.testing.assert_close(prediction, expected, rtol=1e-5, atol=1e-6)


def test_correction_losses_equal_the_weighted_equations():
    model = tiny_model(completeness_weight=0.9, effectiveness_weight=0.6, reconstruction_weight=0.1)
    incomplete, complete = states(seed=1), states(seed=2)
    completeness = torch.tensor([[1.0], [0.25], [0.0], [0.5]])
    losses = model.correction_losses(incomplete, complete, completeness)
    h_t, h_a, h_v = incomplete
    w = completeness_score(model, h_t)
    h_d = w[:, :, None] * h_t + (1 - w[:, :, None]) * proxy_feature(model, h_a, h_v)
    first, second = model.effectiveness_discriminator[0], model.effectiveness_discriminator[2]
    log_p_effective = F.log_softmax(second(F.leaky_relu(first(h_d), 0.1)), dim=-1)[..., 1]  # label 1: h_d tokens
    log_p_complete = F.log_softmax(second(F.leaky_relu(first(complete[0]), 0.1)), dim=-1)[..., 0]
    cross_entropy = -(log_p_effective.sum() + log_p_complete.sum()) / (2 * 4 * 3)
    rebuilt = [token_transformer(rebuild, state)[-1] for rebuild, state in zip(model.reconstructors, incomplete)]
    reconstruction = sum((r - c).pow(2).sum() for r, c in zip(rebuilt, complete)) / (3 * 4 * 3 * 8)
    torch.testing.assert_close(losses["completeness"], 0.9 * (w - completeness).pow(2).mean(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses["effectiveness"], 0.6 * cross_entropy, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses["reconstruction"], 0.1 * reconstruction, rtol=1e-5, atol=1e-7)


def test_the_proxy_generator_plays_against_the_discriminator_and_learns_the_sentiment_unreversed():
    model = tiny_model()
    incomplete, complete = states(seed=1), states(seed=2)
    generator = list(model.proxy_generator.parameters())
    discriminator = list(model.effectiveness_discriminator.parameters())
    effectiveness = model.correction_losses(incomplete, complete, torch.ones(4, 1))["effectiveness"]
    reversed_grads = torch.autograd.grad(effectiveness, generator + discriminator)
    h_t, h_a, h_v = incomplete  # the same loss without the reversal
    w = model.completeness_check(h_t)
    h_d = w[:, :, None] * h_t + (1 - w[:, :, None]) * model.proxy_generator(h_a, h_v)
    scores = model.effectiveness_discriminator(torch.cat([h_d, complete[0]]).flatten(end_dim=1))
    labels = torch.cat([torch.ones(12), torch.zeros(12)]).long()
    plain_grads = torch.autograd.grad(model.config.effectiveness_weight * F.cross_entropy(scores, labels),
                                      generator + discriminator)
    for index, (got, plain) in enumerate(zip(reversed_grads, plain_grads)):
        sign = -1 if index < len(generator) else 1
        torch.testing.assert_close(got, sign * plain, rtol=1e-5, atol=1e-7)
    assert sum(g.abs().sum() for g in plain_grads[: len(generator)]) > 0
    # the sentiment path has no reversal: fuse's gradient on the proxy generator is the plain one
    prediction, _ = model.fuse(*incomplete)
    fused = torch.autograd.grad(prediction.sum(), generator)
    by_hand = torch.autograd.grad(fuse_by_hand(model, *incomplete).sum(), generator)
    for got, want in zip(fused, by_hand):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert sum(g.abs().sum() for g in fused) > 0


def batch_of(rows=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    batch = {}
    for name, length, dim in (("text", 9, 12), ("audio", 11, 5), ("vision", 10, 7)):
        lengths = torch.randint(2, length + 1, (rows,), generator=generator)
        mask = torch.arange(length)[None, :] < lengths[:, None]
        batch[f"{name}_features"] = (torch.rand(rows, length, dim, generator=generator) + 0.5) * mask[..., None]
        batch[f"{name}_mask"] = mask
    batch["labels"] = torch.rand(rows, generator=generator) * 6 - 3
    return batch


def test_random_missing_removes_steps_and_labels_the_completeness_of_the_text():
    model = tiny_model(complete_fraction=0.0).train()
    batch = batch_of()
    features = tuple(batch[f"{m}_features"] for m in ("text", "audio", "vision"))
    masks = tuple(batch[f"{m}_mask"] for m in ("text", "audio", "vision"))
    torch.manual_seed(4)
    dropped, dropped_masks, attention, kept = model._drop_random_steps(features, masks, None)
    assert attention is None
    removed_any = False
    for feature, mask, new_feature, new_mask in zip(features, masks, dropped, dropped_masks):
        for row in range(6):
            real, left = feature[row, mask[row]], new_feature[row, new_mask[row]]
            survivors = [step for step in real if any(torch.equal(step, other) for other in left)]
            removed_any = removed_any or len(survivors) < len(real)
            assert len(survivors) == int((left.abs().sum(dim=1) > 0).sum())
            if survivors:  # the kept steps close up, in their order
                assert torch.equal(torch.stack(survivors), left[: len(survivors)])
    assert removed_any
    text_left = (dropped[0].abs().sum(dim=-1) > 0).sum(dim=1)
    torch.testing.assert_close(kept, text_left / masks[0].sum(dim=1))

    torch.manual_seed(4)  # the training encode draws the same: its states and completeness labels are these
    encoded = model.encode(*features, *masks)
    for state, expected in zip(encoded, model._embed(dropped, dropped_masks, None, None)):
        torch.testing.assert_close(state, expected)
    w = model.completeness_check(encoded[0])
    torch.testing.assert_close(model._correction_losses["completeness"],
                               model.config.completeness_weight * F.mse_loss(w, kept[:, None]))


def test_a_complete_fraction_of_one_removes_nothing():
    model = tiny_model(complete_fraction=1.0)
    batch = batch_of()
    features = tuple(batch[f"{m}_features"] for m in ("text", "audio", "vision"))
    masks = tuple(batch[f"{m}_mask"] for m in ("text", "audio", "vision"))
    dropped, dropped_masks, _, kept = model._drop_random_steps(features, masks, None)
    assert all(torch.equal(a, b) for a, b in zip(features + masks, dropped + dropped_masks))
    assert torch.equal(kept, torch.ones(6))


def test_training_reports_the_three_weighted_dmc_parts_and_evaluation_none():
    model = tiny_model(missing_rate_max=0.0).train()
    batch = batch_of()
    output = model(**batch)
    assert set(output.loss_parts) == {"task", "completeness", "effectiveness", "reconstruction"}
    assert torch.allclose(output.loss, sum(output.loss_parts.values()))
    # nothing removed: the complete states are the states; the completeness target is 1 for every row
    states = (output.text_state, output.audio_state, output.vision_state)
    expected = model.correction_losses(states, states, torch.ones(6, 1))
    for name, value in expected.items():
        torch.testing.assert_close(output.loss_parts[name], value, rtol=1e-5, atol=1e-7)
    model.eval()
    with torch.no_grad():
        assert set(model(**batch).loss_parts) == {"task"}


def test_a_missing_text_has_completeness_zero():
    model = tiny_model(missing_rate_max=0.0).train()
    batch = batch_of()
    batch["text_features"][2] = 0.0
    torch.manual_seed(0)
    output = model(**batch)
    states = (output.text_state, output.audio_state, output.vision_state)
    target = torch.ones(6, 1)
    target[2] = 0.0
    torch.testing.assert_close(output.loss_parts["completeness"],
                               model.correction_losses(states, states, target)["completeness"], rtol=1e-5, atol=1e-7)


def layer_count(dim, heads, head_dim, mlp):
    """One of the reference's transformer layers: 3 + 1 LayerNorms, bias-free q/k/v, the output and the MLP."""
    inner = heads * head_dim
    return 4 * 2 * dim + 3 * dim * inner + (inner * dim + dim) + (dim * mlp + mlp) + (mlp * dim + dim)


@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
def test_parameter_counts_equal_the_reference_configs(dataset):
    """The reference's model without BERT, counted from its configs' layer sizes."""
    dims, lengths, fusion = {"mosi": ((768, 5, 20), (50, 375, 500), 2), "mosei": ((768, 74, 35), (50, 500, 500), 4),
                             "sims": ((768, 33, 709), (39, 400, 55), 4)}[dataset]
    d, tokens, layer = 128, 8, layer_count(128, 8, 64, 128)
    hyper = 4 * 2 * d + 5 * d * d + d * d + d
    expected = (sum(dim * d + d + (length + tokens) * d + tokens * d for dim, length in zip(dims, lengths))
                + 2 * 3 * layer                                         # embedding transformers
                + (3 * tokens + tokens) * d + tokens * d + tokens * d + 2 * layer  # proxy generator
                + (tokens + 1) * d + d + 2 * layer + d * 64 + 64 + 64 + 1        # completeness check
                + d * 64 + 64 + 64 * 2 + 2                              # effectiveness discriminator
                + 3 * (tokens * d + 2 * layer)                          # reconstructors
                + tokens * d + 2 * layer + 3 * hyper + tokens * d       # language encoder, hyper layers
                + 2 * (tokens + 1) * d + d + fusion * layer + d + 1)    # fusion transformer, head
    config = LNLNConfig(text_dim=dims[0], audio_dim=dims[1], vision_dim=dims[2], text_max_length=lengths[0],
                        audio_max_length=lengths[1], vision_max_length=lengths[2], fusion_depth=fusion,
                        augmentation="none")
    model = LNLNModel(config)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert expected == {"mosi": 6_483_012, "mosei": 7_102_404, "sims": 7_112_260}[dataset]


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="missing_rate_max"):
        LNLNConfig(missing_rate_max=1.5)
    with pytest.raises(ValueError, match="complete_fraction"):
        LNLNConfig(complete_fraction=-0.1)
    with pytest.raises(ValueError, match="effectiveness_weight"):
        LNLNConfig(effectiveness_weight=-1)
    with pytest.raises(ValueError, match="hyper_depth"):
        LNLNConfig(hyper_depth=0)
    model = tiny_model().eval()
    batch = batch_of()
    batch["audio_features"] = torch.randn(6, 12, 5)
    batch["audio_mask"] = torch.ones(6, 12, dtype=torch.bool)
    with pytest.raises(ValueError, match="audio_max_length=11"):
        model(**batch)
