"""The backbones (TFN, LMF, MulT, MISA, ALMT, GLoMo, LNLN, DashFusion): every augmentation, masks, round trips, fitting.

Models use small hidden sizes (``SMALL``) on MOSI-shaped inputs (768/5/20 features, short
sequences) so that the file runs in a few minutes on two cores; one test per backbone checks
the paper's default sizes.
"""

import shutil

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, BertConfig, BertModel

from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from modeling_msmix import AUGMENTATIONS, BACKBONES
from modeling_msmix import layers
from modeling_msmix.layers import (
    CrossmodalTransformer,
    adaptive_masked_max_pool,
    dropout_attention,
    last_real_step,
    masked_mean,
)
from modeling_msmix.modeling_glomo import MixtureOfExperts
from modeling_msmix.modeling_lmf import LowRankFusion
from modeling_msmix.modeling_misa import cmd_loss, difference_loss
from modeling_msmix.modeling_mult import steps_in_use
from modeling_msmix.modeling_tfn import append_one, fusion_tensor, tensor_fusion
from trainer.collator import MSMixDataCollator

MOSI_DIMS = (768, 5, 20)
SMALL = {
    "tfn": dict(text_hidden_dim=32, text_out_dim=16, audio_hidden_dim=8, vision_hidden_dim=8, post_fusion_dim=32),
    "lmf": dict(text_hidden_dim=32, text_out_dim=16, audio_hidden_dim=8, vision_hidden_dim=8),
    "mult": dict(hidden_dim=16, num_heads=4, num_layers=2),
    "misa": dict(hidden_dim=32),
    "almt": dict(hidden_dim=32, num_heads=4, head_dim=8, hyper_head_dim=8, mlp_dim=32, num_tokens=4),
    "glomo": dict(hidden_dim=32, num_heads=4),
    "lnln": dict(hidden_dim=32, num_heads=4, head_dim=8, hyper_head_dim=8, mlp_dim=32, num_tokens=4,
                 completeness_hidden_dim=16, discriminator_hidden_dim=16),
    "dashfusion": dict(hidden_dim=16, num_heads=4, feedforward_dim=32, alignment_head_dim=4, num_bottleneck_tokens=4),
}
# Paper-default state shapes for a batch of B with sequence lengths (Lt, La, Lv).
DEFAULT_STATE_SHAPES = {
    "tfn": lambda b, lengths: [(b, 128), (b, 32), (b, 32)],
    "lmf": lambda b, lengths: [(b, 128), (b, 32), (b, 32)],
    "mult": lambda b, lengths: [(b, length, 40) for length in lengths],
    "misa": lambda b, lengths: [(b, 128)] * 3,
    "almt": lambda b, lengths: [(b, 8, 128)] * 3,
    "glomo": lambda b, lengths: [(b, 2, 96)] * 3,
    "lnln": lambda b, lengths: [(b, 8, 128)] * 3,
    "dashfusion": lambda b, lengths: [(b, lengths[0], 256), (b, 1 + lengths[1], 128), (b, 1 + lengths[2], 128)],
}
OVERFIT_STEPS = {"tfn": 100, "lmf": 100, "mult": 60, "misa": 100, "almt": 100, "glomo": 60, "lnln": 100,
                 "dashfusion": 60}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(name: str, **overrides):
    config_class, model_class = BACKBONES[name]
    return model_class(config_class(**{**SMALL[name], **overrides}))


def make_batch(batch_size: int = 6, lengths: tuple[int, int, int] = (10, 24, 30), seed: int = 0) -> dict:
    """Random MOSI-shaped features, zero-padded after random true lengths (row 0 is full length)."""
    generator = torch.Generator().manual_seed(seed)
    batch = {}
    for name, length, dim in zip(("text", "audio", "vision"), lengths, MOSI_DIMS):
        true_lengths = torch.randint(1, length + 1, (batch_size,), generator=generator)
        true_lengths[0] = length
        mask = torch.arange(length)[None, :] < true_lengths[:, None]
        features = torch.randn(batch_size, length, dim, generator=generator) * mask[..., None]
        batch[f"{name}_features"], batch[f"{name}_mask"] = features, mask
    batch["labels"] = torch.rand(batch_size, generator=generator) * 6 - 3
    return batch


def without_labels(batch: dict) -> dict:
    return {key: value for key, value in batch.items() if key != "labels"}


@pytest.mark.parametrize("augmentation", AUGMENTATIONS)
@pytest.mark.parametrize("name", list(BACKBONES))
def test_train_step_and_eval_for_every_augmentation(name, augmentation):
    torch.manual_seed(0)
    model = make_model(name, augmentation=augmentation)
    batch = make_batch()

    model.train()
    output = model(**batch, mix_seed=torch.tensor(7))
    assert output.logits.shape == (6, 1)
    assert torch.isfinite(output.loss)
    assert torch.allclose(output.loss, sum(output.loss_parts.values()))
    assert ("mixed" in output.loss_parts) == (augmentation != "none")
    assert ("aux" in output.loss_parts) == (name in ("misa", "glomo"))
    output.loss.backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not unused, f"parameters without a finite gradient: {unused}"
    if augmentation == "msmix":
        assert output.intensities.shape == (6, 3)
        for predictor in model.augmentation.predictors:
            assert sum(p.grad.abs().sum() for p in predictor.parameters()) > 0

    model.eval()
    with torch.no_grad():
        first, second = model(**batch), model(**batch)
    assert set(first.loss_parts) <= {"task", "aux"}
    assert torch.equal(first.logits, second.logits)
    assert torch.equal(first.loss, second.loss)
    assert (first.intensities is not None) == (augmentation == "msmix")


@pytest.mark.parametrize("name", list(BACKBONES))
def test_paper_default_sizes(name):
    config_class, model_class = BACKBONES[name]
    config = config_class()
    assert config.model_type == f"msmix_{name}"
    assert config.feature_dims == MOSI_DIMS
    model = model_class(config).eval()
    lengths = (12, 20, 25)
    with torch.no_grad():
        output = model(**make_batch(batch_size=3, lengths=lengths))
    states = [output.text_state, output.audio_state, output.vision_state]
    assert [tuple(s.shape) for s in states] == DEFAULT_STATE_SHAPES[name](3, lengths)
    assert output.logits.shape == (3, 1)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_padding_does_not_change_outputs(name):
    torch.manual_seed(0)
    model = make_model(name, augmentation="msmix").eval()
    batch = without_labels(make_batch())
    padded = {}
    for modality in ("text", "audio", "vision"):
        features, mask = batch[f"{modality}_features"], batch[f"{modality}_mask"]
        garbage = 5 * torch.randn(features.shape[0], 7, features.shape[2])
        padded[f"{modality}_features"] = torch.cat([features, garbage], dim=1)
        padded[f"{modality}_mask"] = torch.cat([mask, torch.zeros(mask.shape[0], 7, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, model(**padded).logits, atol=1e-5)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_save_and_load_give_identical_outputs(name, tmp_path):
    torch.manual_seed(0)
    model = make_model(name, augmentation="msmix", alpha=1.5).eval()
    batch = without_labels(make_batch())
    model.save_pretrained(tmp_path)
    config = AutoConfig.from_pretrained(tmp_path)
    assert type(config) is BACKBONES[name][0]
    assert config.alpha == 1.5 and all(getattr(config, k) == v for k, v in SMALL[name].items())
    assert type(config).from_dict(config.to_dict()).to_dict() == config.to_dict()
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is BACKBONES[name][1]
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, loaded(**batch).logits, atol=1e-6)
        assert torch.allclose(model(**batch).intensities, loaded(**batch).intensities, atol=1e-6)


@pytest.mark.parametrize("name", ["misa", "almt", "lnln", "dashfusion"])
def test_text_encoder_is_fine_tuned_and_reloads_offline(name, tmp_path):
    torch.manual_seed(0)
    bert_dir, model_dir = tmp_path / "tiny-bert", tmp_path / "model"
    bert = BertModel(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=48, max_position_embeddings=32))
    bert.save_pretrained(bert_dir)
    model = make_model(name, text_encoder_name_or_path=str(bert_dir), augmentation="msmix")
    pretrained = bert.state_dict()
    assert all(torch.equal(value, pretrained[key]) for key, value in model.text_encoder.state_dict().items())
    assert model.config.text_encoder_config["hidden_size"] == 32

    batch = make_batch(batch_size=4, lengths=(9, 12, 12))
    batch["input_ids"] = torch.randint(1, 60, (4, 9))
    batch["attention_mask"] = batch["text_mask"].long()
    model.train()
    model(**batch).loss.backward()
    assert model.text_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0

    model.eval()
    model.save_pretrained(model_dir)
    shutil.rmtree(bert_dir)
    loaded = AutoModel.from_pretrained(model_dir).eval()
    inputs = without_labels(batch)
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, loaded(**inputs).logits, atol=1e-6)
    del inputs["input_ids"]
    with pytest.raises(ValueError, match="input_ids"):
        loaded(**inputs)


@pytest.mark.parametrize("name", list(BACKBONES))
@pytest.mark.parametrize("augmentation", ["none", "msmix"])
def test_overfits_32_default_samples(name, augmentation, default_train_batch):
    """Training MAE on 32 samples of the default data falls far below the label std (dropout off)."""
    torch.manual_seed(0)
    overrides = {"augmentation": augmentation}
    config = BACKBONES[name][0](**SMALL[name])
    overrides.update({key: 0.0 for key in config.to_dict() if key.endswith("dropout")})
    model = make_model(name, **overrides)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    labels = default_train_batch["labels"]
    for _ in range(OVERFIT_STEPS[name]):
        model.train()
        loss = model(**default_train_batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predictions = model(**without_labels(default_train_batch)).logits.squeeze(-1)
    mae = (predictions - labels).abs().mean()
    assert mae < 0.25 * labels.std(), f"{name}/{augmentation}: MAE {mae:.3f}, label std {labels.std():.3f}"


@pytest.fixture(scope="module")
def default_train_batch() -> dict:
    data = generate_default_dataset(SyntheticConfig(
        train_size=32, validation_size=2, test_size=2, max_text_length=12, max_audio_length=32,
        max_vision_length=32, min_audio_length=8, min_vision_length=8))
    train = data["train"].with_format("torch")
    batch = MSMixDataCollator()([train[i] for i in range(len(train))])
    assert batch["text_features"].shape[-1] == 768 and batch["labels"].shape == (32,)
    return batch


def test_single_sample_training_batch_runs():
    model = make_model("tfn", augmentation="msmix").train()
    output = model(**make_batch(batch_size=1))
    output.loss.backward()
    assert set(output.loss_parts) == {"task"}


def test_config_rejects_inconsistent_sizes():
    with pytest.raises(ValueError, match="num_heads"):
        BACKBONES["mult"][0](hidden_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="top_k"):
        BACKBONES["glomo"][0](top_k=4)
    with pytest.raises(ValueError, match="fusion_num_heads"):
        BACKBONES["misa"][0](hidden_dim=33)


def test_almt_rejects_sequences_longer_than_its_position_table():
    model = make_model("almt", audio_max_length=16).eval()
    with pytest.raises(ValueError, match="audio_max_length=16"):
        model(**without_labels(make_batch(lengths=(5, 20, 5))))


def test_masked_pooling_helpers_match_hand_computed_values():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    assert torch.equal(masked_mean(x, mask), torch.tensor([[2.0], [4.0]]))
    assert torch.equal(last_real_step(x, mask), torch.tensor([[3.0], [6.0]]))


@pytest.mark.parametrize("bins", [1, 3, 4])
def test_adaptive_masked_max_pool_equals_torch_pooling_of_the_unpadded_rows(bins):
    torch.manual_seed(0)
    lengths = [7, 3, 10, 2]
    x = torch.randn(4, 10, 5)
    mask = torch.arange(10)[None, :] < torch.tensor(lengths)[:, None]
    pooled = adaptive_masked_max_pool(x, mask, bins)
    for row, length in enumerate(lengths):
        expected = torch.nn.functional.adaptive_max_pool1d(x[row, :length].T.unsqueeze(0), bins)[0].T
        assert torch.equal(pooled[row], expected)


def test_tensor_fusion_holds_unimodal_bimodal_and_trimodal_terms():
    z_t, z_a, z_v = torch.tensor([[2.0, 3.0]]), torch.tensor([[5.0]]), torch.tensor([[7.0]])
    fused = tensor_fusion(z_t, z_a, z_v).reshape(3, 2, 2)
    assert fused.shape == (3, 2, 2)
    assert fused[0, 0, 0] == 2 * 5 * 7 and fused[1, 0, 1] == 3 * 5
    assert fused[2, 1, 1] == 1 and fused[0, 1, 1] == 2 and fused[2, 0, 1] == 5 and fused[2, 1, 0] == 7


def test_low_rank_fusion_equals_tensor_fusion_with_the_reconstructed_weight():
    torch.manual_seed(0)
    fusion = LowRankFusion((3, 2, 4), rank=5)
    z = [torch.randn(6, 3), torch.randn(6, 2), torch.randn(6, 4)]
    factor_t, factor_a, factor_v = (f[..., 0] for f in fusion.factors)
    weight = torch.einsum("r,rt,ra,rv->tav", fusion.rank_weights[0], factor_t, factor_a, factor_v)
    expected = tensor_fusion(*z) @ weight.reshape(-1, 1) + fusion.bias
    assert torch.allclose(fusion(*z), expected, atol=1e-5)


def test_misa_losses_match_hand_computed_values():
    # x's only feature column (1, -1, 1, -1) is orthogonal over the batch to y's (1, 1, -1, -1)
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    y = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, -1.0], [0.0, -1.0]])
    # Orthogonal columns give 0 in exact arithmetic; the normalisation divides by computed norms, so a
    # CPU may leave rounding (2e-25 seen). A real bug gives O(1): difference_loss(x, x) below is 4.
    assert difference_loss(x, y).item() == pytest.approx(0.0, abs=1e-12), "orthogonal features must give ~0"
    # unit rows: x^T x = [[4, 0], [0, 0]], whose mean squared entry is 16 / 4
    assert torch.isclose(difference_loss(x, x), torch.tensor(4.0), atol=1e-4)
    torch.manual_seed(0)
    samples = torch.randn(8, 3)
    shift = torch.tensor([3.0, 0.0, 4.0])
    assert cmd_loss(samples, samples, 5) < 1e-5
    assert torch.isclose(cmd_loss(samples, samples + shift, 5), torch.tensor(5.0), atol=1e-4)


def test_mixture_of_experts_routes_to_top_k_and_balance_loss_matches_hand_value():
    torch.manual_seed(0)
    moe = MixtureOfExperts(input_dim=4, output_dim=2, hidden_dim=3, num_experts=3, top_k=2).eval()
    x = torch.randn(5, 4)
    output, balance = moe(x)
    # zero gate weights: every row goes to experts 0 and 1 with weight 1/2; importance and load are
    # proportional to [1, 1, 0], whose squared coefficient of variation is 3/4
    expected = 0.5 * moe.experts[0](x) + 0.5 * moe.experts[1](x)
    assert torch.allclose(output, expected)
    assert torch.isclose(balance, torch.tensor(1.5))
    moe.train()
    _, noisy_balance = moe(x)
    noisy_balance.backward()
    assert moe.noise.grad.abs().sum() > 0 and moe.gate.grad.abs().sum() > 0


def test_mult_reads_real_steps_from_zeroed_padding():
    state = torch.zeros(2, 4, 3)
    state[0, :2] = 1.0
    assert steps_in_use(state).tolist() == [[True, True, False, False], [True, False, False, False]]


def test_fusion_tensor_is_the_einsum_outer_product_with_the_same_gradients():
    torch.manual_seed(0)
    z = [torch.randn(5, d, requires_grad=True) for d in (7, 3, 4)]
    expected = torch.einsum("nt,na,nv->ntav", *(append_one(x) for x in z)).flatten(start_dim=1)
    fused = tensor_fusion(*z)
    assert torch.equal(fused, expected)
    weight = torch.randn_like(expected)
    gradients = torch.autograd.grad((fused * weight).sum(), z)
    for got, want in zip(gradients, torch.autograd.grad((expected * weight).sum(), z)):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # einsum is not autocast: neither is the fusion tensor
        assert fusion_tensor(*z).dtype == torch.float32


def test_tfn_fuse_in_training_equals_dropout_on_the_flat_einsum_product():
    """The in-place dropout on the 3-D fusion tensor draws the mask of ``Dropout`` on the flat product."""
    model = make_model("tfn")
    model.train()
    z = [torch.randn(6, d, requires_grad=True) for d in model.subnets.output_dims]
    outputs, gradients = [], []
    for path in ("fuse", "reference"):
        torch.manual_seed(3)
        if path == "fuse":
            prediction, _ = model.fuse(*z)
        else:
            flat = torch.einsum("nt,na,nv->ntav", *(append_one(x) for x in z)).flatten(start_dim=1)
            dropped = torch.nn.functional.dropout(flat, model.config.post_fusion_dropout, training=True)
            prediction = model.post_fusion[1:](dropped)
        outputs.append(prediction)
        gradients.append(torch.autograd.grad(prediction.square().sum(), [*z, model.post_fusion[1].weight]))
    assert torch.allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    for got, want in zip(*gradients):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


def test_dropout_attention_equals_sdpa_with_the_same_dropout_draws():
    torch.manual_seed(0)
    query, key, value = (torch.randn(3, 2, length, 4, requires_grad=True) for length in (5, 7, 7))
    key_mask = torch.rand(3, 7) > 0.4
    key_mask[:, 0] = True
    key_mask[2] = False  # a row with no key attends to nothing (SDPA's safe softmax gives zeros)
    results = []
    for path in ("sdpa", "dropout_attention"):
        torch.manual_seed(5)
        if path == "sdpa":
            out = F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask[:, None, None, :], dropout_p=0.3)
        else:
            out = dropout_attention(query, key, value, key_mask, 0.3)
        gradients = torch.autograd.grad(out.square().sum(), (query, key, value))
        results.append((out, gradients, torch.rand(1)))  # the next draw: both consumed the generator alike
    (sdpa_out, sdpa_grads, sdpa_next), (out, grads, next_draw) = results
    assert torch.allclose(out, sdpa_out, atol=1e-6) and torch.equal(next_draw, sdpa_next)
    assert torch.equal(out[2], torch.zeros_like(out[2]))
    for got, want in zip(grads, sdpa_grads):
        assert torch.isfinite(got).all() and torch.allclose(got, want, atol=1e-5)


def test_crossmodal_transformer_training_on_cpu_equals_the_sdpa_path(monkeypatch):
    torch.manual_seed(0)
    transformer = CrossmodalTransformer(8, 2, 2, attn_dropout=0.2, relu_dropout=0.1, res_dropout=0.1, embed_dropout=0.1)
    transformer.train()
    x, source = torch.randn(3, 5, 8), torch.randn(3, 6, 8)
    mask, source_mask = torch.ones(3, 5, dtype=torch.bool), torch.arange(6)[None, :] < torch.tensor([[6], [3], [1]])
    results = []
    for lean in (True, False):
        monkeypatch.setattr(layers, "uses_dropout_attention", lambda tensor: lean)
        torch.manual_seed(9)
        out = transformer(x, mask, source, source_mask)
        results.append((out, torch.autograd.grad(out.sum(), list(transformer.parameters()))))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    for got, want in zip(results[0][1], results[1][1]):
        assert torch.allclose(got, want, atol=1e-5)
