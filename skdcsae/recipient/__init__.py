"""The Recipient's side: label its own images with a donor kit.

:class:`RecipientLabeler` loads and verifies a kit, rebuilds its encoder and trains a
classifier on the kit's features; nothing here reaches back into the estimators that made the
kit.
"""

from ._labeler import RecipientLabeler

__all__ = ["RecipientLabeler"]
