"""Developer commands of the course repository (never shipped in the wheel).

* :mod:`tools.wheel_install` -- build the wheel from the checkout, install it non-editable in an
  isolated environment, run notebooks with it from outside the repository;
* :mod:`tools.colab_like` -- ``python -m tools.colab_like``: every instructor notebook in a
  Colab-like environment (Python 3.13, torch 2.11, ipywidgets 7);
* :mod:`tools.lab` -- how ``./course.sh lab`` starts JupyterLab (shared with the browser tests);
* ``tools/execute_notebooks.py`` -- the notebook runner that those environments' interpreters run.
"""
