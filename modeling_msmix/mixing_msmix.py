"""MS-Mix (SPEC section 4): SIG intensity predictors, SASS partner selection, adaptive ratios, SAL.

``MSMix`` mixes the unimodal states of a batch: SASS picks partner pairs of similar samples,
SIG predicts a sentiment intensity per sample and modality, the per-modality ratio averages a
Beta draw with the intensity-derived ratio, and SAL aligns the intensity distributions with the
label distribution. The reference's defects are fixed: SIG attends within each sample over its
tokens, |I| is normalised in every path, no sample is paired with itself, R comes from the label
range, and one pairing is shared by all modalities. ``reference_mode`` reproduces the
reference 2-D arithmetic: R = 3, candidates in the reference's order (row-major for the
threshold candidates, best-first for the fallback), one ``randperm`` over them, then the Beta draw.

Beyond SPEC: given step masks of 3-D states, SIG attends over and averages only real steps and
SASS zeroes padded steps before flattening; given which samples have which modality, a missing
modality's intensity is not used (see ``MSMix.forward``). The defaults are SPEC's arithmetic; five
options depart from it, each off by default: ``sal_target="per_sample"`` (:func:`intensity_target_loss`),
``ratio_weights="intensity_scale"`` (w_m = |I_m| / 3 instead of the batch min-max) and
``threshold_quantile`` (SASS keeps the top q of each batch's pairs) keep SIG's parts from going inert;
``sig_stop_gradient`` (SIG reads detached states) and ``ratio_stop_gradient`` (the ratios use detached
intensities) keep SAL and the ratio path from training the encoders. ``mixing_statistics`` reports
what the health check reads.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .mixing_base import (
    MixingModule,
    MixResult,
    RandomDraws,
    States,
    broadcast_rows,
    label_distance_statistics,
    mix_pairs,
)
from .mixing_baselines import random_pairs

SIG_MAX_DIM = 2000
SIG_REDUCED_DIM = 1024
SIG_INTENSITY_SCALE = 3.0
PROBABILITY_FLOOR = 1e-8
EQUAL_SIMILARITY_TOLERANCE = 1e-6
MASKED_LOGIT = -1e4
NEUTRAL_RATIO = 0.5
SIG_BOUND_LEVEL = 2.9
"""|I| at or above this (of the bound 3) counts as at the tanh bound in the logged statistics and diagnostics."""
SAL_TARGETS: tuple[str, ...] = ("batch_softmax", "per_sample")
RATIO_WEIGHTS: tuple[str, ...] = ("batch_minmax", "intensity_scale")
SAL_TARGET_WEIGHTS: dict[str, float] = {"batch_softmax": 500.0, "per_sample": 1.0}
"""SAL's weight when ``sal_weight`` is unset: the reference's 1000 * 0.5 for its KL; 1 for the per-sample
L1 loss, which is in label units like the task loss."""
StepMasks = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None] | None


class IntensityPredictor(nn.Module):
    """SIG for one modality: I = 3 tanh(Linear(mean_T LayerNorm(MHSA(x) + x))) -> [B].

    Inputs [B, d] are treated as one token; [B, T, d] attend within each sample over T.
    Features wider than 2000 are first projected to 1024; the width is zero-padded to a
    multiple of the head count.
    """

    def __init__(self, dim: int, num_heads: int = 4):
        super().__init__()
        self.reduce = nn.Linear(dim, SIG_REDUCED_DIM) if dim > SIG_MAX_DIM else None
        width = SIG_REDUCED_DIM if dim > SIG_MAX_DIM else dim
        self.padding = (-width) % num_heads
        width += self.padding
        self.attention = nn.MultiheadAttention(width, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 1)

    def forward(self, state: torch.Tensor, step_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Intensities [B]; ``step_mask`` [B, T] (True on real steps) keeps padded steps of a 3-D state
        out of the attention keys and the mean."""
        tokens = state.unsqueeze(1) if state.dim() == 2 else state
        if self.reduce is not None:
            tokens = self.reduce(tokens)
        if self.padding:
            tokens = F.pad(tokens, (0, self.padding))
        if step_mask is None or state.dim() == 2:
            attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
            pooled = self.norm(attended + tokens).mean(dim=1)
        else:
            attended, _ = self.attention(tokens, tokens, tokens, key_padding_mask=~step_mask, need_weights=False)
            weights = step_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (self.norm(attended + tokens) * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return SIG_INTENSITY_SCALE * torch.tanh(self.head(pooled)).squeeze(-1)


def modality_similarity(states: States, step_masks: StepMasks = None, present: torch.Tensor | None = None
                        ) -> torch.Tensor:
    """S = (1/3) sum_m N(z_m) N(z_m)^T with N the L2 normalisation of each flattened sample.

    ``step_masks`` (per modality [B, T] or ``None``) zero the padded steps of 3-D states before
    flattening. With ``present`` [B, 3], S[i, j] averages only the modalities both samples have,
    and a pair sharing none gets -1, the lowest cosine.
    """
    total, shared = None, None
    for index, state in enumerate(states):
        mask = None if step_masks is None else step_masks[index]
        if mask is not None and state.dim() == 3:
            state = state * mask.unsqueeze(-1).to(state.dtype)
        unit = F.normalize(state.reshape(state.shape[0], -1).float(), dim=1)
        term = unit @ unit.T
        if present is not None:
            both = (present[:, index, None] & present[None, :, index]).float()
            term = term * both
            shared = both if shared is None else shared + both
        total = term if total is None else total + term
    if present is None:
        return total / len(states)
    return torch.where(shared > 0, total / shared.clamp_min(1.0), torch.full_like(total, -1.0))


def normalise_similarity(similarity: torch.Tensor) -> torch.Tensor:
    """Min-max over the off-diagonal entries (all equal -> 0.5), diagonal set to 0."""
    size = similarity.shape[0]
    off_diagonal = ~torch.eye(size, dtype=torch.bool, device=similarity.device)
    low = similarity.masked_fill(~off_diagonal, float("inf")).min()
    high = similarity.masked_fill(~off_diagonal, float("-inf")).max()
    spread = high - low
    scaled = (similarity - low) / spread.clamp_min(EQUAL_SIMILARITY_TOLERANCE)
    scaled = torch.where(spread > EQUAL_SIMILARITY_TOLERANCE, scaled, torch.full_like(similarity, 0.5))
    return scaled.masked_fill(~off_diagonal, 0.0)


def minmax_batch(values: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
    """(v - min) / (max - min) over the batch (over the ``present`` rows only); all zeros when all equal."""
    if present is None:
        low, high = values.min(), values.max()
    else:
        any_present = present.any()
        low = torch.where(any_present, values.masked_fill(~present, float("inf")).min(), values.new_zeros(()))
        high = torch.where(any_present, values.masked_fill(~present, float("-inf")).max(), values.new_zeros(()))
    spread = high - low
    return torch.where(spread > 0, (values - low) / spread.clamp_min(1e-30), torch.zeros_like(values))


def adaptive_ratio(weights: torch.Tensor, index1: torch.Tensor, index2: torch.Tensor) -> torch.Tensor:
    """lam_adapt = (w[i1] + 1e-8) / (w[i1] + w[i2] + 2e-8)."""
    first, second = weights[index1], weights[index2]
    return (first + 1e-8) / (first + second + 2e-8)


def batch_distribution(values: torch.Tensor, label_scale: float) -> torch.Tensor:
    """P(u) = softmax over the batch of |u| / R, plus 1e-8."""
    return torch.softmax(values.abs() / label_scale, dim=0) + PROBABILITY_FLOOR


def sentiment_alignment_loss(intensities: torch.Tensor, labels: torch.Tensor, label_scale: float,
                             present: torch.Tensor | None = None) -> torch.Tensor:
    """SAL = sum_m KL(P(y) || P(I_m)) / B for intensities [B, 3] and labels [B].

    With ``present`` [B, 3], modality m's term compares the two distributions over the samples
    that have m only (softmax and mean over them); a modality no sample has adds 0.
    """
    labels = labels.reshape(-1)
    if present is None:
        target = batch_distribution(labels, label_scale)
        total = intensities.new_zeros(())
        for column in intensities.unbind(dim=1):
            total = total + F.kl_div(batch_distribution(column, label_scale).log(), target, reduction="batchmean")
        return total
    total = intensities.new_zeros(())
    for column, rows in zip(intensities.unbind(dim=1), present.unbind(dim=1)):
        target = masked_batch_distribution(labels, rows, label_scale)
        predicted = masked_batch_distribution(column, rows, label_scale)
        pointwise = F.kl_div(predicted.log(), target, reduction="none") * rows.to(target.dtype)
        total = total + pointwise.sum() / rows.sum().clamp_min(1).to(target.dtype)
    return total


def intensity_target_loss(intensities: torch.Tensor, targets: torch.Tensor, label_scale: float,
                          present: torch.Tensor | None = None) -> torch.Tensor:
    """SAL with a per-sample target: sum_m mean_i | (R / 3) |I_m,i| - |t_m,i| | for intensities [B, 3].

    ``targets`` [B, 3] are the per-modality sentiment scores the intensities should match in size
    (the unimodal labels where the dataset has them, else the label for every modality), so each
    term is an L1 loss in label units. With ``present`` [B, 3] a modality's mean runs over the
    samples that have it (a modality no sample has adds 0).
    """
    errors = (intensities.abs() * (label_scale / SIG_INTENSITY_SCALE) - targets.abs()).abs()
    if present is None:
        return errors.mean(dim=0).sum()
    weights = present.to(errors.dtype)
    return ((errors * weights).sum(dim=0) / weights.sum(dim=0).clamp_min(1.0)).sum()


def masked_batch_distribution(values: torch.Tensor, rows: torch.Tensor, label_scale: float) -> torch.Tensor:
    """``batch_distribution`` over the ``rows`` [B] that are True (the others get 1e-8 and no mass)."""
    logits = (values.abs() / label_scale).masked_fill(~rows, MASKED_LOGIT)
    return torch.softmax(logits, dim=0) + PROBABILITY_FLOOR


def same_polarity(labels: torch.Tensor) -> torch.Tensor:
    """[B, B] mask of pairs whose labels share a sign (``y >= 0`` counts as positive)."""
    positive = labels.reshape(-1) >= 0
    return positive[:, None] == positive[None, :]


class PartnerSelector:
    """SASS: candidate pairs above the threshold, else the best upper-triangle pairs; draw M.

    The threshold is delta, or with ``threshold_quantile`` q the batch's own (1 - q) quantile of
    the off-diagonal similarities, so that the candidates are the top q of the batch's pairs
    whatever the spread of its similarities. The default path draws without replacement by
    ranking candidates with random keys (no host sync when the pool is known to hold M pairs);
    ``reference_mode`` lists the candidates in the reference's order and takes the first M of one
    ``randperm`` over them.
    """

    def __init__(self, threshold: float, polarity_aware: bool = False, reference_mode: bool = False,
                 threshold_quantile: float | None = None):
        self.threshold = threshold
        self.polarity_aware = polarity_aware
        self.reference_mode = reference_mode
        self.threshold_quantile = threshold_quantile

    def batch_threshold(self, similarity: torch.Tensor) -> torch.Tensor | float:
        """delta, or the (1 - q) quantile of the off-diagonal entries of ``similarity`` [B, B]."""
        if self.threshold_quantile is None:
            return self.threshold
        size = similarity.shape[0]
        off_diagonal = similarity[~torch.eye(size, dtype=torch.bool, device=similarity.device)]
        return torch.quantile(off_diagonal.float(), 1.0 - self.threshold_quantile).to(similarity.dtype)

    def pools(self, similarity: torch.Tensor, labels: torch.Tensor, count: int,
              threshold: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(candidate mask, fallback mask) over ordered pairs, both [B, B] bool; ``threshold``
        defaults to :meth:`batch_threshold`."""
        if threshold is None:
            threshold = self.batch_threshold(similarity)
        size = similarity.shape[0]
        allowed = ~torch.eye(size, dtype=torch.bool, device=similarity.device)
        if self.polarity_aware:
            allowed = allowed & same_polarity(labels)
        candidates = (similarity > threshold) & allowed
        upper = torch.triu(torch.ones_like(allowed), diagonal=1) & allowed
        ranked = similarity.masked_fill(~upper, float("-inf")).reshape(-1)
        best = torch.topk(ranked, k=min(2 * count, size * (size - 1) // 2)).indices
        fallback = torch.zeros(size * size, dtype=torch.bool, device=similarity.device)
        fallback[best] = True
        fallback = fallback.reshape(size, size) & upper
        return candidates, fallback

    def select(self, similarity: torch.Tensor, labels: torch.Tensor, count: int, draws: RandomDraws,
               threshold: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pair indices (index1, index2), each [M'] with M' <= count (M' < count only when too few pairs)."""
        if self.reference_mode:
            return self._select_reference(similarity, labels, count, draws)
        size = similarity.shape[0]
        candidates, fallback = self.pools(similarity, labels, count, threshold)
        enough = candidates.sum() >= count
        pool = torch.where(enough, candidates, fallback).reshape(-1)
        pool_floor = min(count, size * (size - 1) // 2)
        keys = draws.rand(size * size).masked_fill(~pool, -1.0)
        picked = torch.topk(keys, k=min(count, size * (size - 1))).indices
        if self.polarity_aware or pool_floor < count:
            picked = picked[pool[picked]]
        return picked // size, picked % size

    def _select_reference(self, similarity: torch.Tensor, labels: torch.Tensor, count: int,
                          draws: RandomDraws) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates row-major (fallback best-first), then the first M of one randperm over them."""
        size = similarity.shape[0]
        candidates, fallback = self.pools(similarity, labels, count)
        if int(candidates.sum()) >= count:
            listed = candidates.reshape(-1).nonzero().squeeze(1)
        else:
            upper_scores = similarity.masked_fill(~fallback, float("-inf")).reshape(-1)
            order = torch.argsort(upper_scores, descending=True, stable=True)
            listed = order[: int(fallback.sum())]
        picked = listed[draws.randperm(listed.shape[0])[:count]]
        return picked // size, picked % size


def mixing_statistics(similarity: torch.Tensor | None, threshold: torch.Tensor | float, lambdas: tuple[torch.Tensor, ...],
                      intensities: torch.Tensor, present: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Detached logging summaries of one mixed batch.

    Per modality m: ``ratio_<m>`` (mean lam_m), ``intensity_<m>`` (mean I_m), ``bound_share_<m>``
    (share of the samples with |I_m| >= 2.9, at the tanh bound) and ``intensity_spread_<m>``
    (max - min of |I_m|, the denominator of the ratio's min-max); the last two over the samples
    that have m (``present`` [B, 3]). ``sass_above_threshold`` is the fraction of ordered pairs
    (i != j) whose normalised similarity exceeds the batch's SASS threshold; it is left out
    without SASS (``similarity`` None, ablation "no_sass"). Everything stays on the device.
    """
    statistics = {}
    if similarity is not None:
        size = similarity.shape[0]
        off_diagonal = ~torch.eye(size, dtype=torch.bool, device=similarity.device)
        above = ((similarity > threshold) & off_diagonal).sum() / max(size * (size - 1), 1)
        statistics["sass_above_threshold"] = above.detach().float()
    sizes = intensities.detach().float().abs()
    rows = torch.ones_like(sizes, dtype=torch.bool) if present is None else present.bool()
    counts = rows.sum(dim=0).clamp_min(1)
    bound_share = ((sizes >= SIG_BOUND_LEVEL) & rows).sum(dim=0) / counts
    high = sizes.masked_fill(~rows, float("-inf")).max(dim=0).values
    low = sizes.masked_fill(~rows, float("inf")).min(dim=0).values
    spread = torch.where(rows.any(dim=0), high - low, torch.zeros_like(high))
    for index, (name, ratio) in enumerate(zip(("text", "audio", "vision"), lambdas)):
        statistics[f"ratio_{name}"] = ratio.detach().float().mean()
        statistics[f"intensity_{name}"] = intensities[:, index].detach().float().mean()
        statistics[f"bound_share_{name}"] = bound_share[index]
        statistics[f"intensity_spread_{name}"] = spread[index]
    return statistics


def check_msmix_options(sal_target: str, threshold_quantile: float | None, ratio_weights: str = "batch_minmax") -> None:
    """Raise ``ValueError`` naming the setting when ``sal_target``, ``sass_threshold_quantile`` or
    ``sig_ratio_weights`` is invalid."""
    if sal_target not in SAL_TARGETS:
        raise ValueError(f"sal_target must be one of {SAL_TARGETS}, got {sal_target!r}")
    if ratio_weights not in RATIO_WEIGHTS:
        raise ValueError(f"sig_ratio_weights must be one of {RATIO_WEIGHTS}, got {ratio_weights!r}")
    if threshold_quantile is not None and (isinstance(threshold_quantile, bool)
                                           or not 0.0 < float(threshold_quantile) <= 1.0):
        raise ValueError(f"sass_threshold_quantile must be None or lie in (0, 1], got {threshold_quantile!r}")


class MSMix(MixingModule):
    """MS-Mix between encode and fuse (SPEC section 4).

    Args:
        state_dims: the last dimension of (z_t, z_a, z_v), one SIG predictor each.
        alpha: Beta(alpha, alpha) for the base ratio, one draw per pair shared by modalities.
        threshold: SASS threshold delta on the normalised similarity.
        num_mix: mixed samples per batch (``None`` = B).
        label_scale: R, the divisor of |u| in SAL's distributions.
        polarity_aware: partners must share the label sign.
        reference_mode: candidate order and draw order of the reference.
        num_heads: SIG attention heads.
        use_sass: pick partners with SASS; ``False`` (ablation "no_sass") draws them as vanilla
            Mixup does: index1 cycles over the batch, index2 is a uniform random other sample.
        use_sig: let SIG's intensities set the ratios; ``False`` (ablation "no_sig") mixes every
            modality and the label with the Beta draw alone (lam_m = lam_y = lam_base). SIG still
            predicts intensities for SAL, so "no_sig" removes the intensity-guided ratio only.
        sal_target: what SAL aligns the intensities with: ``batch_softmax`` (SPEC section 4,
            KL(P(y) || P(I_m)) of batch softmaxes) or ``per_sample`` (|I_m| of each sample against
            its own |y_m| in label units, see :func:`intensity_target_loss`).
        threshold_quantile: ``None`` (SASS keeps pairs above delta) or q in (0, 1] (SASS keeps the
            top q of the batch's pairs by similarity).
        ratio_weights: the weights w_m of lam_adapt: ``batch_minmax`` (SPEC section 4, min-max of
            |I_m| over the batch) or ``intensity_scale`` (w_m = |I_m| / 3, so equal intensities mix
            at 1/2 whatever the batch, and the ratio's gradient does not grow as 1 / spread).
        sig_stop_gradient: SIG reads the states with stopped gradients, so SAL and the ratio path
            train the intensity predictors only, never the encoders (SPEC: nothing is detached).
        ratio_stop_gradient: the mixing ratios lam_m use detached intensities, so the mixed loss
            trains no intensity predictor and SIG learns from SAL alone (SPEC: gradients reach
            the predictors through lam).
    """

    def __init__(self, state_dims: tuple[int, int, int], alpha: float = 2.0, threshold: float = 0.4,
                 num_mix: int | None = None, label_scale: float = 3.0, polarity_aware: bool = False,
                 reference_mode: bool = False, num_heads: int = 4, use_sass: bool = True, use_sig: bool = True,
                 sal_target: str = "batch_softmax", threshold_quantile: float | None = None,
                 ratio_weights: str = "batch_minmax", sig_stop_gradient: bool = False,
                 ratio_stop_gradient: bool = False):
        super().__init__(num_mix)
        check_msmix_options(sal_target, threshold_quantile, ratio_weights)
        if reference_mode and not (use_sass and use_sig):
            raise ValueError("reference_mode reproduces the full method: it needs use_sass and use_sig")
        if reference_mode and (sal_target != "batch_softmax" or threshold_quantile is not None
                               or ratio_weights != "batch_minmax" or sig_stop_gradient or ratio_stop_gradient):
            raise ValueError("reference_mode reproduces the reference arithmetic: it needs sal_target='batch_softmax', "
                             "sass_threshold_quantile=None, sig_ratio_weights='batch_minmax', "
                             "sig_stop_gradient=False and ratio_stop_gradient=False")
        if polarity_aware and not use_sass:
            raise ValueError("polarity_aware is a SASS option: it needs use_sass")
        self.use_sass = bool(use_sass)
        self.use_sig = bool(use_sig)
        self.alpha = float(alpha)
        self.label_scale = float(label_scale)
        self.sal_target = sal_target
        self.ratio_weights = ratio_weights
        self.sig_stop_gradient = bool(sig_stop_gradient)
        self.ratio_stop_gradient = bool(ratio_stop_gradient)
        self.selector = PartnerSelector(float(threshold), polarity_aware, reference_mode,
                                        None if threshold_quantile is None else float(threshold_quantile))
        self.predictors = nn.ModuleList(IntensityPredictor(dim, num_heads) for dim in state_dims)

    @classmethod
    def from_config(cls, config, state_dims: tuple[int, int, int]) -> "MSMix":
        """MS-Mix with the config's options (SPEC section 4) and ablation switches."""
        return cls(tuple(int(d) for d in state_dims), alpha=config.alpha, threshold=config.threshold,
                   num_mix=config.num_mix, label_scale=config.label_scale, polarity_aware=config.polarity_aware,
                   reference_mode=config.reference_mode, num_heads=config.sig_num_heads,
                   use_sass=config.use_sass, use_sig=config.use_sig, sal_target=config.sal_target,
                   threshold_quantile=config.sass_threshold_quantile, ratio_weights=config.sig_ratio_weights,
                   sig_stop_gradient=config.sig_stop_gradient, ratio_stop_gradient=config.ratio_stop_gradient)

    def intensities(self, states: States, step_masks: StepMasks = None,
                    present: torch.Tensor | None = None) -> torch.Tensor:
        """SIG intensities [B, 3] (t, a, v), each in (-3, 3); 0 where ``present`` [B, 3] is False."""
        masks = step_masks if step_masks is not None else (None, None, None)
        intensities = torch.stack([predictor(state, mask) for predictor, state, mask in
                                   zip(self.predictors, states, masks)], dim=1)
        return intensities if present is None else intensities * present.to(intensities.dtype)

    def alignment_loss(self, intensities: torch.Tensor, labels: torch.Tensor, present: torch.Tensor | None,
                       unimodal_labels: torch.Tensor | None) -> torch.Tensor:
        """SAL of ``sal_target`` (unweighted); ``per_sample`` matches each modality to its unimodal label when given."""
        if self.sal_target == "batch_softmax":
            return sentiment_alignment_loss(intensities, labels, self.label_scale, present)
        targets = labels.reshape(-1, 1).expand(-1, 3) if unimodal_labels is None else unimodal_labels
        return intensity_target_loss(intensities, targets.to(intensities.dtype), self.label_scale, present)

    def ratio_weight(self, intensities: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """w_m [B] of ``ratio_weights`` for one modality's intensities (``rows``: the samples that have it)."""
        if self.ratio_weights == "batch_minmax":
            return minmax_batch(intensities.abs(), rows)
        return intensities.abs() / SIG_INTENSITY_SCALE

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws, step_masks: StepMasks = None,
                present: torch.Tensor | None = None, unimodal_labels: torch.Tensor | None = None) -> MixResult:
        """Mix a batch. ``step_masks``: per modality [B, T] masks of 3-D states (None: no padding);
        ``present`` [B, 3]: which samples have which modality (None: all); ``unimodal_labels``
        [B, 3]: per-modality labels (CH-SIMS), the targets of the ``per_sample`` SAL.

        A missing modality carries no sentiment evidence, so MS-Mix does not use its intensity:
        SIG's I_m is set to 0 for it (and so reported); SASS averages the similarity over the
        modalities both samples have (-1 for a pair sharing none); w_m is min-max normalised over
        the samples that have m, and lam_adapt_m of a pair where either partner lacks m is 0.5
        (lam_m = (lam_base + 0.5) / 2, what equal intensities give); SAL compares P(y) and
        P(I_m) over the samples that have m. With every modality present and no step masks,
        this is SPEC section 4 unchanged.
        """
        labels = labels.reshape(-1, 1)
        sig_inputs = tuple(state.detach() for state in states) if self.sig_stop_gradient else states
        intensities = self.intensities(sig_inputs, step_masks, present)
        ratio_intensities = intensities.detach() if self.ratio_stop_gradient else intensities
        count = self.mix_count(labels.shape[0])
        if self.use_sass:
            similarity = normalise_similarity(modality_similarity(states, step_masks, present))
            threshold = self.selector.batch_threshold(similarity)
            index1, index2 = self.selector.select(similarity, labels, count, draws, threshold)
        else:
            similarity, threshold = None, None
            index1, index2 = random_pairs(labels.shape[0], count, draws)
        base = draws.beta(self.alpha, index1.shape[0]).to(intensities.dtype)
        if self.use_sig:
            lambdas = []
            for modality, column in enumerate(ratio_intensities.unbind(dim=1)):
                rows = None if present is None else present[:, modality]
                ratio = adaptive_ratio(self.ratio_weight(column, rows), index1, index2)
                if rows is not None:
                    ratio = torch.where(rows[index1] & rows[index2], ratio, torch.full_like(ratio, NEUTRAL_RATIO))
                lambdas.append((base + ratio) / 2)
            lambdas = tuple(lambdas)
        else:
            lambdas = (base, base, base)
        label_lambda = sum(lambdas) / 3
        mixed_labels = broadcast_rows(label_lambda, labels) * labels[index1] + (
            1 - broadcast_rows(label_lambda, labels)) * labels[index2]
        return MixResult(
            mixed_states=mix_pairs(states, index1, index2, lambdas),
            mixed_labels=mixed_labels,
            index1=index1,
            index2=index2,
            label_lambda=label_lambda,
            extra_loss=self.alignment_loss(intensities, labels, present, unimodal_labels),
            intensities=intensities,
            statistics={**mixing_statistics(similarity, threshold, lambdas, intensities, present),
                        **label_distance_statistics(labels, index1, index2)},
        )
