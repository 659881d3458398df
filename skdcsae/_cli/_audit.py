"""``skdcsae audit``: measure what a kit reveals (membership attack) and what it is worth.

Run a near-duplicate membership attack on a donor kit: encode each candidate
image with the kit's encoder and measure the distance to the nearest released
feature row. Reports the ROC AUC of members (images the donor trained on)
against non-members (0.5 = chance), and the kit's accuracy on --eval images. A
low AUC is evidence against this attack, not a proof of privacy.
"""

from __future__ import annotations

import numpy as np

from .._audit import audit_donor_kit
from .._sanitize import terminal_text
from ..kit import load_donor_kit
from ._common import CLIError, info, listing, load_data, match_labels, pick_per_class, read_key
from ._options import add_command, add_device_option, add_key_option, add_quiet_option

_EPILOG = """examples:
  skdcsae audit kit.joblib --members donor_images/ --non-members other_images/
  skdcsae audit kit.joblib --members pneumoniamnist.npz --n-per-class 50 --seed 0 \\
      --non-members pneumoniamnist.npz --eval pneumoniamnist.npz
  (--n-per-class/--seed pick the members exactly as `skdcsae donor` picked its images;
  .npz members are read from the train split, non-members and --eval from the test split)
"""

_HELP = "measure what a kit reveals: membership attack AUC and the kit's accuracy"


def add_parser(sub) -> None:
    p = add_command(sub, "audit", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument("kit", help="donor kit file (.joblib)")
    p.add_argument("--members", required=True, help="images the donor trained on (folder or .npz)")
    p.add_argument(
        "--non-members", required=True, help="images of the same kind the donor did not use"
    )
    p.add_argument("--eval", default=None, help="labelled images to measure accuracy on")
    p.add_argument(
        "--n-per-class",
        type=int,
        default=None,
        help="the donor used N images per class of --members, drawn with --seed "
        "(as `skdcsae donor --n-per-class`)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed the donor drew images with (0)")
    p.add_argument("--members-split", default="train", help="split of a .npz --members (train)")
    p.add_argument(
        "--non-members-split", default="test", help="split of a .npz --non-members (test)"
    )
    p.add_argument("--eval-split", default="test", help="split of a .npz --eval (test)")
    add_device_option(p)
    add_key_option(p, "require a kit signed with this key")
    add_quiet_option(p)


def _in_kit_classes(args, flag: str, data, classes):
    """Images and labels whose labels name a kit class (as ``skdcsae recipient`` compares)."""
    X, y = data.X, data.y
    y_kit, known = match_labels(y, classes, data.label_names)
    if not known.any():
        raise CLIError(
            f"the labels of {flag} ({listing(np.unique(y))}) are not the kit's classes "
            f"({listing(classes)})"
        )
    if not known.all():
        others = np.unique(np.asarray(y).ravel()[~known])
        info(
            args,
            f"{flag}: {int((~known).sum())} images with labels that are not kit classes "
            f"({listing(others)}) are left out.",
        )
    return X[known], y_kit[known]


def run(args) -> None:
    key = read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    if kit.image_shape is None:
        raise CLIError("the audit command reads images; this kit's encoder takes tabular data")
    c, h, w = kit.image_shape

    def load(path, split):
        return load_data(
            path,
            split=split,
            image_size=(h, w),
            color="rgb" if c == 3 else "gray",
            skip_bad=False,
        )

    members = load(args.members, args.members_split)
    X_mem, y_mem = members.X, members.y
    if args.n_per_class is not None:
        if y_mem is None:
            raise CLIError("--n-per-class needs labelled --members (sub-folders or a .npz)")
        keep = pick_per_class(y_mem, args.n_per_class, args.seed)
        X_mem, y_mem = X_mem[keep], y_mem[keep]
    if y_mem is not None:
        y_kit, known = match_labels(y_mem, kit.classes, members.label_names)
        if not known.all():  # the members' labels serve only the per-image reference
            info(args, "--members: not every label is a kit class; no per-image reference.")
        y_mem = y_kit if known.all() else None
    X_non = load(args.non_members, args.non_members_split).X
    X_eval = y_eval = None
    if args.eval is not None:
        evaluation = load(args.eval, args.eval_split)
        if evaluation.y is None:
            raise CLIError(f"--eval {args.eval} has no labels")
        X_eval, y_eval = _in_kit_classes(args, "--eval", evaluation, kit.classes)
    audit = audit_donor_kit(
        kit,
        X_mem,
        X_non,
        X_eval=X_eval,
        y_eval=y_eval,
        y_members=y_mem,
        key=key,
        device=args.device,
    )
    print(f"Kit {terminal_text(args.kit)}:")
    print(audit.summary())
