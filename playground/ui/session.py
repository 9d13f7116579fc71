"""The Bokeh document of a `panel serve` session, and running code under its lock.

Under a Bokeh server, models may only change while the session's document lock is held; in
Pyodide, Jupyter and tests there is no such lock (``server_doc()`` is None) and code just runs.
:class:`Document` is what a Trainer runs its chunks through (``trainer_controls`` hands it over).
"""
from __future__ import annotations

import asyncio
import functools

__all__ = ["server_doc", "locked", "document_safe", "Document"]


def server_doc():
    """The Bokeh document of this `panel serve` session, or None (Pyodide, Jupyter, tests).

    Under a Bokeh server, models may only change while the session's document lock is held:
    code in an asyncio task does not hold it, so the Trainer runs each chunk as a
    next-tick callback (which Bokeh runs with the lock) and awaits it."""
    try:
        from panel.io.state import state
    except Exception:  # pragma: no cover - Panel is always there for the apps
        return None
    doc = state.curdoc
    if doc is None or doc.session_context is None or getattr(state, "_is_pyodide", False):
        return None
    return doc


async def locked(fn, *args):
    """Run ``fn(*args)`` holding the session's document lock (or directly without a server)."""
    doc = server_doc()
    if doc is None:
        return fn(*args)
    fut = asyncio.get_running_loop().create_future()

    def callback():
        if fut.done():
            return
        doc.hold("combine")  # one patch message for everything this chunk changed
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # handed to the awaiting task
            fut.set_exception(e)
        finally:
            doc.unhold()

    doc.add_next_tick_callback(callback)
    return await fut


def document_safe(fn):
    """Decorator for callbacks that change Bokeh models (``source.data = ...``).

    Panel runs most widget callbacks holding the session's document lock, but not all: a
    ``TextInput``'s Enter key arrives as an event that Panel handles without it, and Bokeh
    then refuses the change ("_pending_writes should be non-None ..."), so the plot never
    updates. Panel's ``unlocked()`` sends the changes itself and works with or without the
    lock; outside a server (tests, Pyodide, Jupyter) ``fn`` just runs."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if server_doc() is None:
            return fn(*args, **kwargs)
        from panel.io.document import unlocked
        with unlocked():
            return fn(*args, **kwargs)
    return wrapper


class Document:
    """A Trainer's ``session`` in a page: each chunk holds the document lock (``locked``),
    a control's call can change models from any callback (``call``), and ``serving`` says
    whether a server sits between the Python and the browser."""

    async def locked(self, fn, *args):
        return await locked(fn, *args)

    def call(self, fn, *args):
        return document_safe(fn)(*args)

    def serving(self) -> bool:
        """Under `panel serve` the browser talks back after every chunk: every plot whose
        ``DataRange1d`` follows streamed data sends its new start/end, and clicks (Pause!)
        queue behind those. Tornado reads one websocket message at a time, and each needs
        the document lock and a few loop turns, so a bare ``sleep(0)`` lets about one
        message through per chunk: the backlog grows without bound, text and Pause lag
        ever further behind. The Trainer leaves a short idle gap then, which drains it every
        time. (In Pyodide each message is its own JavaScript task: ``sleep(0)`` is enough.)"""
        return server_doc() is not None
