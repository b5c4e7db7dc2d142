"""One "Auto" window: the viewer's A key and the server's "Auto (robust)" preset agree."""

import numpy as np
import pytest

from shared.imaging import pack
from shared.metadata import computed_presets
from shared.windowing import robust_window


@pytest.mark.parametrize("offset", [0, -1024])
def test_the_a_key_and_the_auto_preset_are_one_window(offset: int) -> None:
    # Big enough that the robust range is read on a sample, with a bright label in a corner.
    rng = np.random.default_rng(5)
    values = rng.normal(1500, 400, (3000, 2500)).astype(np.int32) + offset
    values[:40, :200] = 4095 + offset
    stored, transform = pack(values, 12)
    preset = next(p for p in computed_presets(transform) if p.name == "Auto (robust)")
    window = robust_window(stored, transform.offset, transform.scale)
    assert window.center == pytest.approx(preset.center)
    assert window.width == pytest.approx(preset.width)
    # Robust: the label does not stretch it to the brightest value.
    assert preset.center + preset.width / 2 < 4095 + offset
