"""Adapting the labeler to an archive bigger than memory: ``self_training`` in ``label_archive``.

``RecipientLabeler(kit).fit(X)`` adds the recipient's most confident images, the same number
per class, to each member's classifier (:func:`~skdcsae._self_training.balanced_selection`).
An archive read partition by partition gets the same choice from one extra pass: each
partition keeps, per guessed class, its :data:`~._members.MAX_PSEUDO_PER_CLASS` most confident
rows and counts its confident ones; the shortlists are folded together as they arrive, so
memory holds at most two shortlists per class, and the rows finally chosen are exactly those
``balanced_selection`` chooses over the whole archive (ties go to the earlier image). The
chosen rows are saved in the run's parts folder (``adapt.npz``), so that a resumed run trains
the same classifiers without the pass.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_writer, open_regular_file
from .._sanitize import terminal_text
from ._members import MAX_PSEUDO_PER_CLASS, member_guesser, refit_with

__all__ = ["ADAPT_FILE", "Shortlist", "adapt_to_archive", "survey_piece"]

#: The chosen rows of an adapted run, in its parts folder.
ADAPT_FILE = "adapt.npz"


@dataclass
class Shortlist:
    """One member's candidates: per guessed class, the most confident rows seen so far.

    ``order`` is each row's position in the archive (ties in confidence go to the earlier
    one); ``counts`` the confident rows seen per class, shortlisted or not.
    """

    features: list
    confidence: list
    order: list
    counts: np.ndarray

    @classmethod
    def of(cls, proba, features, start, threshold) -> Shortlist:
        guessed, confidence = proba.argmax(axis=1), proba.max(axis=1)
        order = start + np.arange(len(proba))
        confident = confidence >= threshold
        parts = [np.flatnonzero(confident & (guessed == c)) for c in range(proba.shape[1])]
        short = cls([], [], [], np.array([len(rows) for rows in parts]))
        for rows in parts:
            short._append(features[rows], confidence[rows], order[rows])
        return short._trimmed(MAX_PSEUDO_PER_CLASS)

    def _append(self, features, confidence, order) -> None:
        self.features.append(features)
        self.confidence.append(confidence)
        self.order.append(order)

    def _trimmed(self, k) -> Shortlist:
        """The ``k`` most confident rows of each class (earlier rows first among equals)."""
        out = Shortlist([], [], [], self.counts)
        for f, c, o in zip(self.features, self.confidence, self.order, strict=True):
            top = np.lexsort((o, -c))[:k]
            out._append(f[top], c[top], o[top])
        return out

    def fold(self, other: Shortlist | None) -> Shortlist:
        """This shortlist and ``other``'s together, trimmed to the cap again."""
        if other is None:
            return self
        joined = Shortlist([], [], [], self.counts + other.counts)
        for i in range(len(self.features)):
            joined._append(
                np.concatenate([self.features[i], other.features[i]]),
                np.concatenate([self.confidence[i], other.confidence[i]]),
                np.concatenate([self.order[i], other.order[i]]),
            )
        return joined._trimmed(MAX_PSEUDO_PER_CLASS)

    def chosen(self) -> tuple[np.ndarray, np.ndarray]:
        """``(features, class indices)``: as many rows per class as the scarcest class has
        confident ones (at most the cap), the most confident, in archive order."""
        k = int(min(self.counts.min(), MAX_PSEUDO_PER_CLASS))
        short = self._trimmed(k)
        order = np.concatenate(short.order)
        index = np.repeat(np.arange(len(short.order)), [len(o) for o in short.order])
        rows = np.argsort(order, kind="stable")
        return np.concatenate(short.features)[rows], index[rows]


def survey_piece(labeler, guessers, piece, start, threshold) -> list:
    """Each member's :class:`Shortlist` of one partition (None for a member without a guesser,
    or a partition without readable images). Unreadable files are left to the labelling."""
    images = piece.read().images
    if len(images) == 0:
        return [None] * len(guessers)
    features = labeler._member_features(labeler._check_X(images))
    return [
        None if g is None else Shortlist.of(g.predict_proba(f), f, start, threshold)
        for g, f in zip(guessers, features, strict=True)
    ]


def _save(path: Path, chosen) -> None:
    arrays = {}
    for m, (features, index) in enumerate(chosen):
        arrays[f"features_{m}"], arrays[f"classes_{m}"] = features, index.astype(np.int64)
    with atomic_writer(path, overwrite=False) as f:
        np.savez(f, **arrays)


def _read_member(archive, name, dtype, limit) -> np.ndarray:
    """One array of the ``.npz``, its header checked (type, size) before anything is allocated."""
    info = archive.getinfo(f"{name}.npy")
    if info.file_size > limit:
        raise ValueError
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
            version, np.lib.format.read_array_header_2_0
        )
        shape, fortran, found = read_header(f)
        if found != dtype or fortran or int(np.prod(shape)) * dtype.itemsize > info.file_size:
            raise ValueError
    with archive.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _load(path: Path, labeler) -> list:
    """The chosen rows saved by an earlier run, checked against the kit before use."""
    members = labeler.kit_.members
    n_classes = len(labeler.classes_)
    cap = MAX_PSEUDO_PER_CLASS * n_classes
    limit = 4096 + sum(cap * (m.features.shape[1] * m.features.itemsize + 8) + 512 for m in members)
    problem = f"{terminal_text(path)} is not this run's adaptation file; pass resume=False"
    chosen = []
    try:
        with open_regular_file(path, max_bytes=limit, follow_symlinks=False) as f:
            raw = f.read()  # bounded above: no allocation beyond what the rows can take
        with zipfile.ZipFile(io.BytesIO(raw)) as data:
            for m, member in enumerate(members):
                features = _read_member(data, f"features_{m}", member.features.dtype, limit)
                index = _read_member(data, f"classes_{m}", np.dtype(np.int64), limit)
                d = member.features.shape[1]
                ok = (
                    features.dtype == member.features.dtype
                    and features.shape == (len(index), d)
                    and index.dtype == np.int64
                    and len(index) <= cap
                    and (index.size == 0 or (index.min() >= 0 and index.max() < n_classes))
                    and np.isfinite(features).all()
                )
                if not ok:
                    raise ValueError
                chosen.append((features, index))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        raise ValueError(f"{problem}.") from None
    return chosen


def adapt_to_archive(labeler, pieces, parts_dir, survey) -> np.ndarray:
    """Adapt ``labeler``'s classifiers to the archive of ``pieces`` (``(start, stop, piece)``).

    ``survey(guessers, pieces, fold)`` runs :func:`survey_piece` on every piece (here or on
    a cluster) and calls ``fold`` with each result. Returns the images added per member.
    """
    kit, path = labeler.kit_, Path(parts_dir) / ADAPT_FILE
    if path.is_file():
        chosen = _load(path, labeler)
    else:
        guessers = [
            member_guesser(c, m, kit.classes, random_state=labeler.random_state)
            for c, m in zip(labeler.classifiers_, kit.members, strict=True)
        ]
        folded = [None] * len(guessers)

        def fold(result):
            for m, short in enumerate(result):
                folded[m] = short if folded[m] is None else folded[m].fold(short)

        survey(guessers, pieces, fold)
        chosen = []
        for member, guesser, short in zip(kit.members, guessers, folded, strict=True):
            features, index = short.chosen() if short is not None else (None, [])
            if not len(index):
                features, index = member.features[:0], np.empty(0, np.int64)
            else:  # the guesser's class index as the labeler's (a member may lack a class)
                index = np.searchsorted(labeler.classes_, guesser.classes_[index])
            chosen.append((features.astype(member.features.dtype), index.astype(np.int64)))
        _save(path, chosen)
    added = np.zeros(len(kit.members), dtype=int)
    for m, (features, index) in enumerate(chosen):
        added[m] = refit_with(
            labeler.classifiers_[m], kit.members[m], kit.classes, features, labeler.classes_[index]
        )
    labeler.classifier_ = labeler.classifiers_[0]
    labeler.n_pseudo_labelled_ = added
    return added
