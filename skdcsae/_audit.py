"""Leakage audit of a donor kit: a near-duplicate membership attack and the kit's accuracy.

The attack is what a curious recipient can do with nothing but the kit and a candidate image:
encode the candidate with the kit's encoder and measure the distance from its features to the
nearest feature row the kit releases. Images the donor trained on ("members") have their exact
features in a per-image kit, so their distance is zero; images the donor never had
("non-members") do not. The ROC AUC of that distance as a member/non-member score is the
figure of merit: 1.0 means every member is recognised, 0.5 means the attack does no better
than a coin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score, roc_curve
from sklearn.utils.validation import column_or_1d

from .recipient import RecipientLabeler
from .recipient._calibration import default_classifier

__all__ = ["LeakageAudit", "audit_donor_kit"]


@dataclass(frozen=True, repr=False)
class LeakageAudit:
    """Result of :func:`audit_donor_kit`.

    Parameters
    ----------
    membership_auc : float
        ROC AUC of the attack (members vs non-members); 0.5 is chance.
    advantage : float
        Largest ``TPR - FPR`` over all thresholds of the attack (0 is chance, 1 is perfect).
    tpr_at_low_fpr : float
        Share of members recognised when at most 1% of non-members are wrongly flagged.
    member_distances, non_member_distances : ndarray
        Distance of each candidate's features to the nearest released feature row.
    accuracy, balanced_accuracy : float or None
        The kit's labelling accuracy on the evaluation images, when given.
    per_image_accuracy : float or None
        Accuracy on the same images of a per-image release from the same encoder (an SVC on
        the members' features and labels), when the members' labels are given: the
        reference for what the kit's release mode costs.
    release : dict
        The kit's release description (mode, clipping, noise and its epsilon).
    privacy : dict or None
        How the kit's encoder was trained (DP-SGD figures), if differentially private.
    n_rows : int
        Number of feature rows the kit releases.

    Examples
    --------
    >>> from skdcsae import LeakageAudit
    >>> import numpy as np
    >>> audit = LeakageAudit(membership_auc=0.5, advantage=0.0, tpr_at_low_fpr=0.01,
    ...                      member_distances=np.ones(3), non_member_distances=np.ones(3),
    ...                      accuracy=None, balanced_accuracy=None,
    ...                      release={"mode": "prototypes"}, privacy=None, n_rows=10)
    >>> audit.membership_auc
    0.5
    """

    membership_auc: float
    advantage: float
    tpr_at_low_fpr: float
    member_distances: np.ndarray
    non_member_distances: np.ndarray
    accuracy: float | None
    balanced_accuracy: float | None
    release: dict
    privacy: dict | None
    n_rows: int
    per_image_accuracy: float | None = None

    @property
    def accuracy_cost(self) -> float | None:
        """Accuracy points the release costs against a per-image release of the same encoder.

        Positive when the kit is less accurate than the per-image release (it costs points),
        negative when it is more accurate (it gains them); None without the members' labels
        or evaluation images. :meth:`summary` says it in words: "costs 2.0 points of
        accuracy" or "gains 0.8 points of accuracy".
        """
        if self.accuracy is None or self.per_image_accuracy is None:
            return None
        return 100.0 * (self.per_image_accuracy - self.accuracy)

    def __repr__(self) -> str:
        acc = "None" if self.accuracy is None else f"{self.accuracy:.3f}"
        return (
            f"LeakageAudit(membership_auc={self.membership_auc:.3f}, "
            f"advantage={self.advantage:.3f}, tpr_at_1pct_fpr={self.tpr_at_low_fpr:.3f}, "
            f"accuracy={acc}, release={self.release.get('mode')!r}, "
            f"n_members={len(self.member_distances)}, "
            f"n_non_members={len(self.non_member_distances)})"
        )

    def summary(self) -> str:
        """Plain-words report of the audit.

        Returns
        -------
        text : str
            The attack's success figures, what they mean, and the accuracy when measured.
        """
        auc = self.membership_auc
        if auc >= 0.9:
            verdict = "the kit reveals which images the donor had"
        elif auc > 0.6:
            verdict = "the kit reveals membership for part of the donor's images"
        elif auc > 0.55:
            verdict = "weak membership signal"
        else:
            verdict = "no membership signal beyond chance at this sample size"
        lines = [
            "Membership audit (near-duplicate attack: distance from a candidate's features to "
            "the nearest released feature row)",
            f"  released rows      {self.n_rows} ({self.release.get('mode', 'per_image')})",
            f"  candidates         {len(self.member_distances)} members, "
            f"{len(self.non_member_distances)} non-members",
            f"  membership ROC AUC {auc:.3f}  (0.5 = chance, 1.0 = every member found): {verdict}",
            f"  attack advantage   {self.advantage:.3f}  (max TPR - FPR)",
            f"  members found at 1% false alarms  {self.tpr_at_low_fpr:.3f}",
            "  median distance    members "
            f"{np.median(self.member_distances):.4g}, non-members "
            f"{np.median(self.non_member_distances):.4g}",
        ]
        if self.accuracy is not None:
            lines.append(
                f"  kit accuracy       {self.accuracy:.3f} (balanced {self.balanced_accuracy:.3f}) "
                "on the evaluation images"
            )
        if self.accuracy_cost is not None:
            lines.append(
                f"  vs per-image kit   this release {_cost_words(self.accuracy_cost)} "
                f"({self.per_image_accuracy:.3f} with a per-image kit of the same encoder)"
            )
        if self.release.get("epsilon") is not None:
            lines.append(
                f"  feature noise      (epsilon={self.release['epsilon']:.3g}, "
                f"delta={self.release['delta']:.3g}) per image, given the encoder"
            )
        if self.privacy is not None:
            lines.append(
                f"  encoder            DP-SGD (epsilon={self.privacy['epsilon']:.3g}, "
                f"delta={self.privacy['delta']:.3g})"
            )
        lines.append(
            "  This measures one attack. A low AUC is evidence against this attack, not a proof "
            "of privacy; only the (epsilon, delta) figures are guarantees, and only for what "
            "they cover."
        )
        return "\n".join(lines)


def _cost_words(cost: float) -> str:
    """``"costs 2.0 points of accuracy"``, ``"gains 0.8 points ..."`` or ``"costs no accuracy"``."""
    if round(abs(cost), 1) == 0:
        return "costs no accuracy"
    return f"{'costs' if cost > 0 else 'gains'} {abs(cost):.1f} points of accuracy"


def _nearest_distances(candidates: np.ndarray, released: np.ndarray, chunk: int = 2048):
    """Euclidean distance from each candidate row to its nearest released row."""
    released = released.astype(np.float64)
    sq = (released**2).sum(axis=1)
    out = np.empty(len(candidates))
    for start in range(0, len(candidates), chunk):
        c = candidates[start : start + chunk].astype(np.float64)
        d2 = (c**2).sum(axis=1)[:, None] - 2.0 * c @ released.T + sq[None, :]
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def _attack_distances(labeler, X) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each image to the nearest released row, and every head's means."""
    kit = labeler.kit_
    mus, _ = labeler.encode(X)
    if kit.feature_mode == "paper":
        # released rows are samples of each image's own head; the attacker does not know the
        # label, so it tries every head's mean and keeps the closest
        per_head = [_nearest_distances(mus[:, k], kit.features) for k in range(mus.shape[1])]
        return np.min(per_head, axis=0), mus
    return _nearest_distances(mus.reshape(len(mus), -1), kit.features), mus


def audit_donor_kit(
    kit,
    X_members,
    X_non_members,
    *,
    X_eval=None,
    y_eval=None,
    y_members=None,
    key=None,
    device="cpu",
):
    """Measure what a donor kit reveals: a membership attack, and what the kit is worth.

    A recipient who holds a candidate image encodes it with the kit's encoder and looks for a
    near-duplicate among the released features; the closer the nearest row, the more likely
    the image was one of the donor's. The audit runs that attack on images known to be in
    the donor's training set (``X_members``) and images known not to be
    (``X_non_members``, e.g. held-out images from the same source) and reports the ROC AUC.

    What it does not prove: a low AUC says this attack fails, not that no attack succeeds
    (e.g. attacks on the encoder's weights, or with auxiliary knowledge). Only a differential
    privacy guarantee (DP-SGD for the encoder, feature noise for the table) bounds every
    attack, and only for what it covers. With few candidates the AUC is noisy: use at least a
    few hundred of each where the data allow.

    Parameters
    ----------
    kit : str, path-like or DonorKit
        The kit to audit (verified as :class:`skdcsae.RecipientLabeler` would).
    X_members : array-like of shape (n_members, ...)
        Images the donor trained the kit on, in the donor's units and shape.
    X_non_members : array-like of shape (n_non_members, ...)
        Images of the same kind the donor did not use.
    X_eval, y_eval : array-like, default=None
        Labelled images to measure the kit's accuracy on (what the privacy setting costs).
    y_members : array-like, default=None
        Labels of the members. With ``X_eval``, the audit also scores a per-image release of
        the same encoder (an SVC on the members' features), so that ``accuracy_cost`` says
        what the kit's release mode (prototypes, synthetic rows, noise) costs. It does not
        include what the encoder's own training settings (e.g. DP-SGD) cost.
    key : str or bytes, default=None
        Verify the kit's signature with this key.
    device : str, default="cpu"
        Where to run the encoder.

    Returns
    -------
    audit : LeakageAudit
        AUC, advantage, true-positive rate at 1% false positives, distances, accuracy and,
        with ``y_members``, the accuracy cost of the release.

    Raises
    ------
    ValueError
        If either candidate set is empty, or the images do not match the kit.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer, audit_donor_kit
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(dense_sizes=(16,), max_epochs=3, min_steps=0, device="cpu",
    ...                          random_state=0).fit(X[:100], y[:100])
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> kit = dcsae.export_donor_kit(path, X[:100], y[:100], release="per_image")
    >>> audit = audit_donor_kit(path, X[:100], X[100:200])
    >>> audit.membership_auc  # per-image features: every member is found
    1.0
    """
    if len(X_members) == 0 or len(X_non_members) == 0:
        raise ValueError(
            f"the audit needs members and non-members; got {len(X_members)} member and "
            f"{len(X_non_members)} non-member images."
        )
    labeler = RecipientLabeler(kit=kit, key=key, device=device).fit()
    members, member_mus = _attack_distances(labeler, X_members)
    non_members, _ = _attack_distances(labeler, X_non_members)
    truth = np.r_[np.ones(len(members)), np.zeros(len(non_members))]
    score = -np.r_[members, non_members]  # nearer = more likely a member
    fpr, tpr, _ = roc_curve(truth, score)
    accuracy = balanced = per_image = None
    if X_eval is not None:
        if y_eval is None:
            raise ValueError("X_eval needs its labels y_eval to measure the kit's accuracy.")
        eval_features = labeler.transform(X_eval)
        predicted = labeler.classifier_.predict(eval_features)
        y_eval = np.asarray(y_eval).ravel()
        accuracy = float(accuracy_score(y_eval, predicted))
        balanced = float(balanced_accuracy_score(y_eval, predicted))
        if y_members is not None and labeler.kit_.feature_mode == "means":
            # a "means" kit's per-image rows are every head's means, already computed above
            member_features = member_mus.reshape(len(member_mus), -1)
            per_image = _per_image_accuracy(
                labeler, member_features, y_members, eval_features, y_eval
            )
    kit_ = labeler.kit_
    return LeakageAudit(
        membership_auc=float(roc_auc_score(truth, score)),
        advantage=float(np.max(tpr - fpr)),
        tpr_at_low_fpr=float(tpr[fpr <= 0.01].max()),
        member_distances=members,
        non_member_distances=non_members,
        accuracy=accuracy,
        balanced_accuracy=balanced,
        release={**kit_.release.as_dict(), "epsilon": kit_.release.epsilon},
        privacy=None if kit_.privacy is None else dict(kit_.privacy),
        n_rows=kit_.n_rows,
        per_image_accuracy=per_image,
    )


def _per_image_accuracy(labeler, member_features, y_members, eval_features, y_eval) -> float:
    """Accuracy of the classifier a per-image kit of the same encoder would give."""
    y_members = column_or_1d(y_members)
    if len(y_members) != len(member_features):
        raise ValueError(
            f"y_members has {len(y_members)} labels for {len(member_features)} member images."
        )
    if labeler.classifier is None:  # the default's folds depend on the rows: built for these
        classifier = default_classifier(y_members, random_state=labeler.random_state)
    else:
        classifier = clone(labeler.classifier)
    classifier.fit(member_features, y_members)
    return float(accuracy_score(y_eval, classifier.predict(eval_features)))
