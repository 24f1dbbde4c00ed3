"""Pictures: ``draw_dot`` (graphviz drawings of scalar and tensor graphs) and matplotlib plots.

Only the drawing is imported here; the matplotlib modules (``viz.boundary``, ``viz.loss``) are imported
where they are used, so that ``import ninjagrad`` does not pay for matplotlib.
"""

from ninjagrad.viz.dot import Drawing, draw_dot, save

__all__ = ["Drawing", "draw_dot", "save"]
