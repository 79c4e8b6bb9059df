"""How long making a photo's public copies takes (core.photos.prepare), median of 5.

The worst case for the encoder: a 4000×3000 (12 MP) JPEG of random noise, as a phone's
largest photo, made here with numpy and Pillow.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_photo_prepare.py
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from core.photos import prepare


def main() -> None:
    pixels = (np.random.default_rng(1).random((3000, 4000, 3)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    data = out.getvalue()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        photo = prepare(data)
        times.append(time.perf_counter() - start)
    print(f"{len(data) / 2**20:.1f} MB {photo.width}x{photo.height} JPEG: prepare median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}); web {photo.web_width}x"
          f"{photo.web_height} {len(photo.web) / 1024:.0f} KB, "
          f"thumb {len(photo.thumb) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
