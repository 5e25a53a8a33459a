"""pykan's less common ``KAN`` methods (the tutorials' one-notebook calls), as a mixin of ``KAN``.

Kept apart from ``model.py`` so the core model stays small; each method is a thin front door to a
function in this module or another ``kan_core`` module.
"""

from __future__ import annotations

__all__ = ["PykanExtras", "add_symbolic", "model2param"]


def model2param(model):
    """pykan's ``model2param``: every parameter of ``model``, flattened into one vector (in
    ``model.parameters()`` order; kan_core's parameters are laid out its own way, so the vector
    is not pykan's, only its length and order rule are)."""
    import torch

    return torch.cat([p.reshape(-1) for p in model.parameters()])


def add_symbolic(name, fun, c=1, fun_singularity=None):
    """pykan's ``add_symbolic``: add ``fun`` (a torch function) to the symbolic library as
    ``name`` with complexity ``c``, for ``suggest_symbolic``/``fix_symbolic``/``auto_symbolic``.
    In formulas it reads ``name(…)`` (an undefined sympy function: such a formula can be printed
    but not evaluated by sympy). ``fun_singularity`` is accepted and unused (kan_core's library
    functions are finite everywhere by construction; ``fun`` is used as given). The library is
    process-wide, as pykan's; a built-in name cannot be replaced."""
    import re

    import sympy

    from .symbolic_lib import SYMBOLIC_LIB, SymbolicFunction

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
        raise ValueError(f"name must be an identifier of ≤ 32 characters, got {name!r}")
    if name in SYMBOLIC_LIB and name not in _ADDED:
        raise ValueError(f"{name!r} is a built-in symbolic function; choose another name")
    if not callable(fun):
        raise TypeError(f"fun must be a torch function, got {type(fun).__name__}")
    if isinstance(c, bool) or not isinstance(c, int | float) or not c >= 0:
        raise ValueError(f"c (the complexity) must be a number ≥ 0, got {c!r}")
    del fun_singularity
    SYMBOLIC_LIB[name] = SymbolicFunction(name, _differentiable(fun), sympy.Function(name), c)
    _ADDED.add(name)


def _differentiable(fun):
    """``fun`` itself if autograd goes through it, else ``fun`` with a central-difference
    derivative (torch has none for some special functions, e.g. ``bessel_j0``): the symbolic
    fits and training need ``f'``."""
    import torch

    probe = torch.linspace(-1.0, 1.0, 5, requires_grad=True)
    try:
        if fun(probe).requires_grad:
            return fun
    except RuntimeError:
        pass

    class _FiniteDiff(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return fun(z)

        @staticmethod
        def backward(ctx, grad):
            (z,) = ctx.saved_tensors
            h = 1e-3 * (1.0 + z.detach().abs())
            return grad * (fun(z + h) - fun(z - h)) / (2 * h)

    return _FiniteDiff.apply


_ADDED: set[str] = set()  # names add_symbolic put in the library (they may be replaced)


class PykanExtras:
    """Mixed into ``KAN``; methods here use only ``KAN``'s public surface."""

    input_id = None  # after prune_input: the kept inputs, as columns of the original input
    input_width = None  # … and how many columns that input had

    def _select_inputs(self, x):
        """``x[:, input_id]`` when ``x`` has the original input's width (pykan's forward does
        this after ``prune_input``); anything else unchanged."""
        if (
            self.input_id is not None
            and getattr(x, "dim", lambda: 0)() == 2
            and x.shape[1] == self.input_width
        ):
            return x[:, self.input_id]
        return x

    # --- attribution (kan_core.attribution) ----------------------------------------------------
    def attribute(self, l=None, i=None, out_score=None, plot=True, x=None):
        """pykan's ``attribute``. With no ``l``: scores for the whole network, returned as
        ``(node_scores, edge_scores)`` (pykan returns nothing and keeps them on the model; here
        they are also kept, as ``node_scores_all`` / ``edge_scores_all`` / ``subnode_scores_all``
        — ``node_scores``/``edge_scores`` are kan_core's score methods). With ``l``: the inputs'
        attribution to each node of layer ``l``, ``(width_in[l], n_inputs)``, or to node ``i``
        only ``(n_inputs,)``. ``plot`` is accepted and ignored (the core draws nothing)."""
        from .attribution import attribute_all, neuron_attribution

        if l is None:
            a = attribute_all(self, x, out_score=out_score)
            self.node_scores_all = a.node_scores_all
            self.edge_scores_all = a.edge_scores_all
            self.subnode_scores_all = a.subnode_scores_all
            return a.node_scores, a.edge_scores
        scores = neuron_attribution(self, l, x)
        if i is None:
            return scores
        if not (0 <= int(i) < scores.shape[0]):
            raise IndexError(f"node ({l},{i}) out of range (layer {l} has {scores.shape[0]} nodes)")
        return scores[int(i)]

    def node_attribute(self, x=None):
        """pykan's ``node_attribute``: ``attribute(l)`` for every node layer ``l ≥ 1``, kept as
        ``node_attribute_scores`` (and returned)."""
        from .attribution import neuron_attribution

        self.node_attribute_scores = [
            neuron_attribution(self, l, x) for l in range(1, self.depth + 1)
        ]
        return self.node_attribute_scores

    def feature_interaction(self, l, neuron_th=1e-2, feature_th=1e-2, x=None):
        """pykan's ``feature_interaction``: ``{tuple of input indices: number of nodes of layer
        l that depend on exactly those inputs}``."""
        from .attribution import feature_interaction

        return feature_interaction(self, l, neuron_th, feature_th, x)

    def prune_input(self, threshold=1e-2, active_inputs=None, log_history=True, x=None):
        """pykan's ``prune_input``: a new model without the inputs whose attribution score is at
        most ``threshold`` (or keeping exactly ``active_inputs``). It accepts the original inputs
        (its ``input_id`` picks the kept columns) or the kept columns alone."""
        from .attribution import prune_input

        new = prune_input(self, threshold, active_inputs, x)
        return self._logged_as_next(new, "prune_input") if log_history else new

    # --- structure (kan_core.editing) ----------------------------------------------------------
    def expand_depth(self):
        """Append a layer of identity edges (pykan's ``expand_depth``); the function is kept."""
        from .editing import expand_depth

        expand_depth(self)

    def expand_width(self, layer_id, n_added_nodes, sum_bool=True, mult_arity=2):
        """Add nodes to a hidden layer (pykan's ``expand_width``): new sum nodes go first, new
        mult nodes last; their edges are the symbolic zero, so the function is kept."""
        from .editing import expand_width

        expand_width(self, layer_id, n_added_nodes, sum_bool, mult_arity)

    def perturb(self, mag=1.0, mode="non-intrusive"):
        """pykan's ``perturb``: splines switched on at ``mag`` where ``mode`` says (edges that
        are live symbolic functions keep only their function in kan_core)."""
        from .editing import perturb

        perturb(self, mag, mode)
        self.log_history("perturb")

    def set_mode(self, l, i, j, mode, mask_n=None):
        """pykan's ``set_mode``: ``"s"`` symbolic, ``"n"`` spline (``"ns"``: both — kan_core's
        edges are one or the other; a warning, nothing changes)."""
        from .editing import set_mode

        set_mode(self, l, i, j, mode, mask_n)

    def remove_edge(self, l, i, j, log_history=True):
        """pykan's ``remove_edge``: mask edge ``(l, i, j)``."""
        self.prune_edge(l, i, j)
        if log_history:
            self.log_history("remove_edge")

    def remove_node(self, l, i, mode="all", log_history=True):
        """pykan's ``remove_node``: mask the edges into (``"down"``), out of (``"up"``) or around
        (``"all"``) node ``(l, i)``."""
        from .editing import remove_node

        remove_node(self, l, i, mode)
        if log_history:
            self.log_history("remove_node")

    def swap(self, l, i1, i2, log_history=True):
        """Exchange two nodes of hidden layer ``l`` (pykan's ``swap``); the function is kept."""
        from .editing import swap

        swap(self, l, i1, i2)
        if log_history:
            self.log_history("swap")

    @property
    def connection_cost(self):
        """pykan's ``connection_cost`` of the attribution edge scores."""
        from .attribution import attribute
        from .editing import connection_cost

        return connection_cost(attribute(self)[1])

    def auto_swap(self, x=None):
        """pykan's ``auto_swap``: reorder hidden nodes to shorten the important connections."""
        from .editing import auto_swap

        auto_swap(self, x)
        self.log_history("auto_swap")

    # --- drawing (kan_core.plot; matplotlib is optional) --------------------------------------
    def plot(self, folder="./figures", beta=3, metric="backward", scale=0.5, tick=False,
             sample=False, in_vars=None, out_vars=None, title=None, varscale=1.0, x=None):  # fmt: skip
        """pykan's ``plot``: the network with every edge's curve, as a matplotlib figure
        (returned; nothing is written to ``folder``)."""
        from .plot import plot

        return plot(self, folder, beta, metric, scale, tick, sample, in_vars, out_vars, title,
                    varscale, x)  # fmt: skip

    def tree(self, x=None, in_var=None, style="tree", sym_th=1e-3, sep_th=1e-1,
             skip_sep_test=False, verbose=False):  # fmt: skip
        """pykan's ``tree``: the modular structure of the model's function on ``x`` (default:
        the reference input, else the last forward's) — returned as ``kan_core.hypothesis.Tree``
        (groups per level, arities, Add/Mul/Id labels) with its drawing in ``.figure`` when
        matplotlib is installed (pykan only draws it)."""
        from .hypothesis import tree

        del verbose
        return tree(self, self._x(x), in_var, style, sym_th, sep_th, skip_sep_test)

    def module(self, start_layer, chain):
        """pykan's ``module``: mask the edges between the nodes ``chain`` names (e.g.
        ``"[-1]->[-1,-2]->[-1]->[-1]"``, from layer ``start_layer``) and the rest, both ways."""
        from .editing import module

        module(self, start_layer, chain)
        self.log_history("module")
