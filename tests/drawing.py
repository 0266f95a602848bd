"""Draw a matplotlib figure off screen for layout tests (a closed figure gets an Agg canvas)."""

from matplotlib.backends.backend_agg import FigureCanvasAgg


def drawn(figure):
    """The figure laid out and drawn, with its renderer: window extents are final only after a draw."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return figure, canvas.get_renderer()
