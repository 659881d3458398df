"""The one-line advice for images of another shape than the kit's encoder takes."""

from __future__ import annotations

__all__ = ["_shape_message"]


def _shape_message(found: tuple, expected: tuple) -> str:
    (c, h, w), (ec, eh, ew) = found, expected
    fixes = []
    if c != ec:
        if ec == 1:
            fixes.append(f"convert the {c}-channel images to grayscale")
        else:
            fixes.append(f"give the images {ec} channels (e.g. repeat a grayscale channel)")
    if (h, w) != (eh, ew):
        fixes.append(f"resize them to {eh}x{ew}")
    return (
        f"X has images of shape (C, H, W) = {found} but the kit's encoder expects {expected}: "
        f"{' and '.join(fixes)}."
    )
