"""course_lib: the helper package of the CNN course.

One module per idea, imported where needed (importing the package itself loads
nothing heavy):

- `runtime`: `setup_notebook()`, the first call of every notebook.
- `data`: the course's datasets, offline first, shaped like `keras.datasets`.
- `viz`: plotting helpers.
- `autodiff`: gradients through the Keras backend's automatic differentiation.
"""

__version__ = "0.1.0"
