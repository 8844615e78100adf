"""Images as input: arrays shaped ``(N, H, W)`` or ``(N, H, W, C)``, or pixel columns with ``image_shape``.

Every family sees images as a frame of pixel columns (``pixel_0 ...``, channels
last, row-major), so cross-validation, the leaderboard, tracking and saving
work unchanged; the image families (``cnn``) get the shape and rebuild the
images, the tabular families read the pixels as features.

Example:
    >>> import numpy as np
    >>> frame, shape = as_image_frame(np.zeros((5, 8, 8)), None)
    >>> frame.shape, shape
    ((5, 64), (8, 8, 1))
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.exceptions import DataValidationError, InvalidParameterError

__all__ = ["as_image_frame", "image_shape_problems", "pixel_columns"]


def pixel_columns(n: int) -> list[str]:
    """Names of the pixel columns of a flattened image.

    Example:
        >>> pixel_columns(3)
        ['pixel_0', 'pixel_1', 'pixel_2']
    """
    return [f"pixel_{i}" for i in range(n)]


def image_shape_problems(image_shape: object) -> list[str]:
    """Problems with an ``image_shape=`` setting.

    Example:
        >>> image_shape_problems((28, 28)), image_shape_problems((8, 8, 1))
        ([], [])
        >>> image_shape_problems("8x8")
        ["image_shape must be (height, width) or (height, width, channels) of positive whole numbers, got '8x8'; for example image_shape=(28, 28)"]
    """
    if image_shape is None:
        return []
    ok = (
        isinstance(image_shape, Sequence) and not isinstance(image_shape, str) and len(image_shape) in (2, 3)
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) > 0 for s in image_shape)
    )
    if ok:
        return []
    return [
        f"image_shape must be (height, width) or (height, width, channels) of positive whole numbers, "
        f"got {image_shape!r}; for example image_shape=(28, 28)"
    ]


def _normal_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    return shape if len(shape) == 3 else (shape[0], shape[1], 1)


def _pixel_problems(X: np.ndarray, argument: str, fitted: bool) -> list[str]:
    """What an image array's values break, in the array's own terms (its pixel columns are made only after): an
    infinite pixel (refused at fit and at predict, as an infinite feature is), and at fit a position missing in
    every image (nothing to learn a fill value from).

    Example:
        >>> images = np.zeros((2, 2, 3))
        >>> images[1, 0, 2] = np.inf
        >>> _pixel_problems(images, "X", fitted=False)[0][:81]
        'X holds 1 infinite pixel value(s), the first in image 1 at (row, column, channel)'
    """
    if not np.issubdtype(X.dtype, np.floating) or not X.size:
        return []
    problems = []
    infinite = np.isinf(X)
    if infinite.any():
        first = np.unravel_index(int(np.argmax(infinite)), X.shape)
        where = _normal_position(tuple(int(i) for i in first[1:]))
        problems.append(f"{argument} holds {int(infinite.sum())} infinite pixel value(s), the first in image {first[0]} "
                        f"at (row, column, channel) {where}; mark them missing ({argument}[np.isinf({argument})] = "
                        f"np.nan) or clip them to the pixels' range (np.clip({argument}, low, high))")
    if not fitted:
        empty = np.isnan(X).all(axis=0)
        if empty.any():
            positions = [_normal_position(tuple(int(i) for i in p)) for p in np.argwhere(empty)[:3]]
            more = " ..." if int(empty.sum()) > 3 else ""
            problems.append(f"{argument} has {int(empty.sum())} pixel position(s) missing (NaN) in every image, e.g. "
                            f"(row, column, channel) {', '.join(map(str, positions))}{more}; fill them, e.g. "
                            f"{argument} = np.nan_to_num({argument}, nan=0.0)")
    return problems


def _normal_position(position: tuple[int, ...]) -> tuple[int, int, int]:
    """A pixel's position in an image as (row, column, channel): images without a channel axis have one."""
    return (*position, 0) if len(position) == 2 else (position[0], position[1], position[2])


def as_image_frame(X: Any, image_shape: Sequence[int] | None, *, argument: str = "X",
                   fitted: bool = False) -> tuple[Any, tuple[int, int, int] | None]:
    """Turn image input into pixel columns; anything else passes through with shape None.

    Args:
        X: An array ``(N, H, W)`` / ``(N, H, W, C)``, or a frame / 2-D array of pixel columns.
        image_shape: ``(H, W)`` or ``(H, W, C)`` for pixel columns; checked against an image array.
        argument: Name used in error messages.
        fitted: ``image_shape`` is a fitted model's (at predict), not the user's setting.

    Returns:
        ``(frame, (H, W, C))`` for images, else ``(X, None)``.

    Raises:
        InvalidParameterError: ``image_shape`` is malformed.
        DataValidationError: the array's shape or the number of columns does not match
            ``image_shape``, or pixel columns are not numeric.
    """
    problems = image_shape_problems(image_shape)
    if problems:
        raise InvalidParameterError(problems)
    if isinstance(X, np.ndarray) and X.ndim in (3, 4):
        found = _normal_shape(X.shape[1:])
        if image_shape is not None and _normal_shape(image_shape) != found:
            raise DataValidationError(
                f"{argument} holds images of shape {found} (height, width, channels) but the model was fitted on "
                f"images of shape {_normal_shape(image_shape)}; pass images of that shape" if fitted else
                f"{argument} holds images of shape {found} (height, width, channels) but image_shape="
                f"{tuple(image_shape)}; leave image_shape out for arrays, or reshape the images"
            )
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataValidationError(f"{argument} holds images of dtype {X.dtype}; pixels must be real numbers")
        problems = _pixel_problems(X, argument, fitted)
        if problems:
            raise DataValidationError(problems)
        flat = X.reshape(len(X), int(np.prod(X.shape[1:])))
        return pd.DataFrame(flat, columns=pixel_columns(flat.shape[1])), found
    if image_shape is None:
        return X, None
    shape = _normal_shape(image_shape)
    n_pixels = shape[0] * shape[1] * shape[2]
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = pd.DataFrame(X, columns=pixel_columns(X.shape[1]))
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != n_pixels:
            raise DataValidationError(
                f"{argument} has {X.shape[1]} columns but image_shape={tuple(image_shape)} needs "
                f"{n_pixels} pixel columns (height x width x channels, channels last); drop the other columns"
            )
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)
               or pd.api.types.is_bool_dtype(X[c].dtype)]
        if bad:
            raise DataValidationError(
                f"pixel columns must be numeric, but {bad[:5]}{' ...' if len(bad) > 5 else ''} are not; "
                "convert them (pd.to_numeric) or leave image_shape out for a table"
            )
    return X, shape
