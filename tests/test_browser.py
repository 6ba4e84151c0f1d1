"""Every widget of the course in real JupyterLab, driven by headless Chromium through Playwright.

JupyterLab is started with the launch settings of ``./course.sh lab`` (``tools/lab.py``), in a
scratch folder (so nothing a test runs is saved into the repository) that holds copies of the
learner notebooks and one small notebook per explorer, with empty user settings and workspaces
(so a developer's own JupyterLab settings neither hide nor cause a failure). Its kernels inherit
this run's environment: ``fast`` mode.

* ``test_first_lesson_opens_without_a_pop_up``: what ``./course.sh lab`` opens shows lesson 01
  with no notification or dialog over it.
* ``test_widget_in_the_browser[<case>]``, one per row of ``CASES``: open the case's explorer
  notebook (``explorers/<case name>.ipynb``, written by ``browser_cases.explorer_notebook``: the
  lesson's own explorer cell after a cheap set-up, so no lesson runs a second time here; the
  lessons themselves run once, under nbval), run all cells, then move each slider one step with
  the keyboard; after each move the numbers panel must be the HTML that the Python side computes
  for the sliders' new values, the picture must change (and, where the case gives one, be the PNG
  that Python draws), and no cell may show an error or write to stderr. A case whose explorer
  needs data the notebook computes has that expected panel (and picture) computed in the
  notebook's kernel, through a second client on the kernel's connection file (``NotebookKernel``).

Screenshots go to ``test-artifacts/browser/`` (git-ignored): ``lab_first_lesson.png`` and one
``<case name>.png`` per widget after its sliders moved. Without Chromium or Playwright the browser
tests are skipped with one line saying how to enable them; ``.ci/run`` installs Chromium.

The cases are the rows of ``tests/browser_cases.py``; adding an explorer's case is one row
there (see CONTRIBUTING.md).
"""
from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import nbformat
from browser_cases import CASES, WidgetCase, explorer_notebook
from browser_support import CHROMIUM, skip_reason

from tools import lab as course_lab

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


# ---------------------------------------------------------------------------------------------
# JupyterLab and Chromium.

if skip_reason("browser tests"):   # one line for the whole module in the test summary
    pytest.skip(skip_reason("browser tests"), allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium: the system's, started by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    log: Path
    runtime: Path    # JUPYTER_RUNTIME_DIR: the kernels' connection files

    def address(self, path: str) -> str:
        """The page of ``path`` (relative to the lab's root), in a fresh workspace."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab as ``./course.sh lab`` starts it, on copies of the learner notebooks and on one
    explorer notebook per case (``explorers/``), with empty user settings."""
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("lab-user")
    (root / "notebooks").mkdir()
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    (root / "explorers").mkdir()
    for case in CASES:
        nbformat.write(explorer_notebook(case), root / "explorers" / f"{case.name}.ipynb")
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    port, token = _free_port(), secrets.token_hex(16)
    argv, env = course_lab.command(
        ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}"], cwd=root, env=env)
    log = home / "jupyterlab.log"
    with open(log, "w") as out:
        server = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start ({argv}):\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield Lab(url=url, token=token, log=log, runtime=home / "runtime")
    finally:
        os.killpg(server.pid, signal.SIGTERM)   # the server and the kernels it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    yield page
    page.close()


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STDERR = f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"  # errors render so too
RAN_ALL = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  if (panel.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")) return 'stderr';
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p)) ? 'done' : false;
}"""
IMAGE_BYTES = """async img => {
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let text = ''; for (const b of bytes) text += String.fromCharCode(b); return btoa(text);
}"""
AS_THE_PAGE_WRITES_IT = "html => { const d = document.createElement('div'); d.innerHTML = html; return d.innerHTML; }"


def _open_notebook(page, lab: Lab, path: str) -> None:
    """Open the notebook at ``path`` and wait until its kernel has started and is idle."""
    page.goto(lab.address(path))
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$")).wait_for(timeout=120_000)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


class NotebookKernel:
    """A second client of the kernel that runs a notebook open in the lab, to evaluate expressions there.

    It finds the notebook's session through the server's REST API and connects with the kernel's
    connection file; it runs code silently (nothing is shown in the page or kept in the history).
    """

    def __init__(self, lab: Lab, path: str):
        from jupyter_client import BlockingKernelClient

        with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}", timeout=30) as response:
            sessions = json.load(response)
        kernels = [s["kernel"]["id"] for s in sessions if s["path"] == path]
        assert len(kernels) == 1, f"expected one kernel for {path}, the server has sessions {sessions}"
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(lab.runtime / f"kernel-{kernels[0]}.json"))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def evaluate(self, expression: str, values: dict):
        """The value of ``expression`` in the notebook's namespace, with ``values`` bound (a Python literal)."""
        msg_id = self.client.execute("", silent=True, store_history=False,
                                     user_expressions={"result": f"(lambda values: {expression})({values!r})"})
        while True:
            reply = self.client.get_shell_msg(timeout=120)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        result = reply["content"]["user_expressions"]["result"]
        assert result["status"] == "ok", f"{expression} failed in the kernel: {result.get('ename')}: {result.get('evalue')}"
        return ast.literal_eval(result["data"]["text/plain"])

    def close(self) -> None:
        self.client.stop_channels()


def _stderr_texts(page) -> list[str]:
    return page.locator(STDERR).all_inner_texts()


# ---------------------------------------------------------------------------------------------
# The tests.

def test_first_lesson_opens_without_a_pop_up(lab, page):
    first = course_lab.first_lesson(ROOT)
    assert first is not None
    _open_notebook(page, lab, first)
    page.wait_for_timeout(3000)   # JupyterLab's news question appears right after start-up when not turned off
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab_first_lesson.png"))
    toasts = page.locator(".Toastify__toast").all_inner_texts()
    assert not toasts, f"a notification covers the first lesson: {toasts}"
    assert page.locator(".jp-Dialog").count() == 0, "a dialog covers the first lesson"
    assert page.locator(f"{NOTEBOOK} .jp-MarkdownCell h1").first.inner_text().startswith("Lesson 01")


def _slider(box, page, description: str):
    return box.locator(".widget-slider").filter(has=page.locator(f".widget-label:text-is('{description}')"))


def _values(box, page, case: WidgetCase) -> dict:
    """{argument: value} of every slider of the case, read from the sliders' positions in the page."""
    values = {}
    for description, (argument, to_value) in case.sliders.items():
        position = _slider(box, page, description).locator(".noUi-handle").get_attribute("aria-valuetext")
        values[argument] = to_value(float(position))
    return values


def _shown(box) -> tuple[str, bytes]:
    """The numbers panel's HTML and the picture's PNG bytes, as the page has them now."""
    html = box.locator(".widget-html-content").first.inner_html()
    png = base64.b64decode(box.locator("img.widget-image").first.evaluate(IMAGE_BYTES))
    return html, png


def _assert_shows(page, box, case: WidgetCase, what: str, kernel: NotebookKernel | None) -> tuple[str, bytes]:
    values = _values(box, page, case)
    html, png = _shown(box)
    panel = case.panel(values) if case.panel is not None else kernel.evaluate(case.panel_in_kernel, values)
    expected = page.evaluate(AS_THE_PAGE_WRITES_IT, panel)
    assert html == expected, f"{case.name} {what}: the numbers panel shows\n{html}\nbut Python computes\n{expected}"
    assert png[:8] == b"\x89PNG\r\n\x1a\n", f"{case.name} {what}: the picture is not a PNG"
    if case.picture is not None or case.picture_in_kernel is not None:
        from PIL import Image
        import numpy as np

        picture = case.picture(values) if case.picture is not None else kernel.evaluate(case.picture_in_kernel, values)
        shown, drawn = (np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=float) for b in (png, picture))
        assert shown.shape == drawn.shape, f"{case.name} {what}: picture {shown.shape}, Python draws {drawn.shape}"
        assert np.abs(shown - drawn).mean() < 0.5, f"{case.name} {what}: the picture is not what Python draws"
    return html, png


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_widget_in_the_browser(case, lab, page):
    path = f"explorers/{case.name}.ipynb"
    _open_notebook(page, lab, path)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-item[data-command='runmenu:run-all']")
    outcome = page.wait_for_function(RAN_ALL, timeout=300_000).json_value()
    assert outcome == "done", f"{path}: error or stderr output after Run All: {_stderr_texts(page)}"
    assert page.locator(f"{NOTEBOOK} .jp-OutputArea-output", has_text="mode: fast").count() >= 1

    box = page.locator(".widget-vbox")
    for description in case.sliders:
        box = box.filter(has=page.locator(f".widget-label:text-is('{description}')"))
    box = box.first
    box.wait_for(timeout=30_000)
    kernel = None if case.panel_in_kernel is None else NotebookKernel(lab, path)
    try:
        html, png = _assert_shows(page, box, case, "after Run All", kernel)

        for description in case.sliders:
            handle = _slider(box, page, description).locator(".noUi-handle")
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            page.wait_for_function("([el, old]) => el.innerHTML !== old",
                                   arg=[box.locator(".widget-html-content").first.element_handle(), html], timeout=60_000)
            new_html, new_png = _assert_shows(page, box, case, f"after moving {description!r}", kernel)
            assert new_png != png, f"{case.name}: moving {description!r} did not change the picture"
            html, png = new_html, new_png
    finally:
        if kernel is not None:
            kernel.close()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(ARTIFACTS / f"{case.name}.png"))
    assert not _stderr_texts(page), f"{path}: error or stderr output: {_stderr_texts(page)}"
