"""A user's own pictures into the uint8 cache (issue 22, the data layer).

Every picture is built here with Pillow, with pixels whose expected output is known;
the real set is a 200-file slice of ../shared/data/twemoji. Decodes are counted through
Pillow's ImageFile.load, which every PNG and JPEG goes through.
"""

from __future__ import annotations

import os
import shutil
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from gan_edge.errors import DataError, InputError
from gan_edge.training.data.images import (
    MAX_PIXELS,
    SUPPORTED_RESOLUTIONS,
    ImageData,
    inspect_images,
    load_images,
    nearest_resolution,
    to_model_range,
)
from gan_edge.training.data.twemoji import twemoji_labels

TWEMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twemoji"
SKIP_HINT = "skip unreadable files (skip_bad=True, --skip-bad)"


@pytest.fixture(autouse=True)
def cache_home(monkeypatch, tmp_path) -> Path:
    """The default cache inside tmp_path, whatever the machine's environment says."""
    monkeypatch.setenv("GAN_EDGE_CACHE", str(tmp_path / "cache-home"))
    return tmp_path / "cache-home" / "images"


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """The file of every PNG or JPEG decoded from here on, in order."""
    seen, load = [], ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile:  # pixels still to decode: not a repeat call
            seen.append(Path(self.filename).name)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return seen


def save(path: Path, pixels, mode: str | None = None, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    if mode == "P":  # an adaptive palette holds the exact colours (the default web palette rounds them)
        picture = picture.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode:
        picture = picture.convert(mode)
    picture.save(path, **options)
    return path


def solid(height: int, width: int, colour) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (height, width, len(colour))).copy()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (RGB); its pixel data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


@pytest.fixture
def mixed(tmp_path) -> Path:
    """Five pictures of every kind, one solid colour each, and three files that are not pictures.

    In the order of their relative paths: a.png grey 20x30, b.jpg RGB 64x64, c.png RGBA
    100x80, d.png palette 64x64, sub/e.png RGB 64x64.
    """
    folder = tmp_path / "mixed"
    save(folder / "a.png", np.full((30, 20), 60))
    save(folder / "b.jpg", solid(64, 64, (200, 30, 30)), quality=95)
    save(folder / "c.png", solid(80, 100, (30, 200, 30, 255)))
    save(folder / "d.png", solid(64, 64, (30, 30, 200)), "P")
    save(folder / "sub" / "e.png", solid(64, 64, (250, 250, 10)))
    (folder / "notes.txt").write_text("not a picture")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "._c.png").write_bytes(b"\0\5\26\7 AppleDouble resource fork")  # macOS's, not a PNG
    (folder / ".thumbnails").mkdir()
    save(folder / ".thumbnails" / "a.png", np.zeros((8, 8)))
    return folder


MIXED_CENTRES = [(60, 60, 60), (200, 30, 30), (30, 200, 30), (30, 30, 200), (250, 250, 10)]


# --- what comes out -------------------------------------------------------------------------


def test_a_folder_becomes_a_read_only_uint8_memmap_in_path_order(mixed, cache_home):
    progress = []
    data = load_images(mixed, resolution=32, channels=3, on_progress=lambda *a: progress.append(a))

    assert isinstance(data, ImageData) and len(data) == 5
    assert isinstance(data.images, np.memmap) and data.images.dtype == np.uint8
    assert data.images.shape == (5, 32, 32, 3)
    assert not data.images.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        data.images[0, 0, 0, 0] = 1
    assert Path(data.images.filename).parent == cache_home
    centres = data.images[:, 16, 16].astype(int)
    np.testing.assert_allclose(centres, MIXED_CENTRES, atol=3)  # the JPEG is within 3 levels
    assert progress == [(i, 5) for i in range(1, 6)]
    # notes.txt, .DS_Store and ._c.png; the hidden folder is not entered
    assert data.ignored == 3 and data.skipped == 0
    assert data.labels is None and data.label_names == ()
    assert data.source.startswith(f"{mixed}: 5 pictures at 32x32x3 on white, 3 other files ignored, cache ")


@pytest.mark.parametrize("background, value", [("white", 255), ("black", 0)])
def test_transparency_becomes_the_background(tmp_path, background, value):
    rgba = solid(40, 40, (255, 0, 0, 0))  # red, fully transparent
    rgba[10:30, 10:30] = (0, 0, 255, 255)  # an opaque blue square
    save(tmp_path / "p" / "rgba.png", rgba)
    palette = Image.fromarray(solid(40, 40, (0, 200, 0))).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(tmp_path / "p" / "palette.png", transparency=palette.getpixel((0, 0)))  # all transparent

    data = load_images(tmp_path / "p", resolution=16, channels=3, background=background)

    assert (data.images[0] == value).all()  # palette.png: nothing but background
    assert (data.images[1, 0] == value).all()  # rgba.png's transparent border
    assert data.images[1, 8, 8].tolist() == [0, 0, 255]  # its opaque centre, untouched


def test_the_square_crop_keeps_the_centre(tmp_path):
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, :16], wide[:, 16:48], wide[:, 48:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    save(tmp_path / "p" / "wide.png", wide)
    save(tmp_path / "p" / "tall.png", wide.transpose(1, 0, 2))

    data = load_images(tmp_path / "p", resolution=32, channels=3)

    assert (data.images == (0, 255, 0)).all()  # only the green middle of each


def test_jpegs_turn_upright_and_large_ones_shrink(tmp_path):
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, :32], wide[:, 32:] = (255, 0, 0), (0, 0, 255)
    orientation = Image.Exif()
    orientation[0x0112] = 6  # shown turned 90 degrees clockwise: the left half on top
    Image.fromarray(wide).save(tmp_path / "a-phone.jpg", exif=orientation, quality=95)
    photo = np.zeros((1200, 1600, 3), np.uint8)
    photo[:, 200:1400] = (0, 255, 0)  # green across the centre square, red beyond it
    photo[:, :200] = photo[:, 1400:] = (255, 0, 0)
    Image.fromarray(photo).save(tmp_path / "b-camera.jpg", quality=95)

    phone, camera = load_images(tmp_path, resolution=16, channels=3).images.astype(int)

    np.testing.assert_allclose(phone[2, 8], (255, 0, 0), atol=8)
    np.testing.assert_allclose(phone[13, 8], (0, 0, 255), atol=8)
    np.testing.assert_allclose(camera.reshape(-1, 3), np.tile((0, 255, 0), (256, 1)), atol=8)


def test_shrinking_averages_areas_and_enlarging_stays_within_the_values(tmp_path):
    checker = np.indices((64, 64)).sum(axis=0) % 2 * 255  # 1-pixel squares of 0 and 255
    save(tmp_path / "shrink" / "checker.png", checker)
    halves = np.full((16, 16), 50)
    halves[:, 8:] = 200
    save(tmp_path / "enlarge" / "halves.png", halves)

    shrunk = load_images(tmp_path / "shrink", resolution=16, channels=1).images
    enlarged = load_images(tmp_path / "enlarge", resolution=32, channels=1).images

    assert set(np.unique(shrunk)) <= {127, 128}  # each 4x4 block: half 0, half 255
    assert enlarged.min() == 50 and enlarged.max() == 200  # no overshoot at the edge
    assert len(np.unique(enlarged)) > 2  # and not nearest-neighbour's blocks


def test_grey_is_itu_601_luma_and_16_bit_grey_is_scaled(tmp_path):
    for name, colour in (("r", (255, 0, 0)), ("g", (0, 255, 0)), ("b", (0, 0, 255))):
        save(tmp_path / "p" / f"{name}.png", solid(16, 16, colour))
    Image.fromarray(np.full((16, 16), 128 * 257, np.uint16)).save(tmp_path / "p" / "w16.png")
    with Image.open(tmp_path / "p" / "w16.png") as w16:
        assert w16.mode == "I;16"

    data = load_images(tmp_path / "p", resolution=16, channels=1)

    # 0.299, 0.587, 0.114 of 255; a 16-bit 128 * 257 is 128 (Pillow's convert would clip it to 255)
    assert data.images[:, 0, 0, 0].tolist() == [29, 150, 76, 128]


def test_the_defaults_come_from_the_headers_without_decoding(mixed, tmp_path, decodes):
    assert inspect_images(mixed) == (5, 64, 3)  # sides 20, 64, 80, 64, 64; in colour
    assert decodes == []

    save(tmp_path / "grey" / "a.png", np.zeros((30, 40)))
    save(tmp_path / "grey" / "b.png", solid(30, 30, (90, 90, 90)), "P")  # a palette of greys
    assert inspect_images(tmp_path / "grey") == (2, 30, 1)
    data = load_images(tmp_path / "grey")
    assert data.images.shape == (2, 32, 32, 1)  # 30 is as near 32 as 28: ties go up
    assert data.fingerprint["resolution"] == 32 and data.fingerprint["channels"] == 1


@pytest.mark.parametrize("side, resolution", [(1, 16), (20, 16), (22, 28), (30, 32), (48, 64), (96, 128), (4000, 128)])
def test_nearest_resolution(side, resolution):
    assert nearest_resolution(side) == resolution


def test_labels_from_subfolders_or_a_mapping(tmp_path):
    for name in ("cats/a.png", "cats/b.png", "dogs/c.png", "dogs/sub/d.png", "dogs/e.jpg"):
        save(tmp_path / "pets" / name, solid(16, 16, (1, 2, 3)))

    data = load_images(tmp_path / "pets", resolution=16)
    assert data.label_names == ("cats", "dogs")
    assert data.labels.tolist() == [0, 0, 1, 1, 1] and data.labels.dtype == np.int64
    assert "2 labels from the subfolders" in data.source

    mapping = {"cats/a.png": "tabby", "b.png": "tabby", "c.png": "pug", "d.png": "pug", "dogs/e.jpg": "corgi"}
    relabelled = load_images(tmp_path / "pets", resolution=16, labels=mapping)
    assert relabelled.label_names == ("corgi", "pug", "tabby")
    assert relabelled.labels.tolist() == [2, 2, 1, 0, 1]  # dogs/e.jpg sorts before dogs/sub/d.png

    del mapping["d.png"]
    with pytest.raises(DataError) as error:
        load_images(tmp_path / "pets", resolution=16, labels=mapping)
    assert str(error.value) == (
        f"the labels mapping has no label for 1 of 5 pictures in {tmp_path / 'pets'}, e.g. "
        "dogs/sub/d.png: expected every picture named by its relative path or file name"
    )


def test_linked_class_folders_are_followed_once(tmp_path):
    save(tmp_path / "pets" / "cats" / "a.png", np.zeros((8, 8)))
    save(tmp_path / "elsewhere" / "dogs" / "b.png", np.zeros((8, 8)))
    (tmp_path / "pets" / "dogs").symlink_to(tmp_path / "elsewhere" / "dogs")
    (tmp_path / "pets" / "cats" / "loop").symlink_to(tmp_path / "pets")

    data = load_images(tmp_path / "pets", resolution=16)

    assert data.label_names == ("cats", "dogs") and data.labels.tolist() == [0, 1]


def test_no_labels_unless_every_picture_is_in_one_of_two_subfolders(tmp_path):
    save(tmp_path / "one" / "only" / "a.png", np.zeros((8, 8)))
    save(tmp_path / "one" / "only" / "b.png", np.zeros((8, 8)))
    save(tmp_path / "loose" / "x" / "a.png", np.zeros((8, 8)))
    save(tmp_path / "loose" / "y" / "b.png", np.zeros((8, 8)))
    save(tmp_path / "loose" / "top.png", np.zeros((8, 8)))

    for folder in ("one", "loose"):
        data = load_images(tmp_path / folder, resolution=16)
        assert data.labels is None and data.label_names == ()


# --- the cache ----------------------------------------------------------------------------


def test_a_second_call_reuses_the_cache_without_decoding(mixed, decodes, cache_home):
    first = load_images(mixed, resolution=32, channels=3)
    assert decodes == ["a.png", "b.jpg", "c.png", "d.png", "e.png"]

    decodes.clear()
    progress = []
    again = load_images(mixed, resolution=32, channels=3, on_progress=lambda *a: progress.append(a))
    assert decodes == [] and progress == []
    assert again.images.filename == first.images.filename
    np.testing.assert_array_equal(again.images, first.images)
    assert again.fingerprint == first.fingerprint

    black = load_images(mixed, resolution=32, channels=3, background="black")
    assert len(decodes) == 5  # another setting, another cache file
    assert black.images.filename != first.images.filename
    assert sorted(p.suffix for p in cache_home.iterdir()) == [".json", ".json", ".npy", ".npy"]


def test_a_damaged_cache_is_rebuilt_not_trusted(mixed, decodes):
    cache = Path(load_images(mixed, resolution=32, channels=3).images.filename)
    expected = np.load(cache)

    with open(cache, "r+b") as f:
        f.truncate(cache.stat().st_size // 2)
    decodes.clear()
    rebuilt = load_images(mixed, resolution=32, channels=3)
    assert len(decodes) == 5
    np.testing.assert_array_equal(rebuilt.images, expected)

    cache.with_suffix(".json").unlink()  # the commit mark, written last
    decodes.clear()
    load_images(mixed, resolution=32, channels=3)
    assert len(decodes) == 5


def test_an_interrupted_decode_leaves_nothing_usable(mixed, cache_home, decodes):
    def interrupt(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_images(mixed, resolution=32, channels=3, on_progress=interrupt)
    assert not cache_home.exists()  # not even the folders it made

    decodes.clear()
    data = load_images(mixed, resolution=32, channels=3)
    assert len(decodes) == 5 and len(data) == 5


def test_the_fingerprint_follows_names_and_sizes(mixed):
    def fingerprint():
        return load_images(mixed, resolution=16, channels=3).fingerprint

    first = fingerprint()
    assert first["files"] == 5 and len(first["names_sizes_sha256"]) == 64
    assert {k: first[k] for k in ("resolution", "channels", "background")} == {
        "resolution": 16, "channels": 3, "background": "white"}
    assert fingerprint() == first

    os.utime(mixed / "a.png", ns=(1, 1))  # touched, not changed: same data
    assert fingerprint() == first

    size = (mixed / "a.png").stat().st_size
    save(mixed / "a.png", np.random.default_rng(0).integers(0, 256, (40, 30)))  # resized
    assert (mixed / "a.png").stat().st_size != size
    resized = fingerprint()
    assert resized["names_sizes_sha256"] != first["names_sizes_sha256"]

    save(mixed / "f.png", np.zeros((16, 16)))
    added = fingerprint()
    assert added["files"] == 6 and added["names_sizes_sha256"] != resized["names_sizes_sha256"]


def test_decoding_streams_instead_of_holding_the_set(tmp_path):
    names = sorted(os.listdir(TWEMOJI / "png64"))[:200]
    for name in names:
        shutil.copy(TWEMOJI / "png64" / name, tmp_path / name)
    tracemalloc.start()
    try:
        data = load_images(tmp_path, resolution=64, channels=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    set_bytes = data.images.nbytes
    assert set_bytes == 200 * 64 * 64 * 3
    assert peak < set_bytes / 4, f"peak {peak:,} bytes of Python and numpy memory for a {set_bytes:,}-byte set"


# --- the real set -------------------------------------------------------------------------


def test_a_slice_of_twemoji_with_its_categories(tmp_path):
    mapping = twemoji_labels(TWEMOJI)
    categories = set(mapping.values())
    assert len(mapping) == 3786 and set(mapping) == set(os.listdir(TWEMOJI / "png64"))
    assert len(categories) == 10 and {"Flags", "Smileys & Emotion", "Component"} <= categories

    names = sorted(os.listdir(TWEMOJI / "png64"))[:200]
    for name in names:
        shutil.copy(TWEMOJI / "png64" / name, tmp_path / name)
    data = load_images(tmp_path, resolution=32, labels=mapping)

    assert data.images.shape == (200, 32, 32, 3)  # colour found in the headers, 64 rounded to itself then shrunk
    assert [data.label_names[i] for i in data.labels] == [mapping[n] for n in names]
    assert len(data.label_names) >= 2 and set(data.label_names) <= categories
    corners = data.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert np.median(corners) == 255  # transparent corners on the white background


@pytest.mark.parametrize("content, message", [
    (None, "does not exist: expected the emoji.json of the emoji-datasource package, or the folder holding it"),
    ("{not json", "not readable JSON"),
    ('{"image": "a.png"}', "holds a dict, expected a list of emoji"),
    ('[{"image": "a.png"}]', "entry 0 is not an emoji with an `image`, a `category` and `skin_variations`"),
    ('[{"image": "a.png", "category": "X", "skin_variations": {"1F3FB": {}}}]', "entry 0 is not an emoji"),
    ('[{"image": "a.png", "category": "X"}, {"image": "a.png", "category": "Y"}]',
     "a.png is named twice, in 'X' and 'Y'; expected each image once"),
])
def test_a_bad_emoji_index_is_refused(tmp_path, content, message):
    if content is not None:
        (tmp_path / "emoji.json").write_text(content)
    with pytest.raises(DataError) as error:
        twemoji_labels(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'emoji.json'} (emoji-datasource's index)")
    assert message in str(error.value)


# --- array files ------------------------------------------------------------------------------


def test_an_npz_of_rgba_with_labels_and_a_grey_npy(tmp_path):
    rgba = np.zeros((3, 20, 30, 4), np.uint8)
    rgba[..., :3] = 10
    rgba[:, :, 10:20, 3] = 255  # an opaque middle, transparent sides
    np.savez_compressed(tmp_path / "set.npz", images=rgba, labels=np.array([7, 3, 7]))
    data = load_images(tmp_path / "set.npz", resolution=16, background="black")
    assert data.images.shape == (3, 16, 16, 3) and (data.images[:, :, 4:12] == 10).all()
    assert data.label_names == ("3", "7") and data.labels.tolist() == [1, 0, 1]
    assert data.fingerprint["files"] == 1 and data.source.startswith(f"{tmp_path / 'set.npz'}[images]: 3 pictures")

    np.save(tmp_path / "digits.npy", np.full((4, 28, 28), 9, np.uint8))
    assert inspect_images(tmp_path / "digits.npy") == (4, 28, 1)
    digits = load_images(tmp_path / "digits.npy")
    assert digits.images.shape == (4, 28, 28, 1) and (digits.images == 9).all() and digits.labels is None


@pytest.mark.parametrize("array, received", [
    (np.zeros((2, 8, 8), np.float32), "float32 (2, 8, 8)"),
    (np.zeros((2, 8, 8), np.int16), "int16 (2, 8, 8)"),
    (np.zeros((8, 8), np.uint8), "uint8 (8, 8)"),
    (np.zeros((2, 8, 8, 3, 1), np.uint8), "uint8 (2, 8, 8, 3, 1)"),
    (np.zeros((2, 8, 8, 2), np.uint8), "uint8 (2, 8, 8, 2)"),
    (np.zeros((2, 8, 8, 5), np.uint8), "uint8 (2, 8, 8, 5)"),
    (np.array([{"pickled": 1}], dtype=object), "object (1,)"),
])
def test_an_array_of_the_wrong_dtype_or_shape_is_refused(tmp_path, array, received):
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(DataError) as error:
        load_images(tmp_path / "x.npy")
    assert str(error.value) == (
        f"{tmp_path / 'x.npy'}: images are {received}, expected uint8 (n, H, W) or (n, H, W, C) "
        "with C 1, 3 or 4: scale them to 0..255 and save a.astype(np.uint8)"
    )


def test_a_bad_array_file_is_refused(tmp_path):
    np.savez(tmp_path / "many.npz", a=np.zeros((2, 8, 8), np.uint8), b=np.zeros(2))
    with pytest.raises(DataError) as error:
        load_images(tmp_path / "many.npz")
    assert str(error.value) == (
        f"{tmp_path / 'many.npz'} holds the arrays ['a', 'b'], expected a single array or one named "
        "`images` (and optionally `labels`): np.savez(path, images=..., labels=...)"
    )

    np.save(tmp_path / "short.npy", np.zeros((10, 8, 8), np.uint8))
    with open(tmp_path / "short.npy", "r+b") as f:
        f.truncate(128 + 600)
    with pytest.raises(DataError) as error:
        load_images(tmp_path / "short.npy")
    assert str(error.value) == (
        f"{tmp_path / 'short.npy'}: 728 bytes, but its header (uint8 (10, 8, 8)) promises 768: "
        "the file is truncated; save it again"
    )

    np.savez(tmp_path / "labelled.npz", images=np.zeros((3, 8, 8), np.uint8), labels=np.zeros(2, int))
    with pytest.raises(DataError, match=r"\(labels\): int64 \(2,\), expected integers or strings of shape \(3,\)"):
        load_images(tmp_path / "labelled.npz")

    with pytest.raises(DataError) as error:
        load_images(tmp_path / "labelled.npz", labels={"a.png": "x"})
    assert str(error.value).startswith("a labels mapping names picture files, but ")


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ({"resolution": 48}, "resolution must be one of 16, 28, 32, 64, 128, got 48; leave it out for the data's own size"),
    ({"resolution": 32.0}, "resolution must be one of 16, 28, 32, 64, 128, got 32.0"),
    ({"resolution": True}, "resolution must be one of 16, 28, 32, 64, 128, got True"),
    ({"channels": 2}, "channels must be 1 (grey) or 3 (RGB), got 2"),
    ({"channels": 4}, "channels must be 1 (grey) or 3 (RGB), got 4"),
    ({"background": "grey"}, "background must be one of white, black, got 'grey'"),
    ({"min_images": 0}, "min_images must be an integer of 1 or more, got 0"),
    ({"labels": ["cats"]}, "labels must map file names or relative paths to label names (str to str), got list"),
])
def test_a_bad_setting_is_refused_before_anything_is_read(mixed, cache_home, decodes, setting, message):
    with pytest.raises(DataError) as error:
        load_images(mixed, **setting)
    assert str(error.value).startswith(message)
    assert decodes == [] and not cache_home.exists()
    assert SUPPORTED_RESOLUTIONS == (16, 28, 32, 64, 128)


def test_a_path_without_pictures_is_refused(tmp_path):
    with pytest.raises(DataError) as error:
        load_images(tmp_path / "nowhere")
    assert str(error.value) == (
        f"{tmp_path / 'nowhere'} does not exist: expected a folder of PNG or JPEG pictures, "
        "or a .npy/.npz file of uint8 images; check the path"
    )

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"^no PNG or JPEG images in .*empty \(0 other files ignored\)"):
        load_images(tmp_path / "empty")

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    (tmp_path / "docs" / "b.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError) as error:
        inspect_images(tmp_path / "docs")
    assert str(error.value) == (
        f"no PNG or JPEG images in {tmp_path / 'docs'} (2 other files ignored): expected files "
        "ending in .png, .jpg, .jpeg, in it or its subfolders"
    )

    with pytest.raises(DataError, match=r"a\.txt is a file \(\.txt\): expected a folder of PNG or JPEG"):
        load_images(tmp_path / "docs" / "a.txt")


def test_fewer_pictures_than_a_batch_is_refused(mixed, cache_home):
    with pytest.raises(DataError) as error:
        load_images(mixed, resolution=16, min_images=8)
    assert str(error.value) == (
        f"{mixed} holds 5 usable pictures, expected at least 8 (one batch): "
        "add pictures or use a smaller batch size"
    )
    assert not cache_home.exists()


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg", "text.png"])
def test_an_unreadable_picture_is_refused_or_skipped(mixed, cache_home, name):
    if name == "text.png":
        (mixed / name).write_text("this is not a PNG")
    else:
        whole = save(mixed / "whole", solid(64, 64, (9, 9, 9)), format="PNG" if name.endswith("png") else "JPEG")
        (mixed / name).write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        whole.unlink()

    with pytest.raises(DataError) as error:
        load_images(mixed, resolution=16, channels=3)
    message = str(error.value)
    assert message.startswith(f"{name}: not a readable PNG or JPEG (") and message.endswith(SKIP_HINT)
    assert not cache_home.exists()  # the refused decode left nothing behind

    data = load_images(mixed, resolution=16, channels=3, skip_bad=True)
    assert len(data) == 5 and data.skipped == 1 and ", 1 unreadable skipped, " in data.source
    np.testing.assert_allclose(data.images[:, 8, 8].astype(int), MIXED_CENTRES, atol=3)

    with pytest.raises(DataError) as again:  # the cache made with skip_bad refuses as a decode would
        load_images(mixed, resolution=16, channels=3)
    assert str(again.value) == message


def test_a_decompression_bomb_is_refused_from_its_header(mixed, decodes):
    (mixed / "big.png").write_bytes(png_claiming(10_000, 10_000))  # past 64 MP: Pillow only warns
    (mixed / "huge.png").write_bytes(png_claiming(20_000, 20_000))  # past 179 MP: Pillow refuses
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError) as error:
            inspect_images(mixed)
        assert str(error.value) == (
            f"big.png: its header claims 10000x10000 = 100,000,000 pixels, expected at most "
            f"{MAX_PIXELS:,}; remove or replace the file, or {SKIP_HINT}"
        )
        (mixed / "big.png").unlink()
        with pytest.raises(DataError) as error:
            load_images(mixed, resolution=16, channels=3)
        assert str(error.value).startswith("huge.png: its header claims 400,000,000 pixels, expected at most 64,000,000;")
        data = load_images(mixed, resolution=16, channels=3, skip_bad=True)

    assert data.skipped == 1 and "huge.png" not in decodes
    assert [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []
    assert Image.MAX_IMAGE_PIXELS == limit and warnings.filters == filters  # nothing global changed


# --- batches ------------------------------------------------------------------------------


def test_to_model_range_maps_one_batch_to_minus_one_one(mixed):
    data = load_images(mixed, resolution=16, channels=3)
    batch = to_model_range(data.images[1:4])
    assert batch.dtype == np.float32 and batch.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(batch, data.images[1:4] / 127.5 - 1, atol=1e-6)
    assert to_model_range(np.array([[[[0], [255]]]], np.uint8)).ravel().tolist() == [-1.0, 1.0]

    for bad, received in ((data.images[0], "uint8 (16, 16, 3)"), (batch, "float32 (3, 16, 16, 3)"), ([1], "list")):
        with pytest.raises(InputError) as error:
            to_model_range(bad)
        assert str(error.value) == (
            f"a batch must be uint8 (n, res, res, 1 or 3), got {received}; "
            "pass a slice of ImageData.images, one batch at a time"
        )
