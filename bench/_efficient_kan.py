"""A minimal efficient-kan-style layer (after Blealtan/efficient-kan's KANLinear, MIT), for the
layer benchmark only: B-spline bases once per input (Cox-de Boor), then two matmuls (base + spline).
Not on PyPI, hence this ~40-line rewrite of its forward path with its defaults (grid 5, k 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EfficientKANLinear(nn.Module):
    def __init__(
        self,
        in_features,
        out_features,
        grid_size=5,
        spline_order=3,
        grid_range=(-1.0, 1.0),
        scale_noise=0.1,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order = grid_size, spline_order
        h = (grid_range[1] - grid_range[0]) / grid_size
        grid = torch.arange(-spline_order, grid_size + spline_order + 1) * h + grid_range[0]
        self.register_buffer("grid", grid.expand(in_features, -1).contiguous())
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        n_bases = grid_size + spline_order
        self.spline_weight = nn.Parameter(
            torch.randn(out_features, in_features, n_bases) * scale_noise / grid_size
        )
        self.spline_scaler = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.base_weight, a=5**0.5)
        nn.init.kaiming_uniform_(self.spline_scaler, a=5**0.5)

    def b_splines(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in) -> (batch, in, grid_size + spline_order)"""
        grid = self.grid
        x = x.unsqueeze(-1)
        bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
        for k in range(1, self.spline_order + 1):
            left = (x - grid[:, : -(k + 1)]) / (grid[:, k:-1] - grid[:, : -(k + 1)])
            right = (grid[:, k + 1 :] - x) / (grid[:, k + 1 :] - grid[:, 1:(-k)])
            bases = left * bases[:, :, :-1] + right * bases[:, :, 1:]
        return bases.contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.linear(F.silu(x), self.base_weight)
        w = (self.spline_weight * self.spline_scaler.unsqueeze(-1)).view(self.out_features, -1)
        spline = F.linear(self.b_splines(x).view(x.size(0), -1), w)
        return base + spline
