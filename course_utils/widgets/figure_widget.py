"""The plumbing every explorer of the course shares: controls, a numbers panel and a figure.

An explorer subclasses :class:`FigureWidget` and supplies three things:

* ``make_controls()`` -- the ipywidgets controls, as ``{name: control}``; a control's ``value``
  is passed to ``update`` under its name;
* ``update(**values)`` -- recompute for the new values, move the figure's artists, store the
  result in ``self.state`` and return it (it must not touch ipywidgets, so tests call it
  without a front end);
* ``describe(state)`` -- the numbers panel as a short HTML string, a pure function of the state.

The figure is a bare ``matplotlib.figure.Figure`` with an Agg canvas (nothing global, never
displayed by Jupyter on its own), rendered to PNG into an ``ipywidgets.Image``. Only widgets
that exist in ipywidgets 7.x (Colab) and 8.x are used.

Example:
    >>> class Square(FigureWidget):
    ...     def __init__(self):
    ...         super().__init__(figsize=(3, 2))
    ...         self.ax = self.fig.subplots()
    ...         (self.line,) = self.ax.plot([0, 1], [0, 1])
    ...         self.update(a=1.0)
    ...     def make_controls(self):
    ...         import ipywidgets
    ...         return {"a": ipywidgets.FloatSlider(value=self.state, min=0, max=2, description="a")}
    ...     def update(self, a):
    ...         self.line.set_data([0, 1], [0, a])
    ...         self.state = a
    ...         self.refresh()
    ...         return a
    ...     def describe(self, state):
    ...         return f"a = {state:.2f}"
    >>> square = Square()
    >>> box = square.widget              # builds the controls and renders once
    >>> square.controls["a"].value = 1.5  # what moving the slider does
    >>> square.state, square.numbers.value
    (1.5, 'a = 1.50')
"""
from __future__ import annotations

import io


def show_log_losses(line, ax, losses, *, low: float, high: float) -> None:
    """Move ``line`` (on the log-y axes ``ax``) to the per-step ``losses`` and frame them.

    Losses are clipped to ``[low, high]``, so a diverging run leaves the plot instead of breaking
    the log scale; the y range spans the curve with a factor 3 of room either side.
    """
    import numpy as np

    shown = np.clip(losses, low, high)
    line.set_data(np.arange(len(shown)), shown)
    ax.set_ylim(max(shown.min(), low) / 3, max(shown.max(), shown[0]) * 3)


class FigureWidget:
    """Base class of the course's explorers: ``widget`` is the box to display (see the module doc)."""

    def __init__(self, figsize=(9.5, 4.0), dpi: int = 80):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.dpi = int(dpi)
        self.fig = Figure(figsize=figsize)
        FigureCanvasAgg(self.fig)
        self.state = None
        self.controls: dict = {}
        self.numbers = None   # ipywidgets.HTML once the widget is built
        self.image = None     # ipywidgets.Image once the widget is built
        self._box = None

    # -- what a subclass supplies ---------------------------------------------------------
    def make_controls(self) -> dict:
        """``{name: ipywidgets control}``; each control's value goes to ``update`` under ``name``."""
        raise NotImplementedError

    def update(self, **values):
        """Recompute for ``values``, move the artists, set ``self.state``, call ``self.refresh()``; return the state."""
        raise NotImplementedError

    def describe(self, state) -> str:
        """The numbers panel for ``state``, as HTML."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def png(self) -> bytes:
        """The figure as PNG bytes (what the widget shows)."""
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def refresh(self) -> None:
        """Show the current figure and numbers, if the widget has been built (a no-op before)."""
        if self._box is not None:
            self.image.value = self.png()
            self.numbers.value = self.describe(self.state)

    def _on_change(self, _change=None) -> None:
        self.update(**{name: control.value for name, control in self.controls.items()})

    @property
    def widget(self):
        """The ipywidgets box: the controls in a row, the numbers, the figure."""
        if self._box is None:
            import ipywidgets

            self.controls = dict(self.make_controls())
            self.numbers = ipywidgets.HTML(value="")
            self.image = ipywidgets.Image(value=b"", format="png")
            self._box = ipywidgets.VBox([ipywidgets.HBox(list(self.controls.values())), self.numbers, self.image])
            for control in self.controls.values():
                control.observe(self._on_change, names="value")
            self._on_change()
        return self._box

    def _ipython_display_(self):  # the explorer alone on a cell's last line shows the widget
        from IPython.display import display

        display(self.widget)
