"""kan_core — Kolmogorov-Arnold Networks in pure PyTorch, with pykan's names.

Train with sparsity regularisation, prune, refine grids, snap edges to symbolic functions, and
read off a closed-form formula. No I/O beyond ``save``/``load``; no printing.
"""

from importlib.util import find_spec as _find_spec

from .compiler import kanpiler as kanpiler
from .curves import edge_curve as edge_curve
from .curves import edge_curves as edge_curves
from .datasets import PRESETS as PRESETS
from .datasets import Preset as Preset
from .datasets import augment_input as augment_input
from .datasets import create_dataset as create_dataset
from .datasets import create_dataset_from_data as create_dataset_from_data
from .datasets import dataset_from_formula as dataset_from_formula
from .datasets import validate_dataset as validate_dataset
from .derivatives import batch_hessian as batch_hessian
from .derivatives import batch_jacobian as batch_jacobian
from .derivatives import get_derivative as get_derivative
from .discover import DiscoverResult as DiscoverResult
from .discover import discover as discover
from .feynman import get_feynman_dataset as get_feynman_dataset
from .formula import compile_formula as compile_formula
from .formula import ex_round as ex_round
from .formula import formula_complete as formula_complete
from .formula import formula_fidelity as formula_fidelity
from .formula import symbolic_formula as symbolic_formula
from .formula import to_latex as to_latex
from .formula import to_mathml as to_mathml
from .formula import to_python as to_python
from .layer import KANLayer as KANLayer
from .lbfgs import LBFGS as LBFGS
from .mlp import MLP as MLP
from .model import KAN as KAN
from .model import KANConfig as KANConfig
from .parser import FormulaError as FormulaError
from .parser import ParsedFormula as ParsedFormula
from .parser import parse_formula as parse_formula
from .prune import PrunePlan as PrunePlan
from .pykan_extras import add_symbolic as add_symbolic
from .pykan_extras import model2param as model2param
from .runtime import tune_allocator as tune_allocator
from .simplify import complexity as complexity
from .spline import B_batch as B_batch
from .spline import b_spline_basis as b_spline_basis
from .spline import coef2curve as coef2curve
from .spline import curve2coef as curve2coef
from .spline import curve_to_coef as curve_to_coef
from .spline import extend_grid as extend_grid
from .symbolic import SymbolicFit as SymbolicFit
from .symbolic_lib import SYMBOLIC_LIB as SYMBOLIC_LIB
from .symbolic_lib import SymbolicFunction as SymbolicFunction
from .ties import rerank_by_refit as rerank_by_refit
from .train import StepResult as StepResult
from .train import Trainer as Trainer
from .train import TrainOptions as TrainOptions
from .train import fit as fit

ALLOCATOR_TUNED = tune_allocator()  # see kan_core.runtime (opt out: KAN_CORE_TUNE_MALLOC=0)

MultKAN = KAN  # pykan's class name

# pykan's ``from kan import *`` also hands out the libraries its modules import — torch, nn,
# NumPy as np, sympy and (by ``from sympy import *``) sympy's names, matplotlib's plt, tqdm — and its
# tutorials use them unprefixed. The star import here gives the ones they use; plt only where
# matplotlib is installed, imported on first use (``import kan_core`` never imports it).
import numpy as np  # noqa: E402
import sympy  # noqa: E402
import torch  # noqa: E402
from sympy import (  # noqa: E402
    Abs,
    E,
    Float,
    Integer,
    Rational,
    Symbol,
    cos,
    exp,
    expand,
    lambdify,
    latex,
    log,
    nsimplify,
    pi,
    simplify,
    sin,
    sqrt,
    symbols,
    tan,
    tanh,
)
from torch import nn  # noqa: E402


def __getattr__(name: str):
    if name == "plt":  # (lazily: matplotlib is optional and slow to import)
        import matplotlib.pyplot as plt

        return plt
    if name == "tqdm":  # (pykan's tutorials draw progress bars with it; optional too)
        from tqdm import tqdm

        return tqdm
    raise AttributeError(f"module 'kan_core' has no attribute {name!r}")


__all__ = [
    "MLP",
    "add_symbolic",
    "augment_input",
    "batch_hessian",
    "batch_jacobian",
    "get_derivative",
    "model2param",
    "get_feynman_dataset",
    "kanpiler",
    "DiscoverResult",
    "complexity",
    "discover",
    "rerank_by_refit",
    "ALLOCATOR_TUNED",
    "KAN",
    "KANConfig",
    "KANLayer",
    "LBFGS",
    "B_batch",
    "coef2curve",
    "curve2coef",
    "extend_grid",
    "PRESETS",
    "Preset",
    "PrunePlan",
    "SYMBOLIC_LIB",
    "StepResult",
    "SymbolicFit",
    "SymbolicFunction",
    "TrainOptions",
    "Trainer",
    "FormulaError",
    "ParsedFormula",
    "b_spline_basis",
    "compile_formula",
    "create_dataset",
    "create_dataset_from_data",
    "ex_round",
    "curve_to_coef",
    "dataset_from_formula",
    "edge_curve",
    "edge_curves",
    "fit",
    "formula_complete",
    "formula_fidelity",
    "parse_formula",
    "symbolic_formula",
    "to_latex",
    "to_mathml",
    "to_python",
    "tune_allocator",
    "validate_dataset",
    # pykan's star import (see above)
    "MultKAN",
    "np",
    "nn",
    "sympy",
    "torch",
    "Abs",
    "E",
    "Float",
    "Integer",
    "Rational",
    "Symbol",
    "cos",
    "exp",
    "expand",
    "lambdify",
    "latex",
    "log",
    "nsimplify",
    "pi",
    "simplify",
    "sin",
    "sqrt",
    "symbols",
    "tan",
    "tanh",
]
if _find_spec("matplotlib") is not None:
    __all__.append("plt")
if _find_spec("tqdm") is not None:
    __all__.append("tqdm")
