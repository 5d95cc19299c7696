"""Sphinx configuration of the course website; site/build.py stages the sources and runs it.

The source folder is build/site-src/ (staged); this folder only configures. Nothing
here reaches the network: the notebooks are not executed, MathJax is served from the
site itself, and no widget JavaScript is loaded (see site/build.py).
"""

import importlib.util
from pathlib import Path

# site/build.py (the repository URL, the staged folders), under a name no package uses.
_spec = importlib.util.spec_from_file_location("course_site_build", Path(__file__).with_name("build.py"))
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

project = "Convolutional neural networks with Keras 3"
html_title = "CNNs with Keras 3"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = ["myst_nb", "sphinx.ext.mathjax"]  # myst_nb loads myst_parser itself
exclude_patterns = [build.STATIC]
root_doc = "index"
language = "en"

# Notebooks: rendered with the outputs they were committed with, never executed.
nb_execution_mode = "off"
# ipywidgets' manager and require.js come from a CDN, which an offline page cannot load;
# site/build.py replaces widget outputs with a note, and no widget script is added.
nb_ipywidgets_js = {}
# Markdown: $...$ and $$...$$ as in Jupyter, and LaTeX environments in notebooks.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # README sections link to headings by their GitHub-style anchors

# MathJax 3 from the site itself, not from a CDN: site/build.py stages it into the source
# folder's _static_site/mathjax/, which setup() below adds to the static files.
mathjax_path = "mathjax/tex-mml-chtml.js"
mathjax3_config = {
    # An undefined macro is then a TeX error (mjx-merror), which the browser test finds.
    "tex": {"packages": {"[-]": ["noundefined"]}},
}

repository = build.repository()  # $COURSE_SITE_REPOSITORY, else pyproject.toml's
html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,  # the .ipynb with its outputs, and print to PDF
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "navbar_persistent": [],  # the top bar's search box: the sidebar has one (site/static/course.css)
}
if repository:
    # An "Open in Colab" launch button on every notebook page, and a link to the repository.
    html_theme_options.update(
        repository_url=repository,
        repository_branch=build.BRANCH,
        path_to_docs="",  # staged notebooks keep their repository paths (notebooks/...)
        use_repository_button=True,
        launch_buttons={"colab_url": "https://colab.research.google.com"},
    )
# Light or dark as the reader's system prefers (pydata-sphinx-theme reads it from the context).
html_context = {"default_mode": "auto"}
html_sourcelink_suffix = ""  # the download button serves NN_name.ipynb, not NN_name.ipynb.txt
html_last_updated_fmt = None
# Browsers ask for a favicon on every site; without one they log a 404 as a console error.
html_favicon = "favicon.svg"
html_show_sphinx = False
# The course's style and script (site/static/): wide code and tables scroll inside the content
# column with a visible scrollbar, one search box, search excerpts from the page's content.
html_static_path = ["static"]
html_css_files = ["course.css"]
html_js_files = [("course.js", {"defer": "defer"})]


def setup(app):
    app.config.html_static_path.append(str(Path(app.srcdir) / build.STATIC))
