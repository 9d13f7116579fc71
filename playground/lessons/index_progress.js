// The site's index: mark each lesson link <a href="PREFIX + SLUG.html"> with the learner's
// progress read from localStorage ("✓ done", or "k / n exercises").
// lessons: {slug: ["exercise:ID", ...]}; key: the localStorage key (progress.PROGRESS_KEY).
function markLessonProgress(lessons, key, prefix) {
  let ids = new Set();
  try { ids = new Set((JSON.parse(localStorage.getItem(key) || "[]") || [])
                      .map((r) => r && r.id)); } catch (e) {}
  for (const [slug, exs] of Object.entries(lessons)) {
    const a = document.querySelector(`a[href="${prefix}${slug}.html"]`);
    if (!a) continue;
    const k = exs.filter((e) => ids.has(e)).length;
    const tag = document.createElement("span");
    tag.className = "descent-lesson-progress";
    tag.style.cssText = "margin-left:.5em;font-size:.85em;color:" + (ids.has("lesson:" + slug) ? "#1a7f37" : "#777");
    tag.textContent = ids.has("lesson:" + slug) ? "✓ done" : (k ? `${k} / ${exs.length} exercises` : "");
    a.after(tag);
  }
}
