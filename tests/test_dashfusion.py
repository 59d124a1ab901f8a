"""DashFusion against its equations, computed directly here: encoders, temporal alignment, the fusion
layers, the hierarchical bottleneck fusion, both contrastive losses; loss parts, sizes, recipes.

Each module runs at tiny sizes in eval mode (no dropout) and is compared with the same weights
plugged into the paper's equations, written with explicit per-head softmaxes and loops.
"""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from modeling_msmix import DashFusionConfig, DashFusionModel
from modeling_msmix.modeling_dashfusion import (
    BottleneckCrossAttention,
    PostNormAttentionLayer,
    semantic_alignment_loss,
    supervised_contrastive_loss,
)
from trainer.model_card import build_model_card
from trainer.run import parse_arguments

TINY = dict(text_dim=12, audio_dim=5, vision_dim=7, hidden_dim=16, num_heads=4, feedforward_dim=24,
            alignment_head_dim=6, num_bottleneck_tokens=4, fusion_depth=3, audio_max_length=20,
            vision_max_length=20, augmentation="none")
RECIPES = Path(__file__).resolve().parents[1] / "trainer" / "recipes"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(**overrides) -> DashFusionModel:
    torch.manual_seed(0)
    return DashFusionModel(DashFusionConfig(**{**TINY, **overrides})).eval()


def tiny_batch(batch_size: int = 5, lengths=(6, 9, 8), seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    batch = {}
    for name, length, dim in zip(("text", "audio", "vision"), lengths, (12, 5, 7)):
        true_lengths = torch.randint(1, length + 1, (batch_size,), generator=generator)
        true_lengths[0] = length
        mask = torch.arange(length)[None, :] < true_lengths[:, None]
        batch[f"{name}_features"] = torch.randn(batch_size, length, dim, generator=generator) * mask[..., None]
        batch[f"{name}_mask"] = mask
    batch["labels"] = torch.tensor([-2.2, 1.4, -1.8, 0.6, 1.1])[:batch_size]
    return batch


def attention(query, key, value, heads: int, scale: float, key_mask=None):
    """softmax_j(q_i . k_j * scale) v_j per head, on [N, T, heads * head] projections; masked keys left out."""
    n, tq, width = query.shape

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, width // heads).transpose(1, 2)

    scores = split(query) @ split(key).transpose(-1, -2) * scale
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], -math.inf)
    return (scores.softmax(dim=-1) @ split(value)).transpose(1, 2).reshape(n, tq, -1)


def linear(layer, x):
    return x @ layer.weight.t() + (0 if layer.bias is None else layer.bias)


def layer_norm(norm, x):
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + norm.eps) * norm.weight + norm.bias


def feed_forward(block, x):
    return linear(block[3], F.gelu(linear(block[0], x)))


def torch_encoder_layer(layer, x, mask, heads):
    """Post-norm transformer layer: x = LN1(x + MHA(x)); x = LN2(x + W2 GELU(W1 x))."""
    d = x.shape[-1]
    w, b = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
    q, k, v = (x @ w[i * d:(i + 1) * d].t() + b[i * d:(i + 1) * d] for i in range(3))
    attended = linear(layer.self_attn.out_proj, attention(q, k, v, heads, (d // heads) ** -0.5, mask))
    x = layer_norm(layer.norm1, x + attended)
    return layer_norm(layer.norm2, x + linear(layer.linear2, F.gelu(linear(layer.linear1, x))))


def reference_sequence_encoder(encoder, x, mask, heads):
    tokens = torch.cat([encoder.cls_token.expand(x.shape[0], -1, -1), linear(encoder.projection, x)], dim=1)
    tokens = tokens + encoder.positions[:, : x.shape[1] + 1]
    steps = torch.cat([torch.ones(x.shape[0], 1, dtype=torch.bool), mask], dim=1)
    for layer in encoder.transformer.layers:
        tokens = torch_encoder_layer(layer, tokens, steps, heads)
    return layer_norm(encoder.norm, tokens) * steps[..., None]


def reference_post_norm_layer(layer, x, key_mask, source, heads):
    """x + LN(concat_h softmax(q k^T / sqrt(d)) v), then x + LN(FF(x)); biased q/k/v, no output projection."""
    d = x.shape[-1]
    source = x if source is None else source
    attended = attention(linear(layer.to_q, x), linear(layer.to_k, source), linear(layer.to_v, source), heads,
                         d ** -0.5, key_mask)
    x = x + layer_norm(layer.attention_norm, attended)
    return x + layer_norm(layer.feed_forward_norm, feed_forward(layer.feed_forward, x))


def reference_bottleneck_cross(block, bottleneck, sequences, masks, heads):
    """b = LN(b + sum_m softmax(q k_m^T / sqrt(d / heads)) v_m); LN(b + FF(b))."""
    head = (bottleneck.shape[-1] // heads) ** -0.5
    query = linear(block.to_q, bottleneck)
    total = bottleneck
    for to_k, to_v, sequence, mask in zip(block.to_k, block.to_v, sequences, masks):
        total = total + attention(query, linear(to_k, sequence), linear(to_v, sequence), heads, head, mask)
    total = layer_norm(block.attention_norm, total)
    return layer_norm(block.feed_forward_norm, total + feed_forward(block.feed_forward, total))


def info_nce(positive: float, negatives: list[float], temperature: float) -> float:
    numerator = math.exp(positive / temperature)
    return -math.log(numerator / (numerator + sum(math.exp(n / temperature) for n in negatives)))


def cosine(x, y) -> float:
    return float(torch.dot(x, y) / (x.norm() * y.norm()))


def test_encode_equals_the_equations():
    model = tiny_model()
    batch = tiny_batch()
    masks = batch["text_mask"], batch["audio_mask"], batch["vision_mask"]
    with torch.no_grad():
        z_t, z_a, z_v = model.encode(batch["text_features"], batch["audio_features"], batch["vision_features"], *masks)
        projector = model.text_projector
        h_t = F.gelu(linear(projector[2], F.gelu(linear(projector[0], batch["text_features"]))))
        h_t = layer_norm(projector[4], h_t) * batch["text_mask"][..., None]
        h_a = reference_sequence_encoder(model.audio_encoder, batch["audio_features"], masks[1], 4)
        h_v = reference_sequence_encoder(model.vision_encoder, batch["vision_features"], masks[2], 4)
        align = model.temporal_alignment
        with_cls = [torch.cat([torch.ones(5, 1, dtype=torch.bool), mask], dim=1) for mask in masks[1:]]
        query = linear(align.to_q, h_t)
        from_audio = attention(query, linear(align.to_k_audio, h_a), linear(align.to_v_audio, h_a), 4, 6 ** -0.5,
                               with_cls[0])
        from_vision = attention(query, linear(align.to_k_vision, h_v), linear(align.to_v_vision, h_v), 4, 6 ** -0.5,
                                with_cls[1])
        aligned = (h_t + linear(align.to_out[0], from_audio + from_vision)) * batch["text_mask"][..., None]
    torch.testing.assert_close(z_t, torch.cat([h_t, aligned], dim=-1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_a, h_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_v, h_v, atol=1e-5, rtol=1e-5)
    assert z_t.shape == (5, 6, 32) and z_a.shape == (5, 10, 16) and z_v.shape == (5, 9, 16)


def test_fusion_layers_equal_the_equations():
    torch.manual_seed(3)
    x, source = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    key_mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3, [True] + [False] * 6])
    layer = PostNormAttentionLayer(16, 4, 24, 0.0).eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(x, key_mask, source), reference_post_norm_layer(layer, x, key_mask, source, 4))
        self_mask = key_mask[:, :5]
        torch.testing.assert_close(layer(x, self_mask), reference_post_norm_layer(layer, x, self_mask, None, 4))
        block = BottleneckCrossAttention(16, 4, 24, 0.0).eval()
        sequences = (source, torch.randn(3, 4, 16), torch.randn(3, 6, 16))
        masks = (key_mask, torch.ones(3, 4, dtype=torch.bool), torch.rand(3, 6) > 0.3)
        masks[2][:, 0] = True
        expected = reference_bottleneck_cross(block, x, sequences, masks, 4)
        torch.testing.assert_close(block(x, sequences, masks), expected)


def test_hierarchical_bottleneck_fusion_equals_the_equations():
    """Three levels keep 4, 2, 1 bottleneck tokens; the head reads [b_0 ; H_t,0 ; H_a,0 ; H_v,0]."""
    model = tiny_model()
    batch = tiny_batch()
    with torch.no_grad():
        z_t, z_a, z_v = model.encode(batch["text_features"], batch["audio_features"], batch["vision_features"],
                                     batch["text_mask"], batch["audio_mask"], batch["vision_mask"])
        prediction, auxiliary = model.fuse(z_t, z_a, z_v)
        h_t, aligned = z_t[..., :16], z_t[..., 16:]
        sequences = [h_t, z_a, z_v]
        masks = [batch["text_mask"]] + [torch.cat([torch.ones(5, 1, dtype=torch.bool), batch[f"{m}_mask"]], dim=1)
                                        for m in ("audio", "vision")]
        bottleneck, bottleneck_mask = aligned, batch["text_mask"]
        for level, keep in zip(model.fusion_levels, (4, 2, 1)):
            bottleneck = reference_post_norm_layer(level.bottleneck_self, bottleneck, bottleneck_mask, None, 4)
            bottleneck, bottleneck_mask = bottleneck[:, :keep], bottleneck_mask[:, :keep]
            bottleneck = reference_bottleneck_cross(level.bottleneck_cross, bottleneck, sequences, masks, 4)
            sequences = [reference_post_norm_layer(layer, sequence, bottleneck_mask, bottleneck, 4)
                         for layer, sequence in zip(level.sequence_cross, sequences)]
        head = model.head
        fused = torch.cat([bottleneck[:, 0]] + [s[:, 0] for s in sequences], dim=-1)
        expected = linear(head[4], F.gelu(linear(head[2], F.gelu(linear(head[0], fused)))))
    assert auxiliary is None and prediction.shape == (5, 1)
    torch.testing.assert_close(prediction, expected, atol=1e-5, rtol=1e-5)


def test_contrastive_losses_equal_pair_by_pair_sums():
    torch.manual_seed(5)
    t, a, v, f = (torch.randn(6, 8, dtype=torch.float64) for _ in range(4))
    labels = torch.tensor([-2.2, -1.6, 0.3, 1.2, 0.9, -0.2], dtype=torch.float64)
    classes = torch.round(labels).tolist()  # -2, -2, 0, 1, 1, 0
    tau = 0.5
    terms = []
    for other in (v, a):
        for i in range(6):
            negatives = [cosine(t[i], t[k]) for k in range(6) if classes[k] != classes[i]]
            terms.append(info_nce(cosine(t[i], other[i]), negatives, tau))
    expected_semantic = sum(terms) / len(terms)
    terms = []
    for vector in (t, v, a, f):
        for i in range(6):
            negatives = [cosine(vector[i], vector[k]) for k in range(6) if classes[k] != classes[i]]
            terms += [info_nce(cosine(vector[i], vector[j]), negatives, tau)
                      for j in range(6) if j != i and classes[j] == classes[i]]
    assert len(terms) == 4 * 6  # three classes of two samples: each sample has one positive
    expected_supervised = sum(terms) / len(terms)
    classes_tensor = torch.round(labels)
    assert semantic_alignment_loss(t, (v, a), classes_tensor, tau).item() == pytest.approx(expected_semantic, rel=1e-9)
    assert supervised_contrastive_loss((t, v, a, f), classes_tensor, tau).item() == pytest.approx(
        expected_supervised, rel=1e-9)


def test_contrastive_losses_without_negatives_or_positives_are_zero_with_finite_gradients():
    vectors = tuple(torch.randn(4, 8, requires_grad=True) for _ in range(4))
    one_class = torch.zeros(4)
    semantic = semantic_alignment_loss(vectors[0], vectors[1:3], one_class, 0.5)
    supervised = supervised_contrastive_loss(vectors, one_class, 0.5)
    assert semantic.item() == pytest.approx(0.0, abs=1e-6) and supervised.item() == pytest.approx(0.0, abs=1e-6)
    (semantic + supervised).backward()
    assert all(torch.isfinite(vector.grad).all() for vector in vectors)
    assert supervised_contrastive_loss(vectors, torch.arange(4.0), 0.5).item() == 0.0


@pytest.mark.parametrize("augmentation", ["none", "msmix", "mixup"])
def test_loss_parts_are_the_weighted_losses_of_the_original_rows(augmentation):
    model = tiny_model(augmentation=augmentation, semantic_alignment_weight=0.3, supervised_contrastive_weight=0.7,
                       embedding_dropout=0.0, encoder_dropout=0.0)
    batch = tiny_batch()
    with torch.no_grad():
        states = model.encode(batch["text_features"], batch["audio_features"], batch["vision_features"],
                              batch["text_mask"], batch["audio_mask"], batch["vision_mask"])
        t, a, v, f = model.utterance_vectors(*states)
        classes = torch.round(batch["labels"])
        semantic = 0.3 * semantic_alignment_loss(t, (v, a), classes, 0.5)
        supervised = 0.7 * supervised_contrastive_loss((t, v, a, f), classes, 0.5)
        model.train()  # no dropout; mixing on: the parts must come from the unmixed rows
        output = model(**batch, mix_seed=4)
    assert torch.allclose(output.loss_parts["semantic_alignment"], semantic, atol=1e-6)
    assert torch.allclose(output.loss_parts["supervised_contrastive"], supervised, atol=1e-6)
    assert semantic > 0 and supervised > 0
    assert ("mixed" in output.loss_parts) == (augmentation != "none")
    assert torch.allclose(output.loss, sum(output.loss_parts.values()))
    model.eval()
    with torch.no_grad():
        assert set(model(**batch).loss_parts) == {"task"}


def test_utterance_vectors_are_masked_means_and_the_aligned_first_token():
    model = tiny_model()
    batch = tiny_batch()
    with torch.no_grad():
        z_t, z_a, z_v = model.encode(batch["text_features"], batch["audio_features"], batch["vision_features"],
                                     batch["text_mask"], batch["audio_mask"], batch["vision_mask"])
        t, a, v, f = model.utterance_vectors(z_t, z_a, z_v)
    row, length = 3, int(batch["audio_mask"][3].sum())
    torch.testing.assert_close(a[row], z_a[row, : 1 + length].mean(dim=0))
    torch.testing.assert_close(t[row], z_t[row, : int(batch["text_mask"][row].sum()), :16].mean(dim=0))
    torch.testing.assert_close(f, z_t[:, 0, 16:])


def test_msmix_intensities_do_not_depend_on_padding():
    model = tiny_model(augmentation="msmix")
    batch = {key: value for key, value in tiny_batch().items() if key != "labels"}
    padded = dict(batch)
    for modality in ("text", "audio", "vision"):
        features, mask = batch[f"{modality}_features"], batch[f"{modality}_mask"]
        padded[f"{modality}_features"] = torch.cat([features, 9 * torch.randn(5, 4, features.shape[2])], dim=1)
        padded[f"{modality}_mask"] = torch.cat([mask, torch.zeros(5, 4, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        plain, more = model(**batch), model(**padded)
    torch.testing.assert_close(plain.logits, more.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain.intensities, more.intensities, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dataset, overrides, parameters", [
    ("defaults", {}, 2_428_417),
    ("mosi", dict(audio_max_length=375), 2_412_417),
    ("mosei", dict(audio_dim=74, vision_dim=35, encoder_layers=4, fusion_depth=3), 3_614_081),
    ("sims", dict(audio_dim=33, vision_dim=709, audio_max_length=400, vision_max_length=55), 2_450_433),
])
def test_parameter_counts_at_the_reference_sizes(dataset, overrides, parameters):
    """The reference's counts without BERT and its never-called layers (summed by hand from its code; the
    module docstring lists them), and the defaults' (position tables of 500 steps)."""
    model = DashFusionModel(DashFusionConfig(augmentation="none", **overrides))
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_too_long_sequences_and_bad_settings_are_refused_by_name():
    model = tiny_model()
    batch = tiny_batch(lengths=(6, 21, 8))
    with pytest.raises(ValueError, match="audio_max_length=20"):
        model(**batch)
    with pytest.raises(ValueError, match="num_heads"):
        DashFusionConfig(hidden_dim=30, num_heads=8)
    with pytest.raises(ValueError, match="fusion_depth"):
        DashFusionConfig(fusion_depth=0)
    with pytest.raises(ValueError, match="contrastive_temperature"):
        DashFusionConfig(contrastive_temperature=0)
    with pytest.raises(ValueError, match="semantic_alignment_weight"):
        DashFusionConfig(semantic_alignment_weight=-1)


@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
def test_recipes_hold_the_dashfusion_papers_settings(dataset):
    data_args, model_args, training_args = parse_arguments([str(RECIPES / dataset / "dashfusion.yaml")])
    assert (model_args.backbone, model_args.augmentation, data_args.dataset_kind) == ("dashfusion", "msmix", dataset)
    mosei = dataset == "mosei"
    assert training_args.learning_rate == (2e-5 if mosei else 5e-5) and training_args.weight_decay == 1e-3
    assert training_args.per_device_train_batch_size == (8 if mosei else 16)
    assert training_args.lr_scheduler_type == "linear" and training_args.metric_for_best_model == "MAE"
    overrides = model_args.config_overrides
    bert = "bert-base-chinese" if dataset == "sims" else "bert-base-uncased"
    assert f'text_encoder_name_or_path="{bert}"' in overrides
    assert ("encoder_layers=4" in overrides and "fusion_depth=3" in overrides) == mosei


def test_a_text_encoder_with_more_tokens_than_text_features_trains_with_msmix():
    """With BERT the text state has the token ids' steps, not the features' mask: SIG then reads no text mask."""
    bert = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                      max_position_embeddings=16)
    model = tiny_model(augmentation="msmix", text_encoder_config=bert.to_dict()).train()
    batch = tiny_batch()
    batch["input_ids"] = torch.randint(1, 40, (5, 9), generator=torch.Generator().manual_seed(2))
    batch["attention_mask"] = torch.ones(5, 9, dtype=torch.long)
    output = model(**batch, mix_seed=1)
    output.loss.backward()
    assert output.text_state.shape == (5, 9, 32) and torch.isfinite(output.intensities).all()
    assert model.text_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_model_card_names_and_cites_dashfusion():
    card = build_model_card(DashFusionConfig(**TINY), repo_id="someone/dashfusion-none")
    assert "# DashFusion + no augmentation" in card.text
    assert "doi     = {10.1109/TNNLS.2025.3578618}" in card.text
