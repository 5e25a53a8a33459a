"""pykan's less common ``KAN`` methods (the tutorials' one-notebook calls), as a mixin of ``KAN``.

Kept apart from ``model.py`` so the core model stays small; each method is a thin front door to a
function in this module or another ``kan_core`` module.
"""

from __future__ import annotations

__all__ = ["PykanExtras"]


class PykanExtras:
    """Mixed into ``KAN``; methods here use only ``KAN``'s public surface."""
