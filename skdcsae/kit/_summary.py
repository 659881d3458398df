"""Text descriptions of a donor kit: what it reveals first, then every part with its size.

Every string that comes from a kit (class names, versions, the creation time, hyperparameter
values, library names) is printed through :func:`skdcsae._sanitize.terminal_text`, so a kit
cannot move the cursor, change colours or hide text on the terminal of whoever inspects it.
These functions read a :class:`~skdcsae.kit.DonorKit` by its attributes only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._sanitize import terminal_text

# The kit and its members are read by attribute only (no import of _donor_kit, which imports
# this module).
DonorKit = KitMember = Any

__all__ = ["image_preparation_text", "kit_repr", "kit_summary", "what_it_reveals"]

_WIDTH = 18  # label column


def _counts(values) -> str:
    return ", ".join(f"{v:,}" for v in values)


def _noise_clause(kit: DonorKit) -> str:
    rel = kit.release
    if rel.feature_noise is None:
        return ""
    eps = rel.epsilon
    given = "the encoder" + (" and the grouping" if rel.mode == "prototypes" else "")
    return (
        f"; Gaussian noise (multiplier {rel.feature_noise:g}, clip norm {rel.clip_norm:g}) makes "
        f"each table (epsilon={eps:.3g}, delta={rel.delta:.3g})-differentially private per "
        f"donor image, given {given}"
    )


def what_it_reveals(kit: DonorKit) -> str:
    """One line: what the kit's feature tables reveal about the donor's images."""
    rel = kit.release
    rows = sum(m.n_rows for m in kit.members)
    each = "" if kit.n_members == 1 else f" (over {kit.n_members} members)"
    if rel.mode == "per_image":
        if rel.feature_noise is None:
            text = (
                f"one feature row per donor image{each} (the paper's setting): whoever holds "
                "one of the donor's images can find its row and tell that it was used; check "
                "with `skdcsae audit`"
            )
        else:
            text = f"one noisy feature row per donor image{each}"
    elif rel.mode == "prototypes":
        sizes = np.concatenate([m.feature_weights for m in kit.members])
        text = (
            f"prototypes only: {rows} rows{each}, each the mean of {int(sizes.min())} to "
            f"{int(sizes.max())} donor images (k-means per class, groups of at least "
            f"{rel.min_count}); no per-image rows"
        )
    else:
        text = (
            f"synthetic rows only: {rows} rows{each} drawn from Gaussian mixtures fitted to "
            f"groups of at least {rel.min_count} donor images per class; no row belongs to a "
            "donor image"
        )
    return text + _noise_clause(kit)


def _dp_text(privacy: dict) -> str:
    eps = privacy["epsilon"]
    eps_text = "infinite" if eps is None else f"{eps:.3g}"
    return (
        f"trained with {privacy['mechanism']} ({privacy['library']}): (epsilon={eps_text}, "
        f"delta={privacy['delta']:.3g})-differentially private per donor image; noise "
        f"multiplier {privacy['noise_multiplier']:.3g}, per-image gradients clipped to "
        f"{privacy['max_grad_norm']:g}, {privacy['epochs']} epochs"
    )


def _encoder_lines(kit: DonorKit) -> list[str]:
    private = [m.privacy for m in kit.members if m.privacy is not None]
    if not private:
        what = "encoder" if kit.n_members == 1 else "encoders"
        return [
            f"  {what:<{_WIDTH}}trained without differential privacy: the weights are a "
            "function of the donor images"
        ]
    if kit.n_members == 1:
        return [f"  {'encoder':<{_WIDTH}}{_dp_text(private[0])}"]
    lines = [
        f"  {'encoders':<{_WIDTH}}{len(private)} of {kit.n_members} trained with DP-SGD on the "
        "same images: their guarantees compose (the epsilons add up at most)"
    ]
    for k, m in enumerate(kit.members):
        text = "not differentially private" if m.privacy is None else _dp_text(m.privacy)
        lines.append(f"    member {k:<{_WIDTH - 9}}{text}")
    return lines


def _signature_text(kit: DonorKit) -> str:
    status = str(kit.signature)
    if status == "verified":
        return "HMAC-SHA256, verified with the given key"
    if status == "absent":
        return "none (unsigned)"
    return f"HMAC-SHA256 {status}"


def image_preparation_text(prep: dict | None, image_shape, n_images: int) -> str:
    """``"60 images resized from 56x40 to 28x28; 3 colour-converted to grayscale"``."""
    if prep is None:
        return "not recorded"
    parts = []
    n_resized = prep["n_resized"]
    if n_resized == 0:
        parts.append(f"none of the {n_images} images resized")
    else:
        h, w = image_shape[1], image_shape[2]
        listed = prep["resized_from"]
        if len(listed) == 1 and prep["n_resized_unlisted"] == 0:
            sh, sw, _ = listed[0]
            parts.append(f"{n_resized} of {n_images} images resized from {sh}x{sw} to {h}x{w}")
        else:
            sizes = ", ".join(f"{sh}x{sw} ({c})" for sh, sw, c in listed)
            other = prep["n_resized_unlisted"]
            if other:
                sizes += f" and {other} of other sizes"
            parts.append(f"{n_resized} of {n_images} images resized to {h}x{w}, from {sizes}")
    converted = prep["n_color_converted"]
    target = "grayscale" if image_shape[0] == 1 else "RGB"
    parts.append(
        f"{converted} colour-converted to {target}" if converted else "none colour-converted"
    )
    return "; ".join(parts) + " (sizes height x width)"


def _weights_lines(member: KitMember) -> list[str]:
    weights = member.encoder_weights
    n_bytes = sum(a.nbytes for a in weights.values())
    n_values = sum(int(a.size) for a in weights.values())
    head = f"{len(weights)} arrays, {n_values:,} values, {n_bytes:,} bytes"
    lines = [f"    {'weights':<{_WIDTH - 2}}{head}"]
    name_w = max([len(k) for k in weights] + [10])
    shape_w = max([len(str(a.shape)) for a in weights.values()] + [5])
    for name, a in weights.items():
        lines.append(
            f"      {name:<{name_w}}  {a.shape!s:<{shape_w}}  {a.dtype!s:<8} {a.nbytes:>10,} bytes"
        )
    return lines


def _architecture(config: dict) -> str:
    text = f"{config['kind']}, input {tuple(config['input_shape'])}"
    if config["kind"] == "conv":
        text += f", conv {tuple(config['conv_channels'])}"
    text += (
        f", dense {tuple(config['dense_sizes'])}, {config['n_heads']} heads x "
        f"{config['latent_dim']} latent dims"
    )
    if config["kind"] == "conv":
        text += f", norm {config['norm']}"
    return text


def _member_lines(kit: DonorKit, k: int, member: KitMember) -> list[str]:
    what = "means of all heads" if kit.feature_mode == "means" else "paper: true-label-head samples"
    if kit.release.mode != "per_image":
        kind = "prototype" if kit.release.mode == "prototypes" else kit.release.mode
        what = f"{kind} rows in the space of the {what}"
    per_class = np.bincount(member.label_index, minlength=kit.n_classes)
    classes = kit.classes.tolist()
    rows = ", ".join(f"{c}: {n}" for c, n in zip(classes, per_class.tolist(), strict=True))
    f = member.features
    lines = [
        f"  {'member ' + str(k):<{_WIDTH}}{_architecture(member.encoder_config)}",
        *_weights_lines(member),
        f"    {'features':<{_WIDTH - 2}}{f.shape} {f.dtype}, {f.nbytes:,} bytes ({what}); rows "
        f"per class: {rows}",
    ]
    extra = []
    if member.n_groups_per_class is not None:
        extra.append(f"groups per class {_counts(member.n_groups_per_class)}")
    if member.n_clipped is not None:
        extra.append(f"{member.n_clipped} feature vectors were longer than the clip norm")
    if member.sampling_seed is not None:
        extra.append(f"sampling seed {member.sampling_seed}")
    if extra:
        lines.append(f"    {'release':<{_WIDTH - 2}}{'; '.join(extra)}")
    hyper = ", ".join(f"{key}={value!r}" for key, value in sorted(member.hyperparameters.items()))
    lines.append(f"    {'hyperparameters':<{_WIDTH - 2}}{hyper}")
    return lines


def kit_summary(kit: DonorKit) -> str:
    """The text of :meth:`DonorKit.summary`."""
    classes = kit.classes.tolist()
    donor = ", ".join(f"{c}: {n}" for c, n in zip(classes, kit.n_images_per_class, strict=True))
    if kit.image_shape is None:
        shape = f"tabular, {kit.n_features_in} features"
    else:
        shape = f"{tuple(kit.image_shape)} (channels, height, width)"
    lo, hi = kit.input_range
    pre = (
        f"{kit.scaling}: (x - offset) / scale, offset {kit.input_offset.shape} "
        f"{kit.input_offset.dtype}, scale {kit.input_scale.shape} {kit.input_scale.dtype}; "
        f"donor input range [{lo:g}, {hi:g}]"
    )
    settings = ", ".join(f"{k}={v!r}" for k, v in kit.release.as_dict().items())
    members = "1 member" if kit.n_members == 1 else f"{kit.n_members} members (an ensemble)"
    lines = [
        f"skdcsae donor kit (format 3), made by {kit.model}, {members}",
        f"  {'reveals':<{_WIDTH}}{what_it_reveals(kit)}",
        *_encoder_lines(kit),
        f"  {'signature':<{_WIDTH}}{_signature_text(kit)}",
        f"  {'sha256':<{_WIDTH}}{kit.sha256 or '(not computed: the kit was not written)'}",
        f"  {'created':<{_WIDTH}}{kit.created}",
        f"  {'donor images':<{_WIDTH}}{kit.n_donor}; per class: {donor}",
        f"  {'classes':<{_WIDTH}}{classes}",
        f"  {'input':<{_WIDTH}}{shape}",
        f"  {'preprocessing':<{_WIDTH}}{pre}",
    ]
    if kit.image_shape is not None:
        prep = image_preparation_text(kit.image_preparation, kit.image_shape, kit.n_donor)
        lines.append(f"  {'image files':<{_WIDTH}}{prep}")
    lines.append(f"  {'release settings':<{_WIDTH}}{settings}")
    for k, member in enumerate(kit.members):
        lines += _member_lines(kit, k, member)
    versions = ", ".join(f"{k} {v}" for k, v in kit.versions.items())
    lines += [
        f"  {'versions':<{_WIDTH}}{versions}",
        f"  {'not included':<{_WIDTH}}decoder, images, file names",
        f"  {'total':<{_WIDTH}}{kit.nbytes:,} bytes of arrays",
    ]
    return "\n".join(terminal_text(line) for line in lines)


def kit_repr(kit: DonorKit) -> str:
    """The one-line ``repr`` of a kit."""
    members = kit.members
    rows = sum(m.n_rows for m in members)
    config = members[0].encoder_config if members else {}
    encoder = (
        f"{config.get('kind')} {tuple(config.get('input_shape', ()))} -> "
        f"{config.get('n_heads')} heads x {config.get('latent_dim')}"
    )
    sha = (kit.sha256[:12] + "...") if kit.sha256 else ""
    text = (
        f"DonorKit(model={kit.model!r}, classes={kit.classes.tolist()!r}, "
        f"members={len(members)}, release={kit.release.mode!r}, rows={rows}, "
        f"n_donor={kit.n_donor}, encoder={encoder}, signature={str(kit.signature)!r}, "
        f"sha256={sha!r})"
    )
    return terminal_text(text)
