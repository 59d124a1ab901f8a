"""Robustness protocols, modality dropout, and MS-Mix with missing modalities and padded 3-D states."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from modeling_msmix import BACKBONES
from modeling_msmix.mixing_base import RandomDraws
from modeling_msmix.mixing_msmix import IntensityPredictor, MSMix, modality_similarity, sentiment_alignment_loss
from modeling_msmix.modality_masks import keep_steps, modality_present, random_modality_keep, row_seeds
from trainer.collator import MSMixDataCollator
from trainer.msmix_trainer import MSMixTrainer
from trainer.robustness import RobustnessArguments, RobustnessEvaluator, evaluate_robustness, main
from trainer.robustness_protocols import Perturbation, PerturbingCollator, protocol_perturbations

TINY = helpers.TINY_BACKBONES
FEW_LEVELS = dict(modality_missing_rates=[0.5], step_missing_rates=[0.0, 0.9], noise_snr_db=[-5.0])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")
    dataset = load_from_disk(str(folder))
    return folder, dataset, read_metadata(dataset).to_dict()


def tiny_model(name, metadata, **overrides):
    config_class, model_class = BACKBONES[name]
    torch.manual_seed(0)
    return model_class(config_class.from_dataset_metadata(metadata, **{**TINY[name], **overrides})).eval()


@pytest.fixture(scope="module")
def evaluated_model(tiny_data, tmp_path_factory):
    """A tiny LMF saved to a folder and evaluated there by ``trainer.robustness`` (few levels)."""
    folder, _, metadata = tiny_data
    model_dir = tmp_path_factory.mktemp("evaluated") / "model"
    tiny_model("lmf", metadata).save_pretrained(model_dir)
    return model_dir, evaluate_robustness(RobustnessArguments(model=str(model_dir), dataset=str(folder), **FEW_LEVELS))


def test_rate_zero_equals_clean_evaluation_and_files_are_reproducible(tiny_data, evaluated_model, tmp_path):
    folder, dataset, metadata = tiny_data
    model_dir, first = evaluated_model
    model = BACKBONES["lmf"][1].from_pretrained(model_dir).eval()
    step_rows = first["protocols"]["random_step_missing"]["levels"]
    assert step_rows[0]["level"] == 0.0 and step_rows[0]["metrics"] == first["clean"]
    assert step_rows[1]["metrics"] != first["clean"]

    # The clean figures are exactly those of the Trainer's evaluation of the saved model.
    args = helpers.tiny_training_args(tmp_path / "eval", per_device_eval_batch_size=128)
    trainer = MSMixTrainer(model=model, args=args, data_collator=MSMixDataCollator())
    evaluated = trainer.evaluate(dataset["test"].with_format("torch"), metric_key_prefix="test")
    for name, value in first["clean"].items():
        assert evaluated[f"test_{name}"] == pytest.approx(value, rel=0, abs=1e-12)

    written = json.loads((model_dir / "robustness.json").read_text())
    assert len(written["protocols"]["fixed_missing"]["levels"]) == 6
    assert written["lnln_average"] == pytest.approx(
        {k: np.mean([r["metrics"][k] for r in step_rows]) for k in first["clean"]})
    markdown = (model_dir / "robustness.md").read_text()
    assert markdown.count("| clean |") == 4 and "A+V (T removed)" in markdown and "| -5 dB |" in markdown
    assert (model_dir / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = tmp_path / "robustness.yaml"
    config.write_text(f"model: {model_dir}\ndataset: {folder}\noutput_dir: {tmp_path / 'again'}\n"
                      "modality_missing_rates: [0.5]\nstep_missing_rates: [0.0, 0.9]\nnoise_snr_db: [-5.0]\n")
    second = main([str(config)])
    assert second["protocols"] == first["protocols"] and second["clean"] == first["clean"]


def test_two_processes_write_the_same_robustness_json(tiny_data, evaluated_model, tmp_path):
    folder, _, _ = tiny_data
    model_dir, _ = evaluated_model
    written = []
    for run in ("first", "second"):
        command = [sys.executable, "-m", "trainer.robustness", "--model", str(model_dir), "--dataset", str(folder),
                   "--output_dir", str(tmp_path / run), "--modality_missing_rates", "0.5",
                   "--step_missing_rates", "0.0", "0.9", "--noise_snr_db", "-5.0"]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                       cwd=Path(__file__).resolve().parents[1])
        written.append((tmp_path / run / "robustness.json").read_bytes())
    assert written[0] == written[1]
    assert b"wall_seconds" not in written[0]


def test_model_card_gets_a_robustness_section_and_lnln_model_index_entries(tiny_data, evaluated_model, tmp_path):
    from huggingface_hub import ModelCard

    from trainer.push_model import save_model_for_hub

    _, _, metadata = tiny_data
    model_dir, results = evaluated_model
    model = BACKBONES["lmf"][1].from_pretrained(model_dir)
    test_metrics = {"MAE": {"mean": 1.1, "std": 0.1, "n": 2}}
    save_model_for_hub(model, tmp_path / "repo", dataset_id="user/tiny", results={"test": test_metrics})
    card = ModelCard.load(tmp_path / "repo" / "README.md")
    assert "## Robustness" in card.text and "### Random step missing" in card.text
    assert "![metrics against the missing rate and noise](robustness.png)" in card.text
    assert card.text.count("| clean |") == 4
    assert (tmp_path / "repo" / "robustness.png").is_file() and (tmp_path / "repo" / "robustness.json").is_file()
    lnln = {r.metric_name.split(" ")[0]: r for r in card.data.eval_results if "LNLN" in r.metric_name}
    assert set(lnln) == set(results["clean"]) - {n for n, v in results["lnln_average"].items() if not math.isfinite(v)}
    assert lnln["MAE"].metric_value == pytest.approx(results["lnln_average"]["MAE"], abs=1e-6)
    clean = next(r for r in card.data.eval_results if "LNLN" not in r.metric_name)
    assert lnln["MAE"].dataset_name == clean.dataset_name and lnln["MAE"].metric_type == "mae"
    assert any(r.metric_name == "MAE (mean ± 0.1000 over 2 seeds)" for r in card.data.eval_results)

    fresh = tiny_model("lmf", metadata)  # not loaded from a folder with robustness.json
    save_model_for_hub(fresh, tmp_path / "plain", dataset_id="user/tiny", results={"test": test_metrics})
    assert "## Robustness" not in (tmp_path / "plain" / "README.md").read_text()
    assert not (tmp_path / "plain" / "robustness.png").exists()


def test_bad_arguments_name_the_flag(tiny_data, evaluated_model, tmp_path):
    folder, _, _ = tiny_data
    with pytest.raises(SystemExit, match="--model"):
        main(["--model", str(tmp_path / "absent"), "--dataset", str(folder)])
    with pytest.raises(SystemExit, match="--protocols"):
        main(["--model", str(evaluated_model[0]), "--dataset", str(folder), "--protocols", "occlusion"])
    with pytest.raises(SystemExit, match="--split"):
        main(["--model", str(evaluated_model[0]), "--dataset", str(folder), "--split", "dev"])


def rows_of(dataset, count=8):
    split = dataset["test"].with_format("torch")
    return [split[i] for i in range(count)]


@pytest.mark.parametrize("name", list(BACKBONES))
def test_dropping_a_modality_equals_feeding_it_with_length_zero(name, tiny_data):
    _, dataset, metadata = tiny_data
    model = tiny_model(name, metadata, augmentation="msmix")
    rows, collator = rows_of(dataset), MSMixDataCollator(return_mix_seed=False)
    ids = [row["id"] for row in rows]
    for removed in ((1,), (0, 2)):
        empty = []
        for row in rows:
            row = dict(row)
            for index in removed:
                modality = ("text", "audio", "vision")[index]
                row[f"{modality}_features"] = row[f"{modality}_features"][:0]
                row[f"{modality}_length"] = torch.tensor(0)
            empty.append(row)
        dropped = Perturbation("fixed_missing", removed=removed).apply(collator(rows), ids)
        with torch.no_grad():
            by_mask, by_length = model(**dropped), model(**collator(empty))
        torch.testing.assert_close(by_mask.logits, by_length.logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(by_mask.intensities, by_length.intensities, atol=1e-5, rtol=1e-5)
        assert (by_mask.intensities[:, list(removed)] == 0).all()


def perturbed_rows(perturbation, rows, batches):
    """Per sample id: the real steps of each modality after ``perturbation``, collating ``rows`` in ``batches``."""
    collator, out = MSMixDataCollator(return_mix_seed=False), {}
    for chunk in np.array_split(np.arange(len(rows)), batches):
        chunk_rows = [rows[i] for i in chunk]
        batch = PerturbingCollator(collator, perturbation)(chunk_rows)
        for row_index, row in enumerate(chunk_rows):
            out[row["id"]] = [batch[f"{m}_features"][row_index][batch[f"{m}_mask"][row_index]].numpy().tobytes()
                              for m in ("text", "audio", "vision")]
    return out


def test_masks_identical_across_runs_and_batchings(tiny_data):
    _, dataset, _ = tiny_data
    rows = rows_of(dataset, 24)
    for levels in protocol_perturbations(5).values():
        for perturbation in levels:
            whole = perturbed_rows(perturbation, rows, 1)
            assert whole == perturbed_rows(perturbation, rows, 1) == perturbed_rows(perturbation, rows, 5)
    # Masks are nested across rates, and a higher rate removes more.
    kept = {r: sum(len(v[1]) for v in perturbed_rows(Perturbation("random_step_missing", r, seed=5), rows, 1).values())
            for r in (0.0, 0.3, 0.6)}
    assert kept[0.0] > kept[0.3] > kept[0.6] > 0
    keep = random_modality_keep(row_seeds(5, range(2000)), 0.7)
    assert keep.any(dim=1).all()
    assert 0.2 < keep.float().mean() < 0.45  # 0.3 kept per modality, plus the rescued one


def _two_process_predictions(folder, model_dir, output_file):
    from accelerate import PartialState

    model = BACKBONES["lmf"][1].from_pretrained(model_dir).eval()
    evaluator = RobustnessEvaluator(model, load_from_disk(folder)["test"].with_format("torch"),
                                    MSMixDataCollator(return_mix_seed=False), "mosi", batch_size=5)
    predictions = {p.label: evaluator.predictions(p)[0].tolist()
                   for p in (Perturbation("random_step_missing", 0.5, seed=3),
                             Perturbation("random_modality_missing", 0.5, seed=3),
                             Perturbation("feature_noise", 0.0, seed=3))}
    state = PartialState()
    if state.is_main_process:
        Path(output_file).write_text(json.dumps({"world_size": state.num_processes, "predictions": predictions}))


def test_protocols_give_the_same_predictions_on_one_and_two_processes(tiny_data, tmp_path, one_thread_subprocess_env):
    folder, _, metadata = tiny_data
    tiny_model("lmf", metadata).save_pretrained(tmp_path / "model")
    single = tmp_path / "single.json"
    _two_process_predictions(str(folder), str(tmp_path / "model"), single)
    double = tmp_path / "double.json"
    # accelerate's debug_launcher forks its ranks. A fork of this pytest process inherits its OpenMP pool:
    # once that pool has run with more than one thread (OMP_NUM_THREADS=2), a rank that asks for more than
    # one thread hangs in its first parallel region, so the ranks would be safe only while this module's
    # one-thread fixture holds. They are forked instead from a fresh process started with OMP_NUM_THREADS=1
    # (no pool threads to inherit), which runs this file's __main__ part.
    launched = subprocess.run([sys.executable, __file__, str(folder), str(tmp_path / "model"), str(double)],
                              cwd=Path(__file__).resolve().parents[1], env=one_thread_subprocess_env,
                              capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-4000:]
    one, two = json.loads(single.read_text()), json.loads(double.read_text())
    assert (one["world_size"], two["world_size"]) == (1, 2)
    for label, values in one["predictions"].items():
        np.testing.assert_allclose(two["predictions"][label], values, rtol=1e-6, atol=1e-6, err_msg=(
            f"{label}: the ranks predict other batches than one process (other rows, other padded lengths), so "
            "float32 sums may differ in the last bits; a wrong row or mask differs by far more"))


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_runs_every_protocol_without_nan(name, tiny_data):
    _, dataset, metadata = tiny_data
    model = tiny_model(name, metadata, augmentation="msmix")
    evaluator = RobustnessEvaluator(model, dataset["test"].with_format("torch"),
                                    MSMixDataCollator(return_mix_seed=False), "mosi", batch_size=24)
    for levels in protocol_perturbations(1, **{"modality_rates": [0.7], "step_rates": [0.9], "snr_db": [-5]}).values():
        for perturbation in levels:
            result = evaluator.evaluate(perturbation)
            assert result["nan_predictions"] == 0, perturbation
            assert all(math.isfinite(result["metrics"][k]) for k in ("MAE", "Has0_acc_2")), perturbation
    # Training with modality dropout and MS-Mix: finite loss and gradients on every backbone.
    model = tiny_model(name, metadata, augmentation="msmix", modality_dropout=0.6).train()
    batch = MSMixDataCollator()(rows_of(dataset, 8))
    output = model(**batch)
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_sig_and_sass_ignore_padding_of_3d_states():
    torch.manual_seed(0)
    predictor = IntensityPredictor(8, num_heads=2).eval()
    state = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    junk = torch.where(mask[..., None], state, 9 * torch.randn(3, 5, 8))
    padded = torch.cat([junk, torch.randn(3, 4, 8)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        alone = torch.stack([predictor(state[i:i + 1, : int(mask[i].sum())])[0] for i in range(3)])
        torch.testing.assert_close(predictor(padded, padded_mask), alone, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(predictor(padded), alone, atol=1e-3)  # the unmasked path does see padding
    similarity = modality_similarity((padded,) * 3, (padded_mask,) * 3)
    clean = modality_similarity((state * mask[..., None],) * 3)
    torch.testing.assert_close(similarity, clean)


def test_a_samples_mult_intensity_does_not_depend_on_batch_mates_lengths(tiny_data):
    _, dataset, metadata = tiny_data
    model = tiny_model("mult", metadata, augmentation="msmix")
    rows = rows_of(dataset, 24)
    lengths = [int(row["audio_length"]) for row in rows]
    short = rows[int(np.argmin(lengths))]
    longest = rows[int(np.argmax(lengths))]
    collator = MSMixDataCollator(return_mix_seed=False)
    with torch.no_grad():
        alone = model(**collator([short, short])).intensities[0]
        with_long = model(**collator([short, longest])).intensities[0]
    assert max(lengths) > min(lengths)
    torch.testing.assert_close(alone, with_long, atol=1e-5, rtol=1e-5)


def test_msmix_with_missing_modalities_uses_no_intensity_of_a_missing_modality():
    torch.manual_seed(0)
    module = MSMix((4, 4, 4), label_scale=3.0)
    states = tuple(torch.randn(6, 4) for _ in range(3))
    labels = torch.tensor([-2.0, -1.0, 0.5, 1.0, 2.0, 2.5])
    present = torch.ones(6, 3, dtype=torch.bool)
    present[:3, 1] = False  # audio missing for the first three samples
    present[:, 2] = False  # vision missing for every sample
    result = module(states, labels, RandomDraws(torch.Generator().manual_seed(0), torch.device("cpu")),
                    None, present)
    assert (result.intensities[~present] == 0).all() and (result.intensities[present] != 0).all()
    assert all(torch.isfinite(t).all() for t in (*result.mixed_states, result.label_lambda, result.extra_loss))
    # SAL: text over all six samples, audio over the three that have it, vision adds nothing.
    full = sentiment_alignment_loss(result.intensities[:, :1], labels, 3.0)
    audio = sentiment_alignment_loss(result.intensities[3:, 1:2], labels[3:], 3.0)
    torch.testing.assert_close(result.extra_loss, full + audio)
    # Recover each modality's lam from the mixed states. Vision is missing everywhere, so
    # lam_v = (lam_base + 0.5) / 2; a pair where a partner lacks audio has lam_a = lam_v; text
    # follows SPEC section 4 with w_t min-max normalised over the batch.
    i1, i2 = result.index1, result.index2
    lam = [((mixed - state[i2]) / (state[i1] - state[i2]))[:, 0] for mixed, state in zip(result.mixed_states, states)]
    base = 2 * lam[2] - 0.5
    w_t = result.intensities[:, 0].abs()
    w_t = (w_t - w_t.min()) / (w_t.max() - w_t.min())
    torch.testing.assert_close(lam[0], (base + (w_t[i1] + 1e-8) / (w_t[i1] + w_t[i2] + 2e-8)) / 2)
    touches_missing_audio = (i1 < 3) | (i2 < 3)
    assert touches_missing_audio.any() and (~touches_missing_audio).any()
    torch.testing.assert_close(lam[1][touches_missing_audio], lam[2][touches_missing_audio])
    assert not torch.allclose(lam[1][~touches_missing_audio], lam[2][~touches_missing_audio])
    # Similarities average only the modalities both samples have (vision never counts).
    similarity = modality_similarity(states, None, present)
    unit = [torch.nn.functional.normalize(s, dim=1) for s in states]
    expected_45 = ((unit[0][4] @ unit[0][5]) + (unit[1][4] @ unit[1][5])) / 2
    expected_04 = unit[0][0] @ unit[0][4]
    torch.testing.assert_close(similarity[4, 5], expected_45)
    torch.testing.assert_close(similarity[0, 4], expected_04)


def test_keep_steps_closes_up_and_empties_become_missing():
    features = torch.arange(1, 13, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    keep = torch.tensor([[True, False, True], [False, False, False]])
    kept, new_mask = keep_steps(features, mask, keep)
    assert kept.tolist() == [[[1, 2], [5, 6], [0, 0]], [[0, 0], [0, 0], [0, 0]]]
    assert new_mask.tolist() == [[True, True, False], [True, False, False]]
    assert modality_present(kept, new_mask).tolist() == [True, False]


def test_modality_present_needs_a_non_zero_value_on_a_real_step():
    features = torch.zeros(4, 3, 2)
    mask = torch.tensor([[True, True, False]] * 4)
    features[1, 2, 0] = 5.0  # only on the padded step
    features[2, 1, 1] = -0.5  # on a real step
    features[3, 0, 0] = float("nan")
    assert modality_present(features, mask).tolist() == [False, False, True, True]
    expected = (features.ne(0) & mask.unsqueeze(-1)).flatten(start_dim=1).any(dim=1)
    assert torch.equal(modality_present(features, mask), expected)


def test_modality_dropout_with_msmix_trains_lowers_the_loss_and_is_seeded(tiny_data, tmp_path):
    _, dataset, metadata = tiny_data
    # SAL at its default weight (500) holds a model this small at the training mean for many epochs
    # whatever the dropout; 5 lets the 12 epochs below show that training with dropout + MS-Mix learns.
    model = tiny_model("lmf", metadata, augmentation="msmix", modality_dropout=0.3, sal_weight=5.0).train()
    batch = MSMixDataCollator()(rows_of(dataset, 16))

    def task_loss(model, batch):
        torch.manual_seed(0)  # the backbone's own dropout layers use the global RNG
        return model(**batch).loss_parts["task"]

    seeded = [task_loss(model, batch) for _ in range(2)]
    assert torch.equal(*seeded)
    other_seed = task_loss(model, {**batch, "mix_seed": batch["mix_seed"] + 1})
    undropped = task_loss(tiny_model("lmf", metadata, augmentation="msmix", sal_weight=5.0).train(), batch)
    assert not torch.equal(seeded[0], other_seed) and not torch.equal(seeded[0], undropped)

    trainer = MSMixTrainer(model=model, args=helpers.tiny_training_args(tmp_path / "run", num_train_epochs=12,
                                                                        learning_rate=2e-2, logging_steps=4),
                           train_dataset=dataset["train"].with_format("torch"),
                           eval_dataset=dataset["validation"].with_format("torch"))
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    assert trainer.evaluate()["eval_loss"] < 0.8 * before
    assert all(math.isfinite(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry)


def test_modality_dropout_setting_round_trips_and_is_checked(tmp_path):
    config_class, _ = BACKBONES["lmf"]
    config = config_class(modality_dropout=0.25)
    config.save_pretrained(tmp_path)
    assert config_class.from_pretrained(tmp_path).modality_dropout == 0.25
    with pytest.raises(ValueError, match="modality_dropout"):
        config_class(modality_dropout=1.0)


def test_experiment_adds_averaged_robustness_metrics(tiny_data, tmp_path):
    from trainer.experiment import main as experiment

    folder, _, _ = tiny_data
    results = experiment(["--dataset", str(folder), "--backbones", "lmf", "--augmentations", "msmix", "--seeds", "3",
                          "--num_train_epochs", "1", "--config_overrides", helpers.TINY_LMF + ",modality_dropout=0.2",
                          "--output_dir", str(tmp_path), "--robustness", "--use_cpu", "--save_strategy", "no",
                          "--eval_strategy", "no", "--load_best_model_at_end", "false"])
    summary = results["robustness"]["lmf + msmix"]
    saved = json.loads((tmp_path / "lmf-msmix" / "seed-3" / "robustness.json").read_text())
    assert summary["MAE LNLN avg"]["mean"] == pytest.approx(saved["lnln_average"]["MAE"])
    assert summary["Has0_acc_2 clean"]["mean"] == pytest.approx(results["test"]["lmf + msmix"]["Has0_acc_2"]["mean"])
    assert "| lmf + msmix |" in (tmp_path / "results.md").read_text().split("Robustness")[1]


if __name__ == "__main__":  # the two ranks of test_protocols_give_the_same_predictions_on_one_and_two_processes
    from accelerate import debug_launcher

    debug_launcher(_two_process_predictions, args=tuple(sys.argv[1:4]), num_processes=2)
