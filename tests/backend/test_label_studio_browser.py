"""Offsets as Label Studio's front end counts them, checked in a real browser.

Label Studio's docs and old issues (label-studio#1347, #4988, #539) say the front end counts
`start`/`end` in UTF-16 code units. Label Studio 1.23.2 does not: this test shows that predictions
in Python code points land on the right characters after emoji, and that a region drawn in the UI
comes back in code points, so the backend needs no conversion. Needs Chromium (/usr/bin/chromium)
and playwright; deselect with -m 'not browser'.
"""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

from reversener.devtools.stack import LS_PASSWORD, LS_TOKEN, LS_USER

from .conftest import LABEL_CONFIG

pytestmark = [pytest.mark.label_studio, pytest.mark.browser, pytest.mark.timeout(600)]

TEXT = "🎉🎉 Zoë visited Köln with Anna. 👩‍👩‍👧 Mia met Kai."
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def page(label_studio):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{label_studio}/user/login", timeout=60_000)
        page.fill('input[name="email"]', LS_USER)
        page.fill('input[name="password"]', LS_PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_load_state("networkidle", timeout=60_000)
        yield page
        browser.close()


def _open_task(page, label_studio: str, project: int, task: int) -> None:
    page.goto(f"{label_studio}/projects/{project}/data?tab=1&task={task}", timeout=60_000)
    page.wait_for_selector(".htx-highlight, .lsf-main-view", timeout=60_000)
    page.wait_for_timeout(2000)


def _highlights(page) -> list[str]:
    return page.eval_on_selector_all(".htx-highlight", "els => els.map(e => e.textContent)")


def _drag_over(page, word: str) -> None:
    """Select `word` in the labeling editor with the mouse, as a person would."""
    box = page.evaluate("""(word) => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      let node, found = null;
      while ((node = walker.nextNode())) {
        const i = node.textContent.indexOf(word);
        if (i >= 0) { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + word.length);
                      const b = r.getBoundingClientRect(); found = {x: b.x, y: b.y, w: b.width, h: b.height}; }
      }
      return found;  // the last match sits in the editor, not in the task list
    }""", word)
    page.mouse.move(box["x"] + 1, box["y"] + box["h"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["w"] - 1, box["y"] + box["h"] / 2, steps=5)
    page.mouse.up()


def test_offsets_after_emoji_match_between_python_and_the_label_studio_front_end(label_studio, ls_backend, page):
    api = httpx.Client(base_url=label_studio, headers={"Authorization": f"Token {LS_TOKEN}"}, timeout=120)
    project = api.post("/api/projects", json={"title": "offsets", "label_config": LABEL_CONFIG}).json()["id"]
    api.post(f"/api/projects/{project}/import", json=[{"text": TEXT}])
    api.post("/api/ml", json={"project": project, "url": ls_backend["url"], "title": "reversener"})
    api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}",
             json={"selectedItems": {"all": True, "excluded": []}})
    [task] = api.get("/api/tasks", params={"project": project}).json()["tasks"]
    [prediction] = api.get("/api/predictions", params={"task": task["id"]}).json()
    predicted = sorted((r["value"]["start"], r["value"]["end"]) for r in prediction["result"])
    assert predicted == [(TEXT.index("Köln"), TEXT.index("Köln") + 4), (TEXT.index("Anna"), TEXT.index("Anna") + 4)]

    _open_task(page, label_studio, project, task["id"])
    assert sorted(_highlights(page)) == ["Anna", "Köln"]  # the predicted offsets land on the right words

    page.keyboard.press("1")  # the first label, PER
    _drag_over(page, "Kai")
    assert "Kai" in _highlights(page)
    page.get_by_role("button", name="Submit").click()
    deadline = time.monotonic() + 30
    annotations = []
    while time.monotonic() < deadline and not annotations:
        annotations = api.get(f"/api/tasks/{task['id']}/annotations").json()
        time.sleep(0.5)
    drawn = [r["value"] for r in annotations[0]["result"] if r["value"]["labels"] == ["PER"]
             and r["value"]["text"] == "Kai"]
    kai = TEXT.index("Kai")  # 42 in code points; UTF-16 would say 47
    assert [(v["start"], v["end"]) for v in drawn] == [(kai, kai + 3)]


def test_a_label_changed_in_the_editor_is_the_label_of_that_name_in_the_next_task(label_studio, page,
                                                                                    tmp_path_factory):
    """An annotator relabels a predicted region in the editor and submits; after the next Retrieve
    predictions another task shows the name with that label, and the region says where it came from."""
    from reversener.devtools import stack
    from reversener.devtools.fake_openai import FakeOpenAIServer

    from .test_memory import wrong_about_paris_and_may

    api = httpx.Client(base_url=label_studio, headers={"Authorization": f"Token {LS_TOKEN}"}, timeout=120)
    project = api.post("/api/projects", json={"title": "memory", "label_config": LABEL_CONFIG}).json()["id"]
    texts = ["The talks in Paris resumed on Monday.", "Anna flew to Paris with Bob."]
    api.post(f"/api/projects/{project}/import", json=[{"text": t} for t in texts])
    tasks = {t["data"]["text"]: t["id"] for t in api.get("/api/tasks", params={"project": project}).json()["tasks"]}
    retrieve = {"selectedItems": {"all": True, "excluded": []}}
    env = {"LLM_MODEL": "openai/fake", "LLM_API_KEY": "sk-test", "LABEL_STUDIO_URL": label_studio,
           "LABEL_STUDIO_API_KEY": LS_TOKEN, "FEATURE_SENTENCES": "2"}
    with FakeOpenAIServer(wrong_about_paris_and_may) as llm, \
            stack.backend(tmp_path_factory.mktemp("memory-browser"), env | {"LLM_API_BASE": llm.api_base}) as url:
        api.post("/api/ml", json={"project": project, "url": url, "title": "reversener"})
        api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}", json=retrieve)
        _open_task(page, label_studio, project, tasks[texts[0]])
        page.locator(".htx-highlight", has_text="Paris").first.click()
        page.get_by_text("LOC", exact=True).first.click()
        page.get_by_role("button", name="Submit").click()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not httpx.get(f"{url}/memory?project={project}").json()["names"]:
            time.sleep(1)
        [annotation] = api.get(f"/api/tasks/{tasks[texts[0]]}/annotations").json()
        assert [(r["value"]["labels"], r["origin"]) for r in annotation["result"]] == [(["LOC"], "prediction-changed")]

        api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}", json=retrieve)
        _open_task(page, label_studio, project, tasks[texts[1]])
        page.locator(".htx-highlight", has_text="Paris").first.click()
        page.wait_for_timeout(500)
        assert page.get_by_text("from this project's corrections").count() >= 1  # the region's meta, shown
        latest = max(api.get("/api/predictions", params={"task": tasks[texts[1]]}).json(), key=lambda p: p["id"])
        assert {r["value"]["text"]: r["value"]["labels"][0] for r in latest["result"]} == {
            "Anna": "PER", "Paris": "LOC", "Bob": "PER"}


def test_a_name_the_span_model_added_says_so_in_the_editor(label_studio, page, tmp_path_factory):
    """After nationalities drawn as MISC in 12 tasks, a task no correction named shows its nationality
    as MISC in the editor, and the region's info says the span model found it."""
    from .test_label_studio_e2e import UNSEEN_NATIONALITIES, span_model_project

    data = tmp_path_factory.mktemp("span-model-browser")
    with span_model_project(label_studio, data) as (api, project, tasks, url, before, after):
        _open_task(page, label_studio, project, tasks[UNSEEN_NATIONALITIES[0]])
        assert "Swedish" in _highlights(page)
        page.locator(".htx-highlight", has_text="Swedish").first.click()
        page.wait_for_timeout(500)
        page.screenshot(path=str(data / "span-model-next-task.png"))  # the editor as the test left it
        assert page.get_by_text("from this project's span model").count() >= 1
