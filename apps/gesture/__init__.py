"""The live gesture recognition app: camera, emulator or recording -> denoise -> time-window
binning -> spiking network stepping frame by frame -> smoothed label with confidence -> viewer
or terminal. Run it with ``evstream gesture``; see ``apps/gesture/README.md``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE / "models" / "gesture32.pt"
"""The shipped model: trained on the synthetic gesture generator (11 DVS Gesture classes)."""
DEFAULT_RECORDING = HERE.parents[1] / "recordings" / "gestures.aedat4"
"""The project-made gesture recording the demo plays."""
