"""Lessons on CPython: format, checkers (reference passes, every known mistake gets its own hint),
widget directives, links, and the rendered Panel page (exercise -> progress)."""
import re

import numpy as np
import pytest

from playground.lessons import format as L
from playground.lessons.exercises import registry as E
from playground.lessons.page import lesson_page
from playground.lessons.progress import PROGRESS_KEY, index_progress_script
from playground.lessons.widgets import WIDGETS

SLUGS = L.lesson_slugs()
LESSONS = {s: L.load_lesson(s) for s in SLUGS}
CODE = [e for e in E.EXERCISES.values() if e.kind == "code"]
WRONG = [(e.id, mid) for e in CODE for mid in e.wrong_answers]


def test_ten_lessons_in_order_with_a_next_path():
    assert len(SLUGS) == 10
    idx = L.lesson_index()
    assert [d["order"] for d in idx] == list(range(1, 11))
    for a, b in zip(idx, idx[1:]):
        assert a["next"] == b["slug"], a["slug"]
    assert idx[-1]["next"] == ""


@pytest.mark.parametrize("slug", SLUGS)
def test_front_matter(slug):
    les = LESSONS[slug]
    assert re.fullmatch(r"\d\d-[a-z0-9-]+", slug)
    assert int(slug[:2]) == les.meta["order"]
    assert set(les.meta) == L.FRONT_KEYS
    assert les.meta["summary"] and len(les.meta["summary"]) < 200
    # the site's index takes the title from the first '# ' heading: keep them equal
    assert re.search(r"^#\s+(.+)$", les.body, re.M).group(1).strip() == les.title
    assert les.exercises, "every lesson has at least one exercise"


def test_bad_front_matter_is_refused_with_a_reason():
    with pytest.raises(L.LessonError, match="front-matter"):
        L.parse_lesson("# no front matter\n", "x")
    with pytest.raises(L.LessonError, match="lacks"):
        L.parse_lesson("---\ntitle: t\n---\n# t\n", "x")
    with pytest.raises(L.LessonError, match="order"):
        L.parse_lesson("---\ntitle: t\nsummary: s\norder: one\nnext:\n---\n# t\n", "x")


@pytest.mark.parametrize("slug", SLUGS)
def test_directives_map_to_real_widgets_and_exercises(slug):
    les = LESSONS[slug]
    for name, kwargs in les.widgets:
        assert name in WIDGETS, f"{slug}: unknown widget {name}"
        assert set(kwargs) <= WIDGETS[name].params, f"{slug}: {name} does not take {set(kwargs)}"
    for ex in les.exercises:
        assert ex in E.EXERCISES, f"{slug}: unknown exercise {ex}"
    # no directive left unparsed (a typo such as '{{ widgte: ...}}' would show up as text)
    assert "{{" not in "".join(s[1] for s in les.segments if s[0] == "md")


def test_every_exercise_is_used_once():
    used = [e for les in LESSONS.values() for e in les.exercises]
    assert sorted(used) == sorted(E.EXERCISES)


def test_links_are_not_broken():
    assert L.check_links() == []


def test_link_checker_catches_broken_links(tmp_path, monkeypatch):
    text = (L.lessons_dir() / SLUGS[0]).with_suffix(".md").read_text()
    (tmp_path / SLUGS[0]).with_suffix(".md").write_text(
        text + "\n[x](99-nope.md) [y](app:nope) [z](#nowhere) [w](missing.png)\n")
    monkeypatch.setenv("DESCENT_LESSONS", str(tmp_path))
    bad = {(t, why) for _, t, why in L.check_links()}
    assert ("99-nope.md", "no such lesson") in bad and ("app:nope", "no such app") in bad
    assert ("#nowhere", "no such heading in this lesson") in bad and ("missing.png", "no such file") in bad
    assert any(t.startswith("next:") for t, _ in bad)  # the next lesson isn't there either


def test_link_rewriting_per_mode():
    md = "[n](02-gradient-descent.md#too-big-too-small) [a](app:gan) [e](https://x.org)"
    assert L.rewrite_links(md, "site") == ("[n](02-gradient-descent.html#too-big-too-small) "
                                           "[a](../gan.html) [e](https://x.org)")
    assert "(/02-gradient-descent#" in L.rewrite_links(md, "serve")
    assert "(?lesson=02-gradient-descent#" in L.rewrite_links(md, "query")


# ------------------------------------------------------------------ checkers

@pytest.mark.parametrize("ex_id", sorted(E.EXERCISES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_solution_passes(ex_id, seed):
    ex = E.EXERCISES[ex_id]
    if ex.kind == "code":
        res = ex.check(ex.solution, seed=seed)
    elif ex.kind == "choice":
        res = ex.check(ex.options[ex.answer])
    else:
        res = ex.check(ex.solution)
    assert res.ok and res.diagnosis == "correct", res.message
    assert res.message.startswith("**Correct!**")


@pytest.mark.parametrize("ex_id,mistake", WRONG)
@pytest.mark.parametrize("seed", [0, 7])
def test_each_known_mistake_gets_its_own_hint(ex_id, mistake, seed):
    ex = E.EXERCISES[ex_id]
    res = ex.check(ex.wrong_answers[mistake], seed=seed)
    assert not res.ok
    assert res.diagnosis == mistake, res.message
    hint = next(m.hint for m in ex.mistakes if m.id == mistake)
    assert hint in res.message


def test_every_code_mistake_has_wrong_code_and_vice_versa():
    for ex in CODE:
        assert set(ex.wrong_answers) == {m.id for m in ex.mistakes}, ex.id
        assert len({m.hint for m in ex.mistakes}) == len(ex.mistakes), f"{ex.id}: hints must differ"
        assert ex.hint and ex.starter and ex.solution


def test_starter_code_is_not_accepted():
    for ex in CODE:
        res = ex.check(ex.starter)
        assert not res.ok, ex.id


def test_choice_and_number_wrong_answers_explain_themselves():
    for ex in E.EXERCISES.values():
        if ex.kind == "choice":
            for i, _ in enumerate(ex.options):
                if i != ex.answer:
                    res = ex.check(ex.options[i])
                    assert not res.ok and ex.explanations[i] in res.message, (ex.id, i)
        elif ex.kind == "number":
            for m in ex.mistakes:
                res = ex.check(str(m.value))
                assert res.diagnosis == m.id and m.hint in res.message, (ex.id, m.id)
            assert ex.check("not a number").diagnosis == "nan"
            assert ex.check(f"{ex.answer:,.0f}").ok  # "235,146" is accepted


def test_an_empty_answer_asks_for_one_and_is_not_credited():
    for ex in E.EXERCISES.values():
        if ex.kind == "choice":
            for empty in (None, ""):
                res = ex.check(empty)
                assert not res.ok and res.diagnosis == "empty" and "Pick an answer first" in res.message
        elif ex.kind == "number":
            for empty in (None, "", "   "):
                res = ex.check(empty)
                assert not res.ok and res.diagnosis == "empty", (ex.id, empty)
                assert res.message == "Type a number first.", res.message
            assert ex.check("twelve").message == "`twelve` is not a number."
            for odd in ("nan", "inf", "-1e999"):  # float() takes them; they are no answer
                assert ex.check(odd).diagnosis == "nan" and "not a finite number" in ex.check(odd).message


def test_right_answers_do_not_all_sit_in_one_place():
    # a learner who always picks the same option must not pass most questions
    answers = [ex.answer for ex in E.EXERCISES.values() if ex.kind == "choice"]
    assert len(answers) >= 4
    assert max(answers.count(i) for i in set(answers)) <= len(answers) // 2, answers


def test_errors_report_the_line_and_endless_loops_time_out(monkeypatch):
    ex = E.get("sgd-step")
    res = ex.check("def step(w, grad, lr):\n    new = w - lr * gradd\n    return new\n")
    assert res.diagnosis == "error" and "line 2" in res.message and "NameError" in res.message
    res = ex.check("def step(w, grad, lr)\n    return w\n")
    assert "SyntaxError" in res.message and "line 1" in res.message
    res = ex.check("def stepp(w, grad, lr):\n    return w\n")
    assert res.diagnosis == "missing" and "`step`" in res.message
    from playground.lessons.exercises import kinds
    monkeypatch.setattr(kinds, "TIME_LIMIT", 0.3)  # the limit a checked call runs under
    res = ex.check("def step(w, grad, lr):\n    while True:\n        w = w + 1\n")
    assert res.diagnosis == "timeout" and "line" in res.message
    res = ex.check("print('hello')\ndef step(w, grad, lr):\n    return w - lr * grad\n")
    assert res.ok and "hello" in res.output


def test_shape_and_arity_mistakes_are_named():
    res = E.get("mul-backward").check("def mul_backward(a, b, grad):\n    return grad * b\n")
    assert res.diagnosis == "arity"
    res = E.get("two-layer-forward").check(
        "def forward(X, W1, b1, W2, b2):\n    return (np.maximum(X @ W1 + b1, 0) @ W2 + b2).ravel()\n")
    assert res.diagnosis == "shape" and "shape" in res.message


def test_fresh_cases_each_check():
    ex = E.get("line-gradients")
    a, b = ex.cases(np.random.default_rng()), ex.cases(np.random.default_rng())
    assert not np.array_equal(a[0][2], b[0][2]) or len(a[0][2]) != len(b[0][2])


# ------------------------------------------------------------------ the rendered page

def test_lesson_page_renders_and_solving_marks_progress():
    page = lesson_page("03-backprop-is-the-chain-rule")
    assert "autograd" in page.widgets and set(page.exercises) == {"mul-backward", "tanh-backward",
                                                                  "finite-difference"}
    store = page.progress.store
    for ex_id, box in page.exercises.items():
        c = box.controls
        c["editor"].value = E.get(ex_id).wrong_answers[next(iter(E.get(ex_id).wrong_answers))]
        c["check"].clicks += 1
        assert c["feedback"].visible and "Not yet" in c["feedback"].object
        assert not page.progress.solved(ex_id)
        c["use_solution"].clicks += 1
        c["check"].clicks += 1
        assert "Correct!" in c["feedback"].object and page.progress.solved(ex_id)
        assert "solved" in c["badge"].object
    ids = {r["id"] for r in store.items}
    assert "lesson:03-backprop-is-the-chain-rule" in ids and page.progress.done()
    assert "Lesson complete" in page.objects[0].objects[1].object
    # the Run button prints the example call
    c = page.exercises["mul-backward"].controls
    c["run"].clicks += 1
    assert "mul_backward(2, -3, 1) = (-3, 2)" in c["output"].object


def test_choice_exercise_on_the_page_and_next_link():
    page = lesson_page("02-gradient-descent", links="site")
    ex, c = E.get("lr-too-big"), page.exercises["lr-too-big"].controls
    assert c["answer"].value is None  # nothing chosen at the start, in Python and in the browser
    assert c["answer"].get_root().active is None
    c["check"].clicks += 1
    assert "Pick an answer first" in c["feedback"].object and not page.progress.solved("lr-too-big")
    assert page.progress.counts()[0] == 0 and not page.progress.store.items
    c["answer"].value = ex.options[1]
    c["check"].clicks += 1
    assert "overshoot" in c["feedback"].object and not page.progress.solved("lr-too-big")
    c["answer"].value = ex.options[ex.answer]
    c["check"].clicks += 1
    assert page.progress.solved("lr-too-big")
    md = [o.object for o in page.objects if hasattr(o, "object") and isinstance(o.object, str)]
    assert any("(03-backprop-is-the-chain-rule.html)" in m for m in md)


def test_lesson_page_from_text_without_files(monkeypatch, tmp_path):
    """The browser build passes the Markdown in; no lessons/ folder is needed."""
    text = (L.lessons_dir() / "02-gradient-descent.md").read_text()
    monkeypatch.setenv("DESCENT_LESSONS", str(tmp_path))
    page = lesson_page("02-gradient-descent", text=text, links="site", index=[])
    assert page.lesson.title.startswith("Gradient descent")


@pytest.mark.parametrize("slug", SLUGS)
def test_every_lesson_builds_its_widgets(slug):
    page = lesson_page(slug)
    assert set(page.widgets) == {n for n, _ in LESSONS[slug].widgets}


def test_line_fit_diverges_with_a_big_learning_rate():
    from playground.lessons.widgets import LineFit
    good, bad = LineFit(lr=0.1), LineFit(lr=1.05)
    for _ in range(40):
        good.step(), bad.step()
    assert good.loss() < 0.1 < good.history[0] < bad.loss()


def test_index_progress_script_lists_every_lesson():
    js = index_progress_script()
    for s in SLUGS:
        assert f'"{s}"' in js
    assert PROGRESS_KEY in js


def test_index_progress_script_ships_in_the_wheel():
    """The script is a .js file read at run time: pyproject's package-data must carry it."""
    import fnmatch
    import tomllib
    from pathlib import Path

    from playground.lessons import progress
    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    rel = progress.SCRIPT.relative_to(root)
    assert any(fnmatch.fnmatch(str(rel), str(Path(*pkg.split("."), pat)))
               for pkg, pats in data.items() for pat in pats), rel


def test_exercise_registry_rejects_a_duplicate_id():
    first = E.get("mul-backward")
    twin = E.get("sgd-step")
    assert E.by_id({"a": [first], "b": [twin]}) == {"mul-backward": first, "sgd-step": twin}
    with pytest.raises(ValueError, match=r"'mul-backward' is used twice: in a and in b"):
        E.by_id({"a": [first], "b": [twin, first]})


def test_exercise_registry_holds_every_bank_module_in_order():
    ids = [ex.id for m in E.BANK for ex in m.EXERCISES]
    assert list(E.EXERCISES) == ids and len(set(ids)) == len(ids)


def test_every_app_of_the_registry_is_a_widget_and_a_route():
    from playground.apps.registry import APPS
    from playground.lessons.widgets import AT_STATE
    slugs = {a.slug for a in APPS}
    assert slugs <= set(WIDGETS) and set(AT_STATE) <= slugs
