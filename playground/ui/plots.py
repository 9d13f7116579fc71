"""`figure()` for the apps: bokeh.plotting.figure with auto-ranges that stay in the browser."""
from bokeh.models import DataRange1d
from bokeh.plotting import figure as _figure


def figure(**kw):
    """bokeh.plotting.figure whose DataRange1d axes do not report back to Python.

    An auto-range that follows streamed data recomputes its start/end in the browser after
    every chunk and, by default, sends both back: about 15 messages a second while training,
    each a patch the Python side must apply, queued in front of the learner's clicks (Pause).
    Python never reads them, so they are not synced (`syncable=False`)."""
    fig = _figure(**kw)
    for r in (fig.x_range, fig.y_range):
        if isinstance(r, DataRange1d):
            r.syncable = False
    return fig
