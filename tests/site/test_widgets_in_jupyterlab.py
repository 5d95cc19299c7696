"""The course's ipywidgets explorers in a real JupyterLab, driven in headless Chromium.

tests/lib/test_widgets.py drives `ConvolutionExplorer` and `ReceptiveFieldExplorer`
through their Python controls; this test proves that they also work in the front end
a student uses: the widget manager (jupyterlab_widgets) renders them, a slider moved
in the browser reaches the kernel, and the kernel's redraw (text and picture) comes
back to the page.

It writes a small notebook into a temporary folder, starts JupyterLab on it (this
venv's `python3` kernel, a free port on 127.0.0.1, a random token, and every Jupyter
config, data, runtime, settings and workspace folder inside the temporary folder, so
that nothing of the user's or of an earlier run is read or written), opens the
notebook with Playwright, runs all cells from the Run menu, then moves sliders with
the keyboard and checks what the widgets show against `convolution_step` and
`receptive_field_stack` computed here. A console error, an uncaught exception or a
widget that fails to render fails the test. A screenshot is saved as
build/site/_screenshots/jupyterlab-widgets.png (`make test-site` builds the site
first), or in the test's temporary folder when there is no built site.

Chromium: as tests/site/test_site.py (Debian's, or $COURSE_CHROMIUM).
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import psutil
import pytest
from test_site import CHROMIUM_ARGS, SCREENSHOTS, SITE, chromium_path

from course_lib.widgets import convolution_step, default_image, receptive_field_stack

NOTEBOOK = "widgets.ipynb"
STARTUP_TIMEOUT = 90  # seconds: the server, the page and the kernel, on a loaded 2-core machine
START_MS = STARTUP_TIMEOUT * 1000
UPDATE_TIMEOUT_MS = 30_000  # a kernel round trip: recompute and redraw one picture
CONV_STEPS = 3  # ArrowRight presses on the convolution explorer's position slider

CELLS = [
    "import sys\nprint(sys.prefix)",
    "from course_lib.widgets import ConvolutionExplorer, ReceptiveFieldExplorer\n\n"
    'explorer = ConvolutionExplorer(kernel="sobel_x", position=0)\nexplorer',
    "fields = ReceptiveFieldExplorer()\nfields",
]
# ReceptiveFieldExplorer's default layers (LeNet-5's feature extractor) on its 32x32 image.
RF_LAYERS = [{"kind": "conv", "kernel": 5, "padding": "same"}, {"kind": "pool", "kernel": 2},
             {"kind": "conv", "kernel": 5}, {"kind": "pool", "kernel": 2}]
RF_SIZE = 32
# What jupyterlab_widgets writes in place of a widget it cannot show ("Loading widget..." stuck counts).
WIDGET_FAILURES = ("Error displaying widget", "Error creating widget", "Loading widget", "model not found",
                   "Could not create")
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"  # tracebacks too


def _free_of_user_config(root):
    """The environment for the server: every Jupyter and IPython folder under `root`."""
    env = dict(os.environ)
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN", "JUPYTER_PORT", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(name, None)
    folders = {
        "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython",
    }
    for name, folder in folders.items():
        (root / folder).mkdir()
        env[name] = str(root / folder)
    # No toast asking whether to fetch Jupyter's news (it would cover the screenshot): never fetch.
    notification = root / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


def _log_tail(path, lines=40):
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _stop(process):
    """Stops the server and every process it started (its kernels), by their ids."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the server shuts its kernels down, then exits
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for child in family:
        try:
            child.kill()  # only if it outlived the server (is_running checks the pid was not reused)
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab serving a notebook of both explorers: yields (base URL, token)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, notebooks / NOTEBOOK)

    env = _free_of_user_config(tmp_path)
    # A fresh machine: matplotlib builds its font cache here, not in the kernel, whose warning
    # about it would be a cell's stderr output (which fails the test).
    import matplotlib.font_manager  # noqa: F401

    token = secrets.token_hex(24)
    # "python" in the venv's python3 kernelspec is this interpreter: jupyter_client runs kernels with the
    # server's sys.executable (the notebook's first cell prints sys.prefix and the test checks it).
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
        f"--LabApp.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
        f"--LabApp.workspaces_dir={env['JUPYTERLAB_WORKSPACES_DIR']}",
        # Nothing to fetch from the internet: no news feed, no update check.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=notebooks, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        base_url = _wait_for_server(process, tmp_path / "runtime", token, log)
        yield base_url, token
    finally:
        _stop(process)


def _wait_for_server(process, runtime, token, log):
    """The server's base URL, once /api/status answers; fails if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    base_url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {process.returncode} while starting; its log ends:\n"
                        f"{_log_tail(log)}")
        if base_url is None:  # the server writes its port (chosen by the OS) in its runtime file
            info = runtime / f"jpserver-{process.pid}.json"
            if info.is_file():
                try:
                    base_url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}/"
                except (ValueError, KeyError):
                    pass  # written as we read it
        if base_url is not None:
            request = urllib.request.Request(base_url + "api/status", headers={"Authorization": f"token {token}"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return base_url
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer /api/status within {STARTUP_TIMEOUT} s; its log ends:\n{_log_tail(log)}")


def _screenshot_path(tmp_path):
    if SITE.is_dir():
        SCREENSHOTS.mkdir(exist_ok=True)
        return SCREENSHOTS / "jupyterlab-widgets.png"
    return tmp_path / "jupyterlab-widgets.png"  # no built site (`make site`): kept with the test's files


# The rows of the receptive-field explorer's table, as {column: text}.
TABLE_ROWS = """table => {
  const heads = [...table.querySelectorAll("thead th")].map(th => th.textContent.trim());
  return [...table.querySelectorAll("tbody tr")].map(
    tr => Object.fromEntries([...tr.querySelectorAll("td")].map((td, i) => [heads[i], td.textContent.trim()])));
}"""


def _expected_table(layers):
    rows = receptive_field_stack(layers, RF_SIZE)  # the image is square: rows and columns agree
    return [{"layer": r.layer, "output": f"{r.output_size}x{r.output_size}", "field": f"{r.field}x{r.field}",
             "jump": str(r.jump)} for r in rows]


def _table(table):
    """The receptive-field table's layer, output, field and jump columns, as `_expected_table`."""
    return [{key: row.get(key) for key in ("layer", "output", "field", "jump")} for row in table.evaluate(TABLE_ROWS)]


def _wait_for_table(table, expected, message):
    deadline = time.monotonic() + UPDATE_TIMEOUT_MS / 1000
    while (shown := _table(table)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shown == expected, message


def _slider(output, description):
    """The IntSlider of `output` labelled `description` (ipywidgets 8: a noUiSlider and a readout)."""
    return output.locator(".widget-slider").filter(
        has=output.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(description)}$")))


def _press(slider, key, times=1):
    """Presses `key` on the slider's handle (noUiSlider moves one step per arrow key)."""
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(times):
        handle.press(key)


def _image_src(output):
    return output.locator("img.widget-image").first.get_attribute("src")


def _wait_for_new_image(page, output, old_src):
    """Waits until the widget's picture is a new one (a new blob URL), loaded and decoded."""
    page.wait_for_function(
        """([node, old]) => { const img = node.querySelector("img.widget-image");
                             return img && img.src && img.src !== old && img.complete && img.naturalWidth > 0; }""",
        arg=[output.element_handle(), old_src], timeout=UPDATE_TIMEOUT_MS)
    return _image_src(output)


def _wait_for_widget(output, name):
    """Waits until `output` shows an explorer (its box and its picture); fails at once on a
    traceback, on anything written to stderr, or on the widget manager's error text."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        text = output.inner_text()
        if output.locator(STDERR).count() or any(f in text for f in WIDGET_FAILURES if f != "Loading widget"):
            pytest.fail(f"the {name} cell failed in JupyterLab; its output:\n{text[:3000]}")
        if output.locator(".jupyter-widgets.widget-vbox img.widget-image").count():
            return
        time.sleep(0.2)
    pytest.fail(f"the {name} did not render as a widget within {STARTUP_TIMEOUT} s; its output:\n{text[:3000]}")


@pytest.fixture
def chromium():
    return chromium_path()  # fails, as test_site.py does, before JupyterLab starts for nothing


@pytest.mark.timeout(300)  # a bound for a hang outside Playwright's own timeouts (pytest-timeout)
def test_explorers_render_and_respond_in_jupyterlab(chromium, jupyterlab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base_url, token = jupyterlab
    problems = []

    def on_console(message):
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=60_000)
        page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
        try:
            page.set_default_timeout(UPDATE_TIMEOUT_MS)
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
            page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

            page.goto(f"{base_url}lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
            panel = page.locator(".jp-NotebookPanel")
            expect(panel, "the notebook did not open in JupyterLab").to_be_visible(timeout=START_MS)
            # The toolbar's indicator reads "idle" before the notebook has a kernel; the status bar names
            # the kernel and says Idle only once its websocket is connected (cells run before are lost).
            expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^Python 3 \(ipykernel\) \| Idle$")),
                   "the notebook's kernel did not start (the status bar does not say 'Python 3 (ipykernel) | Idle')",
                   ).to_be_visible(timeout=START_MS)

            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
            cells = panel.locator(".jp-CodeCell")
            expect(cells).to_have_count(len(CELLS), timeout=UPDATE_TIMEOUT_MS)
            expect(cells.first.locator(".jp-InputPrompt"), "Run > Run All Cells did not run the cells",
                   ).not_to_have_text(re.compile(r"^\[ \]:$"), timeout=UPDATE_TIMEOUT_MS)
            outputs = [cells.nth(i).locator(".jp-OutputArea") for i in range(len(CELLS))]
            expect(outputs[0], "the kernel is not this venv's python").to_have_text(sys.prefix, timeout=START_MS)
            conv, rf = outputs[1], outputs[2]
            _wait_for_widget(conv, "ConvolutionExplorer")
            _wait_for_widget(rf, "ReceptiveFieldExplorer")

            # The convolution explorer: position 0, then its slider moved 3 steps right in the browser.
            label = conv.locator(".widget-html-content")
            expect(label).to_contain_text(convolution_step(default_image(), "sobel_x", 0).expression,
                                          timeout=UPDATE_TIMEOUT_MS)
            old_label, old_src = label.inner_text(), _wait_for_new_image(page, conv, None)
            position = _slider(conv, "position")
            expect(position.locator(".widget-readout")).to_have_text("0", timeout=UPDATE_TIMEOUT_MS)
            _press(position, "ArrowRight", CONV_STEPS)
            expect(position.locator(".widget-readout")).to_have_text(str(CONV_STEPS), timeout=UPDATE_TIMEOUT_MS)
            expect(label, "moving the position slider did not update the dot product").to_contain_text(
                convolution_step(default_image(), "sobel_x", CONV_STEPS).expression,  # out[0, 3] = ... = -0.1071
                timeout=UPDATE_TIMEOUT_MS)
            assert label.inner_text() != old_label
            _wait_for_new_image(page, conv, old_src)  # the picture was redrawn

            # The receptive-field explorer: layer 1's stride from 1 to 2.
            table = rf.locator(".widget-html-content table")
            _wait_for_table(table, _expected_table(RF_LAYERS), "the receptive-field table is not LeNet-5's")
            old_src = _wait_for_new_image(page, rf, None)
            layer1 = rf.locator(".widget-hbox", has=page.locator(".widget-label", has_text=re.compile("^layer 1$")))
            stride = _slider(layer1, "stride")
            expect(stride.locator(".widget-readout")).to_have_text("1", timeout=UPDATE_TIMEOUT_MS)
            _press(stride, "ArrowRight")
            expect(stride.locator(".widget-readout")).to_have_text("2", timeout=UPDATE_TIMEOUT_MS)
            _wait_for_table(table, _expected_table([{**RF_LAYERS[0], "stride": 2}, *RF_LAYERS[1:]]),
                            "moving layer 1's stride slider to 2 did not update the receptive-field table")
            _wait_for_new_image(page, rf, old_src)

            path = _screenshot_path(tmp_path)
            page.screenshot(path=path)
            print(f"screenshot: {path}")
            for output, name in ((conv, "ConvolutionExplorer"), (rf, "ReceptiveFieldExplorer")):
                text = output.inner_text()
                failed = [f for f in WIDGET_FAILURES if f in text]
                assert not failed, f"the widget manager failed in the {name} cell: {failed}; its output:\n{text[:3000]}"
            assert not panel.locator(STDERR).count(), "a cell wrote to stderr:\n" + "\n".join(
                panel.locator(STDERR).all_inner_texts())
            assert not problems, "the page reported problems:\n" + "\n".join(problems)
        except BaseException:
            try:
                page.screenshot(path=tmp_path / "failure.png")
                print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
            except Exception:  # the browser is gone: the first error is the one to report
                pass
            raise
        finally:
            browser.close()
