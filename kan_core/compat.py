"""pykan keyword compatibility: notebooks written for pykan pass keywords kan_core has no use for.

Each public method that pykan also has declares which of pykan's extra keywords it accepts:
display-only ones (printing, plotting, logging — kan_core never prints or writes files) are
dropped; ones for features kan_core does not implement are accepted only at pykan's default value,
anything else raises a ``ValueError`` that names the keyword. Unknown keywords raise ``TypeError``
as Python would.
"""

from __future__ import annotations

import torch

__all__ = ["FIT_KEYWORDS", "SYMBOLIC_KEYWORDS", "check_device", "pykan_keywords"]

_CPU_ONLY = "kan_core runs on the CPU"

# (display-only keywords, {keyword: pykan default} of unimplemented features) per method family.
# fit: printing, plotting and logging (its training keywords are TrainOptions fields, see
# kan_core.pykan_training).
FIT_KEYWORDS = (
    (
        "log",
        "display_metrics",
        "save_fig",
        "save_fig_freq",
        "in_vars",
        "out_vars",
        "beta",
        "img_folder",
    ),
    {"device": "cpu"},
)
# suggest/fix/auto_symbolic: printing and history; the ranges of pykan's parameter-grid search
# for a and b (kan_core's fit is continuous: it needs no range, any is accepted); the other search
# settings only at their defaults.
SYMBOLIC_KEYWORDS = (
    ("verbose", "log_history", "a_range", "b_range"),
    {
        "weight_simple": 0.8,
        "random": False,
    },
)


def check_device(device) -> None:
    """pykan's ``device=``: only the CPU is accepted (with a clear error otherwise)."""
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(f"device={device!r}: {_CPU_ONLY}; pass device='cpu' or leave it out")


def pykan_keywords(fn: str, kw: dict, display=(), at_default=None, own=()) -> dict:
    """Drop ``display`` keywords from ``kw`` and check ``at_default`` ones ``{name: pykan
    default}``; returns the caller's ``own`` keywords, and raises ``TypeError`` for any other."""
    kw = dict(kw)
    for name in display:
        kw.pop(name, None)
    for name, default in (at_default or {}).items():
        if name not in kw:
            continue
        value = kw.pop(name)
        if name == "device":
            check_device(value)
        elif not _same(value, default):
            raise ValueError(
                f"{fn}({name}={value!r}) is not supported by kan_core; leave {name} at its "
                f"pykan default {default!r}"
            )
    unknown = sorted(set(kw) - set(own))
    if unknown:
        raise TypeError(f"{fn}() got unexpected keyword argument(s): {', '.join(unknown)}")
    return kw


def _same(value, default) -> bool:
    if default is None or isinstance(default, bool):
        return value is default or (isinstance(default, bool) and value == default)
    if isinstance(default, tuple):
        return tuple(value) == default
    return value == default
