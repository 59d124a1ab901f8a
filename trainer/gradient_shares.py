"""Each loss part's gradient norm on the shared parameters and on the augmentation's own parameters.

A model's loss is a sum of parts (``task``, ``mixed``, ``sal``, ``aux``; see ``MSAModelOutput``). Which
part drives an update of the encoders and the fusion is invisible in the summed gradient; this module
measures it. :func:`parameter_groups` splits a model's trainable parameters into ``shared`` (everything
the prediction is computed with: encoders and fusion) and ``sig`` (the mixing module's own parameters,
MS-Mix's intensity predictors); :func:`loss_part_gradient_norms` takes one ``torch.autograd.grad`` per
part over all of them (the graph is kept for the step's own backward) and returns the global L2 norm of
each part's gradient in each group, and :func:`gradient_shares` each part's share of the group's
summed norms. ``MSMixTrainer`` runs this on the training steps that are logged only
(``loss_gradient_norms``), so the cost is one extra backward per loss part every ``logging_steps``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

GRADIENT_NORM_PREFIX = "grad_norm_"
GRADIENT_SHARE_PREFIX = "grad_share_"
SHARED_GROUP = "shared"
MIXING_GROUP = "sig"


def parameter_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """``{"shared": [...], "sig": [...]}``: trainable parameters outside and inside ``model.augmentation``
    (``sig`` is left out when the augmentation has no trainable parameters)."""
    augmentation = getattr(model, "augmentation", None)
    own = [p for p in augmentation.parameters() if p.requires_grad] if isinstance(augmentation, nn.Module) else []
    own_ids = {id(p) for p in own}
    groups = {SHARED_GROUP: [p for p in model.parameters() if p.requires_grad and id(p) not in own_ids]}
    if own:
        groups[MIXING_GROUP] = own
    return groups


def loss_part_gradient_norms(loss_parts: Mapping[str, torch.Tensor],
                             groups: Mapping[str, list[nn.Parameter]]) -> dict[str, torch.Tensor]:
    """``{"<group>_<part>": ||d part / d group||_2}`` for every loss part and parameter group.

    A part that does not reach a group (or has no graph) has norm 0. The graph is retained, so the
    caller's ``backward`` of the summed loss still works afterwards.
    """
    parameters = [p for group in groups.values() for p in group]
    bounds, start = {}, 0
    for name, group in groups.items():
        bounds[name] = (start, start + len(group))
        start += len(group)
    norms = {}
    for part, loss in loss_parts.items():
        if loss.requires_grad:
            gradients = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
        else:
            gradients = (None,) * len(parameters)
        for name, (first, last) in bounds.items():
            squares = [g.detach().float().pow(2).sum() for g in gradients[first:last] if g is not None]
            norms[f"{name}_{part}"] = torch.stack(squares).sum().sqrt() if squares else loss.new_zeros(()).float()
    return norms


def gradient_shares(norms: Mapping[str, float | torch.Tensor]) -> dict[str, float]:
    """Each part's share of its group's summed gradient norms: ``{"<group>_<part>": share}`` (a group whose
    norms are all 0 gets no shares)."""
    totals: dict[str, float] = {}
    for key, value in norms.items():
        group = key.split("_", 1)[0]
        totals[group] = totals.get(group, 0.0) + float(value)
    return {key: float(value) / totals[key.split("_", 1)[0]] for key, value in norms.items()
            if totals[key.split("_", 1)[0]] > 0}
