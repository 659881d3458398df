"""join_donor_kits: several kits' members as one ensemble kit, refusing kits that differ."""

import dataclasses

import numpy as np
import pytest

from skdcsae.kit import DonorKit, SignatureStatus, join_donor_kits, load_donor_kit, write_donor_kit
from skdcsae.kit._examples import example_kit, seal

KEY = b"a shared secret of the two hospitals"


def test_joined_kit_holds_every_member_in_order_and_is_written_sealed(tmp_path):
    kits = [example_kit(0), example_kit(1, n_members=2), seal(example_kit(2), key=KEY)]
    joined = join_donor_kits(kits)
    assert isinstance(joined, DonorKit) and joined.n_members == 4
    members = [m for kit in kits for m in kit.members]
    assert all(a == b for a, b in zip(joined.members, members, strict=True))
    assert not joined.signed and joined.sha256 == ""  # the third kit's signature does not carry
    np.testing.assert_array_equal(joined.classes, kits[0].classes)
    written = write_donor_kit(joined, tmp_path / "ensemble.joblib", key=KEY)
    loaded = load_donor_kit(tmp_path / "ensemble.joblib", key=KEY)
    assert loaded == written and loaded.n_members == 4
    assert loaded.signature is SignatureStatus.VERIFIED


@pytest.mark.parametrize(
    ("part", "other"),
    [
        ("classes", example_kit(1, classes=("a", "b"))),
        ("image_shape", example_kit(1, image_shape=(1, 8, 8))),
        ("release", example_kit(1, release="prototypes")),
        ("n_images_per_class", example_kit(1, n_per_class=12)),
        ("feature_mode", example_kit(1, feature_mode="paper")),
    ],
)
def test_kits_that_differ_in_a_shared_part_are_refused(part, other):
    with pytest.raises(ValueError, match=rf"^kits\[1\] differs from kits\[0\] in {part}:"):
        join_donor_kits([example_kit(0), other])


def test_a_different_input_scaling_or_release_setting_is_refused():
    kit = example_kit(0)
    shifted = dataclasses.replace(kit, input_range=(0.0, 15.0))
    with pytest.raises(ValueError, match="in input_range"):
        join_donor_kits([kit, kit, shifted])
    stricter = dataclasses.replace(kit, release=dataclasses.replace(kit.release, min_count=12))
    with pytest.raises(ValueError, match=r"kits\[1\] differs .* in release"):
        join_donor_kits([kit, stricter])


def test_fewer_than_two_kits_or_a_non_kit_are_refused():
    with pytest.raises(ValueError, match="at least 2 kits; got 1"):
        join_donor_kits([example_kit(0)])
    with pytest.raises(ValueError, match="got 0"):
        join_donor_kits(iter([]))
    with pytest.raises(TypeError, match=r"kits\[1\] is a str, not a DonorKit"):
        join_donor_kits([example_kit(0), "kit.joblib"])
