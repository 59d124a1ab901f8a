"""GPU readiness checked on CPU: host lengths reach packed LSTMs, bf16 autocast and torch.compile train."""


import pytest
import torch
from datasets import load_from_disk

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from modeling_msmix import BACKBONES, LMFConfig, LMFModel
from modeling_msmix.host_lengths import known_lengths, mask_lengths
from trainer.collator import MSMixDataCollator
from trainer.msmix_trainer import MSMixTrainer

SMALL = helpers.TINY_BACKBONES


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    dataset = load_from_disk(str(helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")))
    batch = MSMixDataCollator(seed=1)(dataset["train"].with_format("torch").__getitems__(list(range(8))))
    return dataset, batch


STATIC_SHAPES = MSMixDataCollator(max_text_length=8, max_audio_length=12, max_vision_length=10, pad_to_max_length=True,
                                  seed=7)


def make_model(name, dataset, augmentation):
    config_class, model_class = BACKBONES[name]
    config = config_class(**SMALL[name], augmentation=augmentation)
    config.apply_dataset_metadata(read_metadata(dataset).to_dict())
    torch.manual_seed(0)
    return model_class(config)


def test_collator_passes_lengths_as_host_ints(tiny):
    _, batch = tiny
    for modality in ("text", "audio", "vision"):
        lengths = batch["host_lengths"][modality]
        assert all(type(value) is int for value in lengths)
        assert lengths == batch[f"{modality}_mask"].sum(dim=1).tolist()


def test_registered_lengths_are_used_instead_of_the_mask():
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    with known_lengths([mask], [[2, 0]]):
        assert mask_lengths(mask).tolist() == [2, 1]  # from the host ints (clamped to >= 1), not the mask
    assert mask_lengths(mask).tolist() == [3, 4]  # outside the block: from the mask


@pytest.mark.parametrize("name", ["lmf", "misa"])
def test_packed_lstms_read_the_host_lengths(tiny, name):
    dataset, batch = tiny
    model = make_model(name, dataset, "none").eval()
    inputs = {key: value for key, value in batch.items() if key not in ("host_lengths", "mix_seed")}
    with torch.no_grad():
        from_masks = model(**inputs).logits
        from_host = model(**inputs, host_lengths=batch["host_lengths"]).logits
        ones = {modality: [1] * len(values) for modality, values in batch["host_lengths"].items()}
        first_steps_only = model(**inputs, host_lengths=ones).logits
    torch.testing.assert_close(from_host, from_masks, rtol=0, atol=0)
    assert not torch.allclose(first_steps_only, from_masks)  # the LSTMs did read the host lengths


@pytest.mark.parametrize("augmentation", ["none", "msmix"])
@pytest.mark.parametrize("name", list(BACKBONES))
def test_bf16_autocast_step_keeps_shapes_and_finite_losses(tiny, name, augmentation):
    dataset, batch = tiny
    model = make_model(name, dataset, augmentation).train()
    reference = model(**batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(**batch)
    output.loss.backward()
    assert output.logits.shape == reference.logits.shape == (8, 1)
    assert set(output.loss_parts) == set(reference.loss_parts)
    assert torch.isfinite(output.loss) and all(torch.isfinite(part) for part in output.loss_parts.values())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_trainer_with_bf16_and_torch_compile_trains_on_cpu(tiny, tmp_path):
    dataset, batch = tiny
    config = LMFConfig(**SMALL["lmf"], augmentation="msmix")
    config.apply_dataset_metadata(read_metadata(dataset).to_dict())
    # aot_eager runs torch.compile's capture (dynamo + AOTAutograd) without inductor's C++ build, which
    # takes minutes on a small CPU; benchmarks/gpu_check.sh runs the inductor backend on a GPU. Batches
    # padded to fixed lengths keep one graph (no recompiles).
    torch.manual_seed(0)
    args = helpers.tiny_training_args(tmp_path / "compiled", max_steps=2, bf16=True, torch_compile=True,
                                      torch_compile_backend="aot_eager")
    trainer = MSMixTrainer(model=LMFModel(config), args=args, train_dataset=dataset["train"].with_format("torch"),
                           data_collator=STATIC_SHAPES)
    trainer.train()
    assert trainer.model_wrapped is not trainer.model  # the step ran through the compiled module
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    with torch.no_grad():
        logits = trainer.model.eval()(**{k: v for k, v in batch.items() if k != "mix_seed"}).logits
    assert logits.shape == (8, 1) and torch.isfinite(logits).all()
