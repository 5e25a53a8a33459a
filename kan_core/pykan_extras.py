"""pykan's less common ``KAN`` methods (the tutorials' one-notebook calls), as a mixin of ``KAN``.

Kept apart from ``model.py`` so the core model stays small; each method is a thin front door to a
function in this module or another ``kan_core`` module.
"""

from __future__ import annotations

__all__ = ["PykanExtras"]


class PykanExtras:
    """Mixed into ``KAN``; methods here use only ``KAN``'s public surface."""

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

        del log_history  # (version history is the model's own business)
        return prune_input(self, threshold, active_inputs, x)
