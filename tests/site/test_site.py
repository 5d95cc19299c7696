"""The course website that `make site` builds into build/site/ (site/build.py).

`make test-site` builds it, then runs these tests on what was built:

- every page is there, and no assignment source, solution, hidden test or autograder;
- every internal link, anchor and image of every page resolves, and every asset a page
  or a style sheet loads (scripts, styles, fonts, images) is served by the site itself;
- the Colab button is on every notebook page when the repository URL is set, and absent
  when it is not (the site as built, and two small builds with and without a URL);
- in headless Chromium, driven by Playwright, every page loads without a console error,
  a failed request or a request that leaves the site; its images decode; its math is
  typeset by MathJax without a TeX error; no element is wider than the content column,
  on a desktop and on a phone (wide code and tables scroll inside their box); each page
  shows one search box; the search
  finds VGG16, with excerpts taken from the pages' content, never the theme's buttons or
  navigation; the home page fits a phone's width and follows a dark system theme. Screenshots of the home page and of a
  notebook page are saved in build/site/_screenshots/ for a person to look at.

Chromium comes from Debian (`apt-get install chromium`; .ci/run installs it), never
from `playwright install`; COURSE_CHROMIUM names another binary.
"""

import functools
import hashlib
import html.parser
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

# Sphinx's notices to extension authors (myst-parser, sphinx-book-theme), raised by the small builds.
pytestmark = pytest.mark.filterwarnings("ignore:.*Check CHANGES for Sphinx API modifications")

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("course_site_build", ROOT / "site" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

SITE = build.OUT
SCREENSHOTS = SITE / "_screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these, Chromium's own background connections are refused here and logged as errors.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
COLAB = "https://colab.research.google.com/github/"
# Elements whose URL the page loads by itself (not a link the reader may follow).
ASSET_ATTRIBUTES = {"img": "src", "script": "src", "source": "src", "iframe": "src", "video": "src",
                    "audio": "src", "embed": "src", "object": "data"}
ASSET_LINK_RELS = {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest"}


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE.relative_to(ROOT)} is not built: run `make site` (`make test-site` builds it first)")
    return SITE


def html_pages(folder):
    """The site's HTML pages (not the theme's template fragments in _static/)."""
    return sorted(p for p in folder.rglob("*.html") if "_static" not in p.relative_to(folder).parts)


class Page(html.parser.HTMLParser):
    """One HTML page: its ids, its links and the URLs it loads, and its text."""

    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.assets, self.text = set(), [], [], []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        elif tag == "link" and set((attrs.get("rel") or "").split()) & ASSET_LINK_RELS:
            self.assets.append(attrs.get("href") or "")
        elif tag in ASSET_ATTRIBUTES and attrs.get(ASSET_ATTRIBUTES[tag]):
            self.assets.append(attrs[ASSET_ATTRIBUTES[tag]])
        if tag == "img" and attrs.get("srcset"):
            self.assets += [part.split()[0] for part in attrs["srcset"].split(",")]

    def handle_data(self, data):
        self.text.append(data)


@functools.cache
def parse(path):
    return Page(path)


def is_external(url):
    return bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|//", url))


def check_url(url, source, folder, asset):
    """The problem with `url` (a link or asset of file `source` in `folder`), or None."""
    if url.startswith("data:"):
        return None
    if is_external(url):
        if asset:
            return f"loads {url} from outside the site"
        return None  # a link to another site: the reader's browser follows it, the site loads nothing
    parts = urllib.parse.urlsplit(url)
    target = source if not parts.path else (source.parent / urllib.parse.unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        return f"{'loads' if asset else 'links to'} {url}, which the site does not have"
    if parts.fragment and target.suffix == ".html" and parts.fragment not in parse(target).ids:
        return f"links to {url}: {target.relative_to(folder.resolve())} has no id {parts.fragment!r}"
    return None


# Staging: what site/build.py changes in the sources (no site needed) --------------------------


def test_widget_outputs_and_colab_badges_are_replaced():
    badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             "(https://colab.research.google.com/github/o/r/blob/main/notebooks/02_convolution.ipynb)")
    widget = {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {
        build.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": ["Explorer <a kernel> (needs a live Jupyter kernel)"]}}
    figure = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}
    notebook = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# 02 · Convolution\n", badge + "\n", "\n", "Text."]},
        {"cell_type": "code", "metadata": {}, "source": "explorer", "outputs": [widget, figure]},
    ]}
    cleaned = build.clean_notebook(notebook, "notebooks/02_convolution.ipynb", set(), "")
    assert "widgets" not in cleaned["metadata"]
    assert cleaned["cells"][0]["source"] == "# 02 · Convolution\n\nText."
    note, kept = cleaned["cells"][1]["outputs"]
    assert list(note["data"]) == ["text/html"] and "Explorer &lt;a kernel&gt;" in note["data"]["text/html"]
    # The note sends the reader where the widget works, the notebook run in Jupyter or Colab, and only there.
    assert "Run this notebook in Jupyter or Colab to use this explorer." in note["data"]["text/html"]
    assert "needs a live" not in note["data"]["text/html"]
    assert kept == figure


def test_links_to_files_off_the_site_go_to_the_repository_or_become_text():
    pages = {"notebooks/15_vgg.ipynb", "notebooks/solutions/part1.md"}
    text = ("[VGG](15_vgg.ipynb#top), [solutions](solutions/part1.md), [runtimes](../benchmarks/notebooks.md), "
            "[Keras](https://keras.io), [below](#exercises), `[not](a link)`, ![figure](figure.png)")
    assert build.rewrite_links(text, "notebooks/14_alexnet.ipynb", pages, "") == (
        "[VGG](15_vgg.ipynb#top), [solutions](solutions/part1.md), runtimes, "
        "[Keras](https://keras.io), [below](#exercises), `[not](a link)`, ![figure](figure.png)")
    repo = "https://github.com/o/r"
    assert build.rewrite_links("[runtimes](../benchmarks/notebooks.md#cpu)", "notebooks/x.ipynb", pages, repo) == (
        f"[runtimes]({repo}/blob/main/benchmarks/notebooks.md#cpu)")
    assert build.rewrite_links("[course_lib](course_lib)", "README.md", pages, repo) == (
        f"[course_lib]({repo}/tree/main/course_lib)")


def test_readme_sections_become_pages():
    readme = "# Title\n\nIntro.\n\n## Setup\n\nText.\n\n### Detail\n\n```bash\n# a comment\n```\n\n## Next\n\nMore.\n"
    assert build.readme_intro(readme) == "Intro.\n"
    assert build.readme_section(readme, "## Setup") == "# Setup\n\nText.\n\n## Detail\n\n```bash\n# a comment\n```\n"
    assert build.readme_section(readme, "## Next", top=2) == "## Next\n\nMore.\n"


def test_the_build_cannot_reach_the_network():
    # `make site` runs under this guard: a theme or asset fetched at build time fails the build.
    code = ("import importlib.util, sys, urllib.request\n"
            f"spec = importlib.util.spec_from_file_location('b', {str(ROOT / 'site' / 'build.py')!r})\n"
            "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b); b.forbid_network()\n"
            "urllib.request.urlopen('http://127.0.0.1:9/', timeout=5)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "the site's build tried to use the network" in result.stderr, result.stderr


# The pages and what must never be on them ---------------------------------------------------


def test_every_page_is_built(site):
    expected = [f"notebooks/{row['notebook']}.html" for row in build.course_map()]
    expected += [str(p.relative_to(ROOT).with_suffix(".html")) for p in build.student_notebooks()]
    expected += [f"notebooks/solutions/{p.stem}.html" for p in (ROOT / "notebooks" / "solutions").glob("*.md")]
    expected += [f"parts/{build.slug(part)}.html" for part in build.parts(build.course_map())]
    expected += ["index.html", "setup.html", "colab-and-gpu.html", "concept-map.html",
                 "notebooks/assignments/README.html", "notebooks/solutions/index.html", "search.html"]
    missing = [page for page in expected if not (site / page).is_file()]
    assert not missing, f"pages missing from {SITE.relative_to(ROOT)}: {missing}"
    home = " ".join("".join(parse(site / "index.html").text).split())
    home = home.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))  # Sphinx's smart quotes
    for row in build.course_map():  # the course map: one row per notebook, linked, with its concept
        assert f"notebooks/{row['notebook']}.html" in parse(site / "index.html").links, row["notebook"]
        assert " ".join(row["concept"].split()) in home, row["concept"]


def _secret_lines(source):
    """The lines of an assignment source that only its solutions and hidden tests contain."""
    secret, inside, hidden = [], False, False
    for line in source.read_text().splitlines():
        stripped = line.strip().removeprefix("# ")
        if line.startswith("# %%"):
            hidden = False
        if stripped == "# HIDDEN" or line.strip() == "# HIDDEN":
            hidden = True
        if stripped in ("# BEGIN SOLUTION", "BEGIN SOLUTION"):
            inside = True
        elif stripped in ("# END SOLUTION", "END SOLUTION"):
            inside = False
        elif (inside or hidden) and len(line.strip()) >= 20:
            secret.append(line.strip())
    return secret


def _notebook_text(path):
    """A notebook's cell sources and outputs, as text."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) + "\n" + json.dumps(c.get("outputs", [])) for c in cells)


def _public_text():
    """Everything the site is meant to show, from the repository: a line found here is no secret,
    even if an assignment's solution has it too (`kh, kw = kernel.shape`)."""
    notebooks = ROOT / "notebooks"
    paths = list(notebooks.glob("*.ipynb")) + list((notebooks / "assignments" / "student").rglob("*"))
    paths += list((notebooks / "solutions").glob("*.md")) + [ROOT / "README.md", notebooks / "assignments" / "README.md"]
    return "\n".join(_notebook_text(p) if p.suffix == ".ipynb" else p.read_text() for p in paths if p.is_file())


def _site_texts(folder):
    """`{path: text}` for every text file of the site: HTML as the reader sees it (code
    highlighting splits lines into many elements), notebooks' cell sources and outputs."""
    texts = {}
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix in (".png", ".jpg", ".svg", ".woff", ".woff2", ".ico", ".gif"):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            raw = "".join(parse(path).text)
        elif path.suffix == ".ipynb":
            raw = _notebook_text(path)
        texts[path] = raw
    return texts


def test_no_assignment_source_solution_or_autograder_in_the_site(site):
    sources = sorted((ROOT / "notebooks" / "assignments" / "source").glob("*.py"))
    assert sources, "no assignment sources found: the test would check nothing"
    public = _public_text()
    texts = _site_texts(site)
    everything = "\n".join(texts.values())
    # Positive control: a public line of each student notebook is found, so a leak would be.
    for notebook in build.student_notebooks():
        code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        line = next(ln.strip() for c in code for ln in "".join(c["source"]).splitlines() if len(ln.strip()) > 25)
        assert line in everything, f"the site's text does not show {notebook.name}'s line {line!r}"
    leaks = []
    for source in sources:
        secret = [line for line in _secret_lines(source) if line not in public]
        assert len(secret) >= 5, f"{source.name}: too few solution or hidden-test lines found ({len(secret)})"
        for line in secret:
            where = [str(p.relative_to(site)) for p, text in texts.items() if line in text]
            if where:
                leaks.append(f"{source.name}: {line!r} in {where[:3]}")
    assert not leaks, "assignment solutions or hidden tests on the site:\n" + "\n".join(leaks)
    # No file copied from a source folder or an autograder (make assignments writes build/assignments/).
    private = [p for p in (ROOT / "notebooks" / "assignments" / "source").rglob("*") if p.is_file()]
    private += [p for p in (ROOT / "build" / "assignments").rglob("*") if p.is_file() and "autograder" in p.parts]
    private_hashes = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in private}
    for path in site.rglob("*"):
        relative = path.relative_to(site).as_posix()
        assert "assignments/source" not in relative and "autograder" not in relative.lower(), relative
        if path.is_file():
            copied = private_hashes.get(hashlib.sha256(path.read_bytes()).hexdigest())
            assert copied is None, f"{relative} is a copy of {copied.relative_to(ROOT)}"


# Links and assets ---------------------------------------------------------------------------


def test_internal_links_anchors_and_images_resolve(site):
    problems, checked = [], 0
    for path in html_pages(site):
        page = parse(path)
        for url, asset in [(u, False) for u in page.links] + [(u, True) for u in page.assets]:
            checked += 1
            problem = check_url(url, path, site, asset)
            if problem:
                problems.append(f"{path.relative_to(site)} {problem}")
    assert checked > 1000, f"only {checked} links and assets found: is the site complete?"
    assert not problems, f"{len(problems)} broken links or outside assets:\n" + "\n".join(problems[:40])


def test_style_sheets_load_only_the_sites_own_fonts_and_images(site):
    problems, urls = [], 0
    for css in site.glob("_static/**/*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text(encoding="utf-8")):
            urls += 1
            problem = check_url(url.strip(), css, site, asset=True)
            if problem:
                problems.append(f"{css.relative_to(site)} {problem}")
    assert urls, "no url() found in the style sheets: the theme's fonts should be there"
    assert not problems, "\n".join(problems)


def test_check_url_finds_what_is_broken(tmp_path):
    # The link checker itself: each kind of problem is reported, and a good link is not.
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#here">b</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p>')
    source = tmp_path / "a.html"
    assert check_url("b.html#here", source, tmp_path, asset=False) is None
    assert check_url("#top", source, tmp_path, asset=False) is None
    assert check_url("https://example.org/x", source, tmp_path, asset=False) is None
    assert "no id 'gone'" in check_url("b.html#gone", source, tmp_path, asset=False)
    assert "does not have" in check_url("c.html", source, tmp_path, asset=False)
    assert "does not have" in check_url("../outside.html", source, tmp_path, asset=False)
    assert "outside the site" in check_url("https://cdn.example.org/mathjax.js", source, tmp_path, asset=True)


# The Colab button ---------------------------------------------------------------------------


def _notebook_pages(folder, notebooks):
    """`{repository path of the notebook: its page}`."""
    return {str(p.relative_to(ROOT)): folder / p.relative_to(ROOT).with_suffix(".html") for p in notebooks}


def _assert_colab_buttons(folder, notebooks, repo):
    """Every notebook page links to Colab at its repository path if `repo`, else none does."""
    pages = _notebook_pages(folder, notebooks)
    assert pages
    owner_name = repo.removeprefix("https://github.com/")
    for notebook, page in pages.items():
        links = [u for u in parse(page).links if u.startswith(COLAB)]
        if repo:
            assert links == [f"{COLAB}{owner_name}/blob/{build.BRANCH}/{notebook}"], (page.name, links)
        else:
            assert not links and "colab.research.google.com" not in page.read_text(), page.name


def test_the_site_has_colab_buttons_if_the_repository_is_set(site):
    notebooks = [ROOT / "notebooks" / f"{row['notebook']}.ipynb" for row in build.course_map()]
    _assert_colab_buttons(site, notebooks + build.student_notebooks(), build.repository())


@pytest.mark.parametrize("repo", ["https://github.com/example-owner/cnn-course", ""])
def test_a_small_build_has_colab_buttons_only_with_a_repository(tmp_path, monkeypatch, repo):
    # A build of one notebook (and the assignments) with the URL set or not, whatever pyproject.toml says.
    monkeypatch.setenv(build.REPOSITORY_VARIABLE, repo)
    out = tmp_path / "site"
    status = build.build(out=out, doctrees=tmp_path / "doctrees", folder=tmp_path / "src", repo=repo, only=["15_vgg"])
    assert status == 0, "the small build failed: see its warnings above"
    _assert_colab_buttons(out, [ROOT / "notebooks" / "15_vgg.ipynb"] + build.student_notebooks(), repo)
    assert not (out / "notebooks" / "14_alexnet.html").exists()


# In a browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(site):
    """The site served over HTTP on a free local port, as a reader's browser would get it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def chromium_path():
    """The Chromium binary to drive: $COURSE_CHROMIUM, /usr/bin/chromium or chromium on the PATH."""
    path = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"Chromium is missing ({path}): the site's browser tests need it. On Debian or Ubuntu: "
            "`apt-get install -y --no-install-recommends chromium` (.ci/run does it); elsewhere set "
            "COURSE_CHROMIUM=/path/to/chromium. Not `playwright install`: it downloads a browser."
        )
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, timeout=60_000)
        yield chromium
        chromium.close()


class Watched:
    """A browser page that records what went wrong while it loaded: console errors,
    uncaught exceptions, failed requests, HTTP errors and requests that leave the site."""

    def __init__(self, context, base_url):
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.base_url = base_url
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.on("request", self._request)

    def _failed(self, request):
        # ERR_ABORTED: the test moved on to the next page while the browser still fetched
        # something unhurried (the favicon); a missing file shows as HTTP 404, a blocked one here.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _request(self, request):
        if not request.url.startswith((self.base_url, "data:", "blob:", "about:")):
            self.problems.append(f"request outside the site: {request.url}")

    def open(self, relative):
        self.problems = []
        self.page.goto(self.base_url + relative, wait_until="load")
        return self.page.evaluate(SETTLE_AND_INSPECT)


# Waits for MathJax's first typesetting, every image and the fonts; then reports on them.
SETTLE_AND_INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all([...document.images].map(img => { img.loading = "eager"; return img.decode().catch(() => null); }));
  await document.fonts.ready;
  const math = [...document.querySelectorAll("span.math, div.math")];
  return {
    math: math.length,
    untypeset: math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 80)),
    texErrors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 80)),
    brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src")),
    images: document.images.length,
  };
}"""

# The elements of the content column (the article) whose right edge lies beyond the column's,
# after layout. A box that scrolls or clips (overflow-x other than visible) counts by its own
# edge: what it holds scrolls inside it.
OVERFLOWING = """() => {
  const column = document.querySelector("article.bd-article");
  if (!column) return [];
  const right = column.getBoundingClientRect().right;
  const found = [];
  const visit = (element) => {
    for (const child of element.children) {
      const box = child.getBoundingClientRect();
      if (box.width > 0 && box.right > right + 1) {
        const name = child.tagName.toLowerCase() + (child.className && typeof child.className === "string"
          ? "." + child.className.trim().split(/\\s+/).join(".") : "");
        found.push(`${name} (${Math.round(box.right - right)} px): ${child.textContent.trim().slice(0, 50)}`);
      }
      if (getComputedStyle(child).overflowX === "visible") visit(child);
    }
  };
  visit(column);
  return found;
}"""
# The page's layout at the current width: what overflows the column, and how many search boxes
# and buttons a reader sees (the dialog they open is hidden until then).
LAYOUT = f"""() => ({{
  overflow: ({OVERFLOWING})(),
  searchBoxes: [...document.querySelectorAll(".search-button__button, form.bd-search")].filter(e => {{
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(e).visibility !== "hidden";
  }}).length,
}})"""
DESKTOP = {"width": 1280, "height": 900}
# A phone's width, where a long inline name, a wide table or a line of code pushes past the column.
PHONE = {"width": 390, "height": 844}


def _layout_problems(page, relative):
    """What is wrong with the layout of the open page at its current width."""
    layout, found = page.evaluate(LAYOUT), []
    if layout["overflow"]:
        found.append(f"wider than the content column: {layout['overflow'][:3]}")
    if layout["searchBoxes"] != 1 and relative != "search.html":  # the search page has its own form
        found.append(f"{layout['searchBoxes']} search boxes, not one")
    return found


@pytest.fixture(scope="module")
def desktop(browser, base_url):
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    yield Watched(context, base_url)
    context.close()


def _screenshot_notebook(watched, path):
    """Screenshots the part of a notebook page where a formula comes closest above a figure."""
    box = watched.page.evaluate("""() => {
      const top = e => e.getBoundingClientRect().top + window.scrollY;
      const maths = [...document.querySelectorAll("div.math, span.math")].map(top);
      let best = null;
      for (const img of document.querySelectorAll(".cell_output img")) {
        const t = top(img), bottom = t + img.getBoundingClientRect().height;
        for (const m of maths) if (m < t && (!best || t - m < best.gap)) best = {gap: t - m, y: m, bottom};
      }
      return best;
    }""")
    assert box, "the notebook page for the screenshot has no formula above a figure"
    y = max(0, box["y"] - 300)
    height = min(2000, box["bottom"] + 40 - y)
    watched.page.screenshot(path=path, full_page=True, clip={"x": 0, "y": y, "width": 1280, "height": height})


def test_every_page_loads_cleanly_and_fits_its_column_in_a_browser(site, desktop):
    SCREENSHOTS.mkdir(exist_ok=True)
    problems, typeset = [], 0
    for path in html_pages(site):
        relative = path.relative_to(site).as_posix()
        report = desktop.open(relative)
        found = list(desktop.problems)
        if report["untypeset"]:
            found.append(f"{len(report['untypeset'])} formulas not typeset, e.g. {report['untypeset'][:2]}")
        if report["texErrors"]:
            found.append(f"TeX errors: {report['texErrors'][:3]}")
        if report["brokenImages"]:
            found.append(f"images that do not decode: {report['brokenImages'][:3]}")
        found += _layout_problems(desktop.page, relative)
        typeset += report["math"]
        if relative == "index.html":  # the introduction and the start of the course map
            desktop.page.screenshot(path=SCREENSHOTS / "home.png", full_page=True,
                                    clip={"x": 0, "y": 0, "width": 1280, "height": 1600})
        elif relative == "notebooks/05_cnn_as_ffnn.html":
            _screenshot_notebook(desktop, SCREENSHOTS / "notebook.png")
        # The same page at a phone's width: laid out again, not loaded again (that would double the time).
        desktop.page.set_viewport_size(PHONE)
        found += [f"on a phone, {problem}" for problem in _layout_problems(desktop.page, relative)]
        desktop.page.set_viewport_size(DESKTOP)
        problems += [f"{relative}: {problem}" for problem in found]
    assert typeset > 100, f"only {typeset} formulas on the whole site: is the math rendered as math?"
    assert not problems, "\n".join(problems)
    assert (SCREENSHOTS / "home.png").is_file() and (SCREENSHOTS / "notebook.png").is_file()


# Each search result's excerpt, and whether it is found in the text of its page's article (its
# content: not the theme's header buttons, sidebars or footer).
SEARCH_EXCERPTS = """async () => {
  const normal = text => text.replace(/\\s+/g, " ").trim();
  const results = [];
  for (const item of document.querySelectorAll("#search-results ul.search li")) {
    const link = item.querySelector("a"), context = item.querySelector("p.context");
    if (!context) continue;
    const page = new DOMParser().parseFromString(await (await fetch(link.href)).text(), "text/html");
    page.querySelectorAll(".headerlink, script, style").forEach(e => e.remove());
    const excerpt = normal(context.textContent).replace(/^\\.\\.\\.|\\.\\.\\.$/g, "").trim();
    const article = normal(page.querySelector("article.bd-article").textContent);
    results.push({page: link.getAttribute("href"), excerpt, inArticle: article.includes(excerpt)});
  }
  return results;
}"""


def test_search_finds_the_vgg_notebook_with_excerpts_of_its_content(desktop):
    desktop.open("search.html?q=VGG16")
    desktop.page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
    results = desktop.page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    assert any("notebooks/15_vgg.html" in url for url in results), results
    desktop.page.wait_for_function(  # the search is finished, and every result has its excerpt
        """() => /finished/i.test(document.querySelector("#search-results .search-summary").innerText)
        && [...document.querySelectorAll("#search-results ul.search li")]
             .every(li => li.querySelector("p.context, :scope > span"))""", timeout=20_000)
    excerpts = desktop.page.evaluate(SEARCH_EXCERPTS)
    assert len(excerpts) >= 3, excerpts
    theme = [e for e in excerpts if not e["inArticle"]]
    assert not theme, "search excerpts with text that is not the page's content:\n" + "\n".join(
        f"{e['page']}: {e['excerpt'][:120]!r}" for e in theme[:5])
    assert not desktop.problems, desktop.problems


def test_home_page_fits_a_phone_in_dark_mode(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, color_scheme="dark")
    try:
        phone = Watched(context, base_url)
        for relative in ("index.html", "notebooks/15_vgg.html"):
            phone.open(relative)
            layout = phone.page.evaluate("""() => ({
              theme: document.documentElement.dataset.theme,
              overflow: document.documentElement.scrollWidth - window.innerWidth,
            })""")
            assert layout["theme"] == "dark", f"{relative} ignores the system's dark theme: {layout}"
            assert layout["overflow"] <= 0, f"{relative} is {layout['overflow']} px wider than a phone: {layout}"
            assert not phone.problems, phone.problems
        phone.page.screenshot(path=SCREENSHOTS / "phone-dark.png")
    finally:
        context.close()
