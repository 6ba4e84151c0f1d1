"""Alt text for every figure a lesson draws, taken from what the figure shows.

:func:`describe` reads a matplotlib figure (its title, each panel's title, axis labels and
scales, and the names of what is drawn: legend entries, else line labels) and writes one
plain sentence or two. :func:`install` (called by :func:`course_utils.runtime.setup` inside
IPython) makes every PNG a notebook shows carry that text in its output metadata
(``{"image/png": {"alt": ...}}``), so the stored outputs, and the course's website built from
them, describe each figure to a reader who cannot see it.

Example:
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([1, 2], label="lr 0.1"); _ = ax.plot([2, 1], label="lr 0.01"); _ = ax.legend()
    >>> _ = ax.set(title="loss against step", xlabel="step", ylabel="loss", yscale="log")
    >>> describe(fig)
    'Figure: loss against step. Plot of loss (log scale) against step, showing lr 0.1 and lr 0.01.'
    >>> plt.close(fig)
"""
from __future__ import annotations

MAX_NAMES = 8        # names of drawn things listed per panel
MAX_PANELS = 12      # panels described in full


def _text(value) -> str:
    return " ".join(str(value or "").split())


def _names(ax) -> list:
    legend = ax.get_legend()
    if legend is not None:
        names = [_text(t.get_text()) for t in legend.get_texts()]
    else:
        names = [_text(h.get_label()) for h in list(ax.get_lines()) + list(ax.collections) + list(ax.patches)]
    return [n for n in names if n and not n.startswith("_")]


def _panel(ax) -> str:
    title, xlabel, ylabel = _text(ax.get_title()), _text(ax.get_xlabel()), _text(ax.get_ylabel())
    if ax.images and not (xlabel or ylabel or ax.get_lines()):
        return f"Image{': ' + title if title else ''}."
    y = f"{ylabel or 'a value'}{' (log scale)' if ax.get_yscale() == 'log' else ''}"
    x = f"{xlabel or 'its position'}{' (log scale)' if ax.get_xscale() == 'log' else ''}"
    parts = [f"{title}: plot" if title else "Plot", f"of {y} against {x}"]
    names = _names(ax)
    if names:
        more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        shown = names[:MAX_NAMES]
        listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        parts.append(f"showing {listed}{more}")
    return " ".join(parts[:2]) + (", " + parts[2] if len(parts) > 2 else "") + "."


def describe(fig) -> str:
    """Plain-text alt text for a matplotlib figure: its title and, for each panel, what is plotted."""
    axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison or ax.images]
    suptitle = _text(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) is not None else ""
    panels = [_panel(ax) for ax in axes[:MAX_PANELS]]
    if len(axes) > MAX_PANELS:
        panels.append(f"And {len(axes) - MAX_PANELS} more panels.")
    if len(axes) == 1 and not suptitle and _text(axes[0].get_title()):
        title = _text(axes[0].get_title())
        panels = [_panel(axes[0]).replace(f"{title}: plot", "Plot", 1)]
        suptitle = title
    head = f"Figure: {suptitle}." if suptitle else f"Figure with {len(axes)} panel{'s' if len(axes) != 1 else ''}."
    if len(axes) > 1:
        panels = [f"Panel {i + 1}: {p}" for i, p in enumerate(panels)]
    return " ".join([head] + panels)


def install(shell=None) -> bool:
    """Make IPython's PNG output of matplotlib figures carry :func:`describe`'s text as ``alt`` metadata.

    Returns ``False`` (and does nothing) outside IPython or where figures are not shown as PNG.
    Calling it again does not wrap twice.
    """
    try:
        import matplotlib
        import matplotlib.pyplot as plt
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return False
    shell = shell or get_ipython()
    if shell is None:
        return False
    if not getattr(plt, "get_fignums", lambda: [])():
        try:  # load the backend now (matplotlib loads it at the first figure), so the inline backend
            # registers its PNG formatter before this wraps it, not after (which would undo the wrap)
            plt.switch_backend(matplotlib.get_backend())
        except Exception:  # noqa: BLE001 - no usable backend: leave figures as they are
            return False
    formatter = shell.display_formatter.formatters.get("image/png")
    if formatter is None:
        return False
    try:
        current = formatter.lookup_by_type(Figure)
    except KeyError:
        return False
    if getattr(current, "_course_alt_text", False):
        return True

    def png_with_alt(fig):
        data = current(fig)
        if data is None:
            return None
        metadata = {}
        if isinstance(data, tuple) and len(data) == 2:
            data, metadata = data
        return data, dict(metadata or {}, alt=describe(fig))

    png_with_alt._course_alt_text = True
    formatter.for_type(Figure, png_with_alt)
    return True
