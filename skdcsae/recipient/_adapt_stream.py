"""Adapting the labeler to an archive bigger than memory: ``self_training`` in ``label_archive``.

``RecipientLabeler(kit).fit(X)`` self-trains each member's classifier on the features of the
recipient's images (:func:`~._members.self_train`), at most
:data:`~._members.MAX_ADAPTATION_POOL` of them (:func:`~._members.adaptation_pool`). An
archive read partition by partition gets the same from one extra pass: each partition's pool
rows are encoded (every row up to the pool's size, so the features are those the in-memory fit
computes), the rounds run on them in memory, and the labelling pass follows. The final choice
of rows is saved in the run's parts folder (``adapt.npz``), so that a resumed run trains the
same classifiers without the pass.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .._files import atomic_writer, open_regular_file
from .._sanitize import terminal_text
from ._members import MAX_PSEUDO_PER_CLASS, adaptation_pool, refit_with, self_train

__all__ = ["ADAPT_FILE", "adapt_to_archive", "pool_offsets", "survey_piece"]

#: The chosen rows of an adapted run, in its parts folder.
ADAPT_FILE = "adapt.npz"


def pool_offsets(n: int, start: int, stop: int):
    """The pool rows of the archive's rows ``start:stop``, as offsets from ``start`` (None:
    all of them)."""
    pool = adaptation_pool(n)
    if isinstance(pool, slice):
        return None
    return pool[(pool >= start) & (pool < stop)] - start


def survey_piece(labeler, piece, start, offsets) -> tuple:
    """``(start, features per member)`` of one partition's pool rows (``offsets`` from
    :func:`pool_offsets`). Unreadable files are left out here and left to the labelling."""
    batch = piece.read()
    images = batch.images
    if offsets is not None:
        if batch.bad:  # only folders have unreadable files: the readable ones' positions
            position = {name: i for i, name in enumerate(piece.files)}
            rows = np.array([position[name] for name in batch.names], dtype=np.intp)
            images = images[np.isin(rows, offsets)]
        else:
            images = images[offsets]
    if len(images) == 0:
        return start, None
    return start, labeler._member_features(labeler._check_X(images))


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
                    features.shape == (len(index), d)
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


def adapt_to_archive(labeler, pieces, n_images, parts_dir, survey) -> np.ndarray:
    """Self-train ``labeler``'s classifiers on the pool of the archive of ``pieces``
    (``(start, stop, piece)``, ``n_images`` rows in all).

    ``survey(pieces, keep)`` runs :func:`survey_piece` on every piece (here or on a cluster)
    and calls ``keep`` with each result. Returns the images in each member's final training.
    """
    kit, path = labeler.kit_, Path(parts_dir) / ADAPT_FILE
    if path.is_file():  # chosen by the run being resumed: train on that choice
        chosen = _load(path, labeler)
        for classifier, member, (features, index) in zip(
            labeler.classifiers_, kit.members, chosen, strict=True
        ):
            refit_with(classifier, member, kit.classes, features, labeler.classes_[index])
    else:  # self_train leaves each classifier trained on its final choice
        found = {}

        def keep(result):
            start, features = result
            if features is not None:
                found[start] = features

        survey(pieces, keep)
        chosen = []
        for m, (member, classifier) in enumerate(
            zip(kit.members, labeler.classifiers_, strict=True)
        ):
            parts = [found[start][m] for start in sorted(found)]
            pool = np.concatenate(parts) if parts else member.features[:0]
            features, labels, _ = self_train(
                classifier,
                member,
                kit.classes,
                pool,
                threshold=labeler.self_training,
                max_iter=labeler.max_iter,
                random_state=labeler.random_state,
            )
            index = np.searchsorted(labeler.classes_, labels).astype(np.int64)
            chosen.append((features.astype(member.features.dtype), index))
        _save(path, chosen)
    labeler.classifier_ = labeler.classifiers_[0]
    labeler.n_pseudo_labelled_ = np.array([len(index) for _, index in chosen])
    return labeler.n_pseudo_labelled_
