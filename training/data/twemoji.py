"""Labels for the Twemoji set: each PNG's emoji category, from emoji-datasource's ``emoji.json``.

``twemoji_labels(path)`` gives {file name: category} for every base emoji and each of its
skin-tone variants (a variant keeps its base's category): the ``labels`` mapping that
``load_images(".../twemoji/png64", labels=...)`` takes. The set has 10 categories, from
"Activities" to "Travel & Places". Anything that shows or ships these images (or images made
from them) must credit "Twemoji (CC-BY 4.0)".
"""

from __future__ import annotations

import json
from pathlib import Path

from gan_edge.errors import DataError

__all__ = ["twemoji_labels", "INDEX_NAME"]

INDEX_NAME = "emoji.json"
# emoji-datasource 16's index is 1.7 MB; a bound keeps a wrong file from filling memory.
_MAX_INDEX_BYTES = 64 << 20


def twemoji_labels(path) -> dict[str, str]:
    """{image file name: category} from ``emoji.json``, or from the folder that holds it."""
    index = Path(path).expanduser()
    if index.is_dir():
        index = index / INDEX_NAME
    where = f"{index} (emoji-datasource's index)"
    if not index.is_file():
        raise DataError(
            f"{where} does not exist: expected the {INDEX_NAME} of the emoji-datasource "
            "package, or the folder holding it"
        )
    if index.stat().st_size > _MAX_INDEX_BYTES:
        raise DataError(f"{where}: {index.stat().st_size:,} bytes, expected at most {_MAX_INDEX_BYTES:,}")
    try:
        entries = json.loads(index.read_bytes())
    except (OSError, ValueError) as error:
        raise DataError(f"{where}: not readable JSON ({error}); fetch it again") from error
    if not isinstance(entries, list):
        raise DataError(f"{where}: holds a {type(entries).__name__}, expected a list of emoji")

    labels: dict[str, str] = {}
    for number, entry in enumerate(entries):
        parsed = _images_and_category(entry)
        if parsed is None:
            raise DataError(
                f"{where}: entry {number} is not an emoji with an `image`, a `category` and "
                f"`skin_variations` each with an `image`; got {json.dumps(entry)[:120]}"
            )
        images, category = parsed
        for image in images:
            if labels.setdefault(image, category) != category:
                raise DataError(
                    f"{where}: {image} is named twice, in {labels[image]!r} and {category!r}; "
                    "expected each image once"
                )
    return labels


def _images_and_category(entry) -> tuple[list[str], str] | None:
    """The image names of one emoji and of its skin-tone variants, and its category; None if malformed."""
    if not isinstance(entry, dict) or not isinstance(entry.get("category"), str):
        return None
    variations = entry.get("skin_variations") or {}
    if not isinstance(variations, dict):
        return None
    images = [entry.get("image")]
    images += [v.get("image") if isinstance(v, dict) else None for v in variations.values()]
    if not all(isinstance(image, str) for image in images):
        return None
    return images, entry["category"]
