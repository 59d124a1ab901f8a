"""Which loss part owns the gradient of a fresh model: each part's gradient norm at initialisation.

``python -m benchmarks.gradient_balance --dataset default:mosi_reliability --backbone lmf
--augmentations none mixup msmix msmix:stop_gradient_per_sample_sal``

For each augmentation (or variant) it builds the backbone with the seed's initial weights, runs one
training batch (the first ``batch_size`` training samples, mixing drawn from ``mix_seed``) and prints
the gradient norm of every loss part on the shared parameters (encoders and fusion) and on the mixing
module's own (SIG), with the task's share on the shared ones (:mod:`trainer.gradient_shares`, the
figures ``MSMixTrainer`` logs during training).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser, set_seed

from data_processing.loading import load_msa_dataset
from data_processing.schema import read_metadata
from modeling_msmix import BACKBONES, resolve_augmentation
from trainer.collator import MSMixDataCollator
from trainer.gradient_shares import gradient_shares, loss_part_gradient_norms, parameter_groups

PARTS: tuple[str, ...] = ("task", "mixed", "sal", "aux")


@dataclass
class GradientBalanceArguments:
    """The data, backbone and settings whose gradient balance to measure."""

    dataset: str = field(default="default:mosi_reliability", metadata={"help": "as trainer/run.py's --dataset"})
    backbone: str = field(default="lmf", metadata={"help": "a registered backbone"})
    augmentations: list[str] = field(default_factory=lambda: ["none", "mixup", "msmix"],
                                     metadata={"help": "augmentations or variants, one row each"})
    batch_size: int = field(default=64, metadata={"help": "training samples in the batch"})
    seed: int = field(default=1111, metadata={"help": "seed of the initial weights"})
    mix_seed: int = field(default=7, metadata={"help": "seed of the batch's mixing draws"})


def gradient_balance(args: GradientBalanceArguments) -> dict[str, dict[str, float]]:
    """``{augmentation: {"<group>_<part>": norm, ..., "task_share": share}}`` at initialisation."""
    dataset = load_msa_dataset(args.dataset)
    metadata = read_metadata(dataset).to_dict()
    rows = dataset["train"].with_format("torch").select(range(min(args.batch_size, dataset["train"].num_rows)))
    batch = MSMixDataCollator(return_mix_seed=False)([rows[i] for i in range(len(rows))])
    config_class, model_class = BACKBONES[args.backbone]
    figures = {}
    for name in args.augmentations:
        augmentation, settings = resolve_augmentation(name)
        config = config_class(augmentation=augmentation.name, **settings)
        config.apply_dataset_metadata(metadata)
        set_seed(args.seed)
        model = model_class(config).train()
        output = model(**batch, mix_seed=torch.tensor(args.mix_seed))
        norms = {key: float(value) for key, value in
                 loss_part_gradient_norms(output.loss_parts, parameter_groups(model)).items()}
        figures[name] = {**norms, "task_share": gradient_shares(norms).get("shared_task", 1.0)}
    return figures


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    (args,) = HfArgumentParser(GradientBalanceArguments).parse_args_into_dataclasses(argv)
    figures = gradient_balance(args)
    print(f"Gradient norm of each loss part at initialisation ({args.backbone}, {args.dataset}, one batch of "
          f"{args.batch_size}, seed {args.seed})")
    print("| setting | " + " | ".join(f"{part} (shared)" for part in PARTS) + " | sal (SIG) | mixed (SIG) | task share |")
    print("|---" * (len(PARTS) + 4) + "|")
    for name, row in figures.items():
        cells = [f"{row[f'shared_{part}']:.3g}" if f"shared_{part}" in row else "-" for part in PARTS]
        sig = [f"{row[key]:.3g}" if key in row else "-" for key in ("sig_sal", "sig_mixed")]
        print(f"| {name} | " + " | ".join(cells + sig) + f" | {100 * row['task_share']:.1f} % |")
    return figures


if __name__ == "__main__":
    main()
