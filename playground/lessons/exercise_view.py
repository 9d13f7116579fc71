"""The Panel view of one exercise (its state and checking live in ``exercises``)."""
from __future__ import annotations

from .progress import Progress

FEEDBACK = {True: "success", False: "warning"}


def row(*objs):
    """A row that wraps on a phone."""
    from playground.ui.layout import wrap_row
    return wrap_row(*objs, sizing_mode="stretch_width")


def exercise_view(ex, progress: Progress):
    """One exercise's box: prompt, answer (editor or choice), Check, hint, solution; ``box.controls``
    names its widgets (tests press them). A correct answer marks it solved in ``progress``."""
    import panel as pn
    badge = pn.pane.Markdown("", margin=(0, 5), css_classes=["descent-ex-badge"], styles={"color": "#1a7f37"})
    title = pn.pane.Markdown(f"### ✎ {ex.title}", margin=(0, 5))
    prompt = pn.pane.Markdown(ex.prompt, margin=(0, 5), sizing_mode="stretch_width")
    feedback = pn.pane.Alert("", alert_type="light", visible=False, sizing_mode="stretch_width",
                             css_classes=["descent-feedback"])
    hint_md = pn.pane.Markdown(f"**Hint:** {ex.hint}", visible=False, margin=(0, 5))
    hint_b = pn.widgets.Button(label="Hint", width=80)
    sol_b = pn.widgets.Button(label="Show solution", width=120)
    check_b = pn.widgets.Button(label="Check", color="primary", width=90)
    hint_b.on_click(lambda e: setattr(hint_md, "visible", not hint_md.visible))

    def show(res):
        feedback.object = res.message
        feedback.alert_type = FEEDBACK[bool(res.ok)] if res.diagnosis != "error" else "danger"
        feedback.visible = True
        if res.ok and res.diagnosis == "correct":
            progress.mark(ex.id)

    def sync_badge():
        badge.object = "✓ **solved**" if progress.solved(ex.id) else ""

    progress.on_change(sync_badge)
    items = [row(title, badge), prompt]
    if ex.kind == "code":
        # soft tabs: Ace indents with spaces, like the starter code (Panel's default, a tab
        # after `def f(x):`, mixed with the starter's spaces is a TabError)
        editor = pn.widgets.CodeEditor(value=ex.starter, language="python", theme="chrome",
                                       soft_tabs=True, indent=4,
                                       height=max(120, 22 * (ex.starter.count("\n") + 3)),
                                       sizing_mode="stretch_width")
        run_b = pn.widgets.Button(label="Run", width=80)
        output = pn.pane.Markdown("", visible=False, margin=(0, 5), sizing_mode="stretch_width")
        sol_md = pn.pane.Markdown(f"```python\n{ex.solution}```", visible=False, margin=(0, 5))
        use_b = pn.widgets.Button(label="Put the solution in the editor", visible=False, width=240)

        def do_run(_):
            res = ex.run(editor.value)
            output.object = f"```\n{res.output.rstrip() or '(nothing printed)'}\n```" if res.output else ""
            output.visible = bool(res.output)
            show(res)

        def do_check(_):
            res = ex.check(editor.value)
            output.object = f"```\n{res.output.rstrip()}\n```" if res.output.strip() else ""
            output.visible = bool(res.output.strip())
            show(res)

        def do_sol(_):
            sol_md.visible = use_b.visible = not sol_md.visible

        run_b.on_click(do_run)
        check_b.on_click(do_check)
        sol_b.on_click(do_sol)
        use_b.on_click(lambda e: setattr(editor, "value", ex.solution))
        items += [editor, row(run_b, check_b, hint_b, sol_b), output, feedback, hint_md, sol_md, use_b]
        controls = dict(editor=editor, run=run_b, check=check_b, output=output, use_solution=use_b)
    else:
        if ex.kind == "choice":
            answer = pn.widgets.RadioBoxGroup(options=list(ex.options), inline=False)
            answer.value = None  # Panel starts on the first option: a question starts unanswered
        else:
            answer = pn.widgets.TextInput(placeholder="a number", width=200)
        sol_md = pn.pane.Markdown(f"**Answer:** {ex.solution}", visible=False, margin=(0, 5))
        check_b.on_click(lambda e: show(ex.check(answer.value)))
        sol_b.on_click(lambda e: setattr(sol_md, "visible", not sol_md.visible))
        items += [answer, row(check_b, hint_b, sol_b), feedback, hint_md, sol_md]
        controls = dict(answer=answer, check=check_b)
    box = pn.Column(*items, sizing_mode="stretch_width", css_classes=["descent-exercise"],
                    styles={"border": "1px solid #d8dde6", "border-radius": "8px", "padding": "4px 8px",
                            "background": "#fbfcfe", "min-width": "0"}, margin=(10, 5))
    box.controls = dict(feedback=feedback, hint=hint_b, solution=sol_b, badge=badge, **controls)
    return box
