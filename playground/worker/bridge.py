"""Panel's page <-> worker messages (rendered, patch, location), applied one at a time, in order.

Panel's own worker keeps each incoming patch in one Python global, starts runPythonAsync without
awaiting it and answers "idle" at once; while Python is busy (training) the next patch overwrites
the global before the first one ran, and a click (Pause!) is lost. site/templates/worker.js
instead queues the messages and awaits one of these per message, its data as an argument
(sitebuild.postprocess checks that Panel's worker handles exactly these three).
"""
import json

from panel.io.pyodide import _convert_json_patch, _link_docs_worker
from panel.io.state import state
from panel.util import edit_readonly

from playground.ui.page import AFTER_RENDER


def rendered(send_patch):
    """The page has drawn the document: from now on its changes go out through
    send_patch(patch, buffers, msg_id); then what the app left for after the render runs."""
    _link_docs_worker(state.curdoc, send_patch, setter="js")
    for fn in state.cache.pop(AFTER_RENDER, []):
        fn()


def patch(msg):
    """A change made in the page (a click, a value), applied to the worker's document."""
    state.curdoc.apply_json_patch(_convert_json_patch(msg), setter="js")


def location(msg):
    """The page's address (JSON of pathname, search, hash...) into pn.state.location."""
    if state.location:
        loc = json.loads(msg)
        with edit_readonly(state.location):
            state.location.param.update({k: v for k, v in loc.items() if k in state.location.param})
