"""Moving shapes and moving digits: tiny videos with known trajectories.

Each video shows 1-3 white objects (squares, circles, triangles, crosses, or 8x8
digits upscaled x2) moving over a black background, either in a straight line or
bouncing off the borders, optionally behind a grey occluding bar. Because the
generator knows every object's true centre in every frame, a video model's rollout
can be scored by where it puts the objects (:func:`effteach.metrics.centroid_tracks`
and :func:`effteach.metrics.trajectory_error`), not only by pixel error.

Conventions: pixel ``(row, col)`` has its centre at ``(x, y) = (col, row)``;
positions are the intensity-weighted centroids of the objects, in pixels, as
``(x, y)``. Sub-pixel positions are rendered by bilinear interpolation of the
object's sprite, which moves the sprite's centroid exactly to the position.

Paper: Srivastava et al. 2015, "Unsupervised Learning of Video Representations using
    LSTMs" (Moving MNIST, the bouncing-digits set this generalises).
Book: notebooks/zoo/models.md, "Data".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from effteach.checks import typed

__all__ = ["SHAPE_NAMES", "OCCLUDER_LEVEL", "MovingShapes", "moving_shapes"]

#: Class ids of ``objects="shapes"``: ``classes == 2`` is a triangle.
SHAPE_NAMES: tuple[str, ...] = ("square", "circle", "triangle", "cross")

#: Grey level of the occluding bar (objects are 1.0, background 0.0).
OCCLUDER_LEVEL = 0.4

_SUPERSAMPLE = 4  # sub-pixel samples per axis when anti-aliasing shapes


@dataclass(frozen=True)
class MovingShapes:
    """A batch of moving-object videos and their ground truth.

    Shapes use ``n`` videos, ``T`` frames, ``K`` objects, frame side ``S``.

    Attributes:
        video: float32 in [0, 1], shape (n, T, 1, S, S); background 0, objects up
            to 1, occluder :data:`OCCLUDER_LEVEL`. Use ``2 * video - 1`` for [-1, 1].
        positions: float32, shape (n, K, T, 2): each object's true centre (its
            intensity centroid) as ``(x, y)`` in pixels, pixel centres at integers.
        velocities: float32, shape (n, K, T, 2): velocity at each frame in pixels
            per frame (the sign flips at a bounce).
        classes: int64, shape (n, K): :data:`SHAPE_NAMES` index, or the digit.
        visible: bool, shape (n, K, T): at least half of the object is in view
            (not behind the occluder or objects drawn later). All True unless
            objects overlap or ``occlusion`` is on.
        visible_fraction: float32 in [0, 1], shape (n, K, T): the unhidden share
            of the object's intensity.
        occluder: int64, shape (n, 2): the bar's columns ``[x0, x1)``; ``(0, 0)``
            without occlusion.
    """

    video: torch.Tensor
    positions: torch.Tensor
    velocities: torch.Tensor
    classes: torch.Tensor
    visible: torch.Tensor
    visible_fraction: torch.Tensor
    occluder: torch.Tensor


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected an int in [{low}, {high}], got {value}")
    return int(value)


@functools.lru_cache(maxsize=32)
def _shape_sprite(kind: int, object_size: int, antialias: bool) -> np.ndarray:
    """Coverage of one shape, float64 in [0, 1], shape (object_size + 2,) * 2."""
    side = object_size + 2  # one empty pixel around the shape
    f = _SUPERSAMPLE if antialias else 1
    # sample points (relative to the sprite centre) of every pixel, f x f per pixel
    sub = (np.arange(side * f) + 0.5) / f - 0.5 - (side - 1) / 2
    v, u = np.meshgrid(sub, sub, indexing="ij")  # v: down (rows), u: right (cols)
    h = object_size / 2
    if SHAPE_NAMES[kind] == "square":
        inside = (np.abs(u) < h) & (np.abs(v) < h)
    elif SHAPE_NAMES[kind] == "circle":
        inside = u**2 + v**2 < h**2
    elif SHAPE_NAMES[kind] == "triangle":  # apex up, base at the bottom
        inside = (v < h) & (np.abs(u) < (v + h) / 2)
    else:  # cross: a plus sign with arms a third of the size thick
        w = max(h / 3, 0.75)
        inside = ((np.abs(u) < w) & (np.abs(v) < h)) | (
            (np.abs(v) < w) & (np.abs(u) < h)
        )
    cover = inside.reshape(side, f, side, f).mean(axis=(1, 3))
    cover.setflags(write=False)
    return cover


def _digit_sprite(image8: np.ndarray) -> np.ndarray:
    """An 8x8 digit (grey levels 0-16) upscaled x2, cropped, in [0, 1]."""
    big = np.kron(image8 / 16.0, np.ones((2, 2)))  # (16, 16), nearest-neighbour x2
    rows = np.flatnonzero(big.any(axis=1))
    cols = np.flatnonzero(big.any(axis=0))
    crop = big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(crop, 1)


def _sprite_geometry(sprite: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid (x, y) and the extent of the non-zero pixels around it.

    Returns:
        ``centroid``, ``below`` and ``above`` as (x, y) arrays: the sprite covers
        ``[centroid - below, centroid + above]`` in each axis.
    """
    mass = sprite.sum()
    rows, cols = np.indices(sprite.shape)
    centroid = np.array([(cols * sprite).sum(), (rows * sprite).sum()]) / mass
    nz_r = np.flatnonzero(sprite.any(axis=1))
    nz_c = np.flatnonzero(sprite.any(axis=0))
    below = centroid - np.array([nz_c[0], nz_r[0]])
    above = np.array([nz_c[-1], nz_r[-1]]) - centroid
    return centroid, below, above


def _place(sprite: np.ndarray, centroid: np.ndarray, pos: np.ndarray):
    """Bilinearly shift ``sprite`` so its centroid lands on ``pos``.

    Returns:
        ``(patch, r0, c0)``: the shifted sprite, shape (P+1, P+1), whose top-left
        pixel goes to frame pixel ``(r0, c0)``; interpolation is a convolution with
        a tent kernel, which moves the intensity centroid by exactly the shift.
    """
    d = pos - centroid  # frame coordinate of the sprite's pixel (0, 0), as (x, y)
    a = np.floor(d)
    fx, fy = d - a
    p = sprite.shape[0]
    patch = np.zeros((p + 1, sprite.shape[1] + 1))
    q = sprite.shape[1]
    patch[:p, :q] += (1 - fy) * (1 - fx) * sprite
    patch[1:, :q] += fy * (1 - fx) * sprite
    patch[:p, 1:] += (1 - fy) * fx * sprite
    patch[1:, 1:] += fy * fx * sprite
    return patch, int(a[1]), int(a[0])


def _full_frame(patch: np.ndarray, r0: int, c0: int, size: int) -> np.ndarray:
    """Paste ``patch`` into an empty (size, size) frame, clipping at the borders."""
    out = np.zeros((size, size))
    r1, c1 = r0 + patch.shape[0], c0 + patch.shape[1]
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r1, size), min(c1, size)
    if rs < re and cs < ce:
        out[rs:re, cs:ce] = patch[rs - r0 : re - r0, cs - c0 : ce - c0]
    return out


def _trajectory(
    rng: np.random.Generator,
    lo: np.ndarray,
    hi: np.ndarray,
    n_frames: int,
    motion: str,
    speed: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Centre positions and velocities, each (n_frames, 2), inside ``[lo, hi]``."""
    t = np.arange(n_frames)[:, None]
    start = rng.uniform(lo, hi)
    if motion == "linear":  # straight to a random end point: never leaves the box
        end = rng.uniform(lo, hi)
        v = (end - start) / max(n_frames - 1, 1)
        return start + v * t, np.broadcast_to(v, (n_frames, 2)).copy()
    angle = rng.uniform(0, 2 * np.pi)
    v = rng.uniform(*speed) * np.array([np.cos(angle), np.sin(angle)])
    # unfold the bounces: fold the free path p = start + v t into [lo, hi] with a
    # triangle wave of period 2 * width (each wall hit is a reflection)
    width = hi - lo
    q = np.mod(start + v * t - lo, 2 * width)
    forward = q <= width
    pos = lo + np.where(forward, q, 2 * width - q)
    return pos, np.where(forward, v, -v)


@typed
def moving_shapes(
    n_videos: int,
    n_frames: int = 16,
    size: int = 32,
    n_objects: int = 1,
    motion: str = "bounce",
    occlusion: bool = False,
    objects: str = "shapes",
    seed: int = 0,
    object_size: int | None = None,
    speed: tuple[float, float] = (1.0, 2.5),
    antialias: bool = True,
) -> MovingShapes:
    """Render videos of moving shapes or digits with their true trajectories.

    Every object stays entirely inside the frame: with ``"bounce"`` it reflects off
    the borders (elastic, objects pass through each other), with ``"linear"`` it
    moves at constant velocity from a random start to a random end point. Objects
    are composited in order (object 0 at the back) as white sprites whose
    coverage is their opacity; with ``occlusion``, a static vertical grey bar
    (:data:`OCCLUDER_LEVEL`, about a sixth of the frame wide) is drawn in front of
    everything, so objects disappear behind it and reappear.

    Video ``i`` depends only on ``(seed, i)`` and the other arguments, not on
    ``n_videos``: ``moving_shapes(10, seed=s).video[:5]`` equals
    ``moving_shapes(5, seed=s).video``.

    Args:
        n_videos: number of videos, >= 1.
        n_frames: frames per video, in [2, 64] (the book uses 8-16).
        size: frame side in pixels, in [16, 64] (the book uses 16-32). Digits
            (up to 16 px once upscaled) need about 20 px or more to move.
        n_objects: objects per video, in [1, 3].
        motion: ``"linear"`` or ``"bounce"``.
        occlusion: add the occluding bar.
        objects: ``"shapes"`` (:data:`SHAPE_NAMES`) or ``"digits"`` (random
            images of the train split of :func:`~effteach.data.load_digits_tensors`,
            upscaled x2 and cropped).
        seed: seed of ``numpy.random.default_rng([seed, i])`` for video ``i``.
        object_size: side of the shapes in pixels, in [3, size // 2]; default
            ``max(5, size // 4)``. Ignored for digits.
        speed: ``(min, max)`` speed in pixels per frame for ``"bounce"``, with
            ``0 <= min <= max <= size / 2``.
        antialias: anti-alias the shapes (4 x 4 supersampling).

    Returns:
        A :class:`MovingShapes` with the videos and their ground truth.

    Raises:
        TypeError, ValueError: for arguments out of range (the message names the
            argument), including a frame too small for its objects to move.

    Paper: Srivastava et al. 2015 (Moving MNIST).
    Book: notebooks/zoo/models.md, "Data".
    """
    n_videos = _check_int("n_videos", n_videos, 1, 1_000_000)
    n_frames = _check_int("n_frames", n_frames, 2, 64)
    size = _check_int("size", size, 16, 64)
    n_objects = _check_int("n_objects", n_objects, 1, 3)
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    if motion not in ("linear", "bounce"):
        raise ValueError(f"motion: expected 'linear' or 'bounce', got {motion!r}")
    if objects not in ("shapes", "digits"):
        raise ValueError(f"objects: expected 'shapes' or 'digits', got {objects!r}")
    if not isinstance(occlusion, (bool, np.bool_)):
        raise TypeError(f"occlusion: expected a bool, got {type(occlusion).__name__}")
    if object_size is None:
        object_size = max(5, size // 4)
    object_size = _check_int("object_size", object_size, 3, size // 2)
    try:
        s_min, s_max = (float(s) for s in speed)
    except (TypeError, ValueError) as err:
        raise TypeError(f"speed: expected a (min, max) pair, got {speed!r}") from err
    if not 0 <= s_min <= s_max <= size / 2:
        raise ValueError(
            f"speed: expected 0 <= min <= max <= size / 2 = {size / 2}, got {speed!r}"
        )
    if objects == "digits":
        from effteach.data.digits import load_digits_tensors

        digit_imgs, digit_labels = load_digits_tensors("train")
        digit_imgs = (digit_imgs[:, 0].double().numpy() + 1.0) * 8.0  # back to 0-16
        digit_labels = digit_labels.numpy()

    video = np.zeros((n_videos, n_frames, size, size))
    positions = np.zeros((n_videos, n_objects, n_frames, 2))
    velocities = np.zeros_like(positions)
    classes = np.zeros((n_videos, n_objects), dtype=np.int64)
    vis_frac = np.ones((n_videos, n_objects, n_frames))
    occluder = np.zeros((n_videos, 2), dtype=np.int64)
    bar_width = max(2, size // 6)

    for i in range(n_videos):
        rng = np.random.default_rng([seed, i])
        layers = np.zeros((n_objects, n_frames, size, size))  # coverage per object
        for k in range(n_objects):
            if objects == "shapes":
                classes[i, k] = rng.integers(len(SHAPE_NAMES))
                sprite = _shape_sprite(int(classes[i, k]), object_size, antialias)
            else:
                j = rng.integers(len(digit_labels))
                classes[i, k] = digit_labels[j]
                sprite = _digit_sprite(digit_imgs[j])
            centroid, below, above = _sprite_geometry(sprite)
            lo, hi = below, (size - 1) - above  # allowed centres, (x, y)
            if np.any(hi - lo < 1):
                raise ValueError(
                    f"size: {size} px leaves no room for a {objects[:-1]} of "
                    f"{int(np.ceil((below + above).max())) + 1} px to move; use a "
                    "larger size (or a smaller object_size)"
                )
            pos, vel = _trajectory(rng, lo, hi, n_frames, motion, (s_min, s_max))
            positions[i, k], velocities[i, k] = pos, vel
            for t in range(n_frames):
                patch, r0, c0 = _place(sprite, centroid, pos[t])
                layers[k, t] = _full_frame(patch, r0, c0, size)
        frames = np.zeros((n_frames, size, size))
        for k in range(n_objects):  # "over" compositing, object 0 at the back
            frames = frames * (1 - layers[k]) + layers[k]
        hidden_by = np.zeros((n_objects, n_frames, size, size))  # 1 - transmittance
        front = np.zeros((n_frames, size, size))
        if occlusion:
            x0 = int(rng.integers(0, size - bar_width + 1))
            occluder[i] = (x0, x0 + bar_width)
            frames[:, :, x0 : x0 + bar_width] = OCCLUDER_LEVEL
            front[:, :, x0 : x0 + bar_width] = 1.0
        for k in reversed(range(n_objects)):  # what covers object k: bar + later ones
            hidden_by[k] = front
            front = 1 - (1 - front) * (1 - layers[k])
        mass = layers.sum(axis=(2, 3))
        vis_frac[i] = (layers * (1 - hidden_by)).sum(axis=(2, 3)) / mass
        video[i] = frames

    vis = torch.from_numpy(vis_frac).float().clamp_(0, 1)
    return MovingShapes(
        video=torch.from_numpy(video).float().clamp_(0, 1).unsqueeze(2),
        positions=torch.from_numpy(positions).float(),
        velocities=torch.from_numpy(velocities).float(),
        classes=torch.from_numpy(classes),
        visible=vis >= 0.5,
        visible_fraction=vis,
        occluder=torch.from_numpy(occluder),
    )
