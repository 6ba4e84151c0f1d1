"""Small results of full-scale runs that a lesson lays beside a learner's own.

``reference_07.json`` (lesson 07's CNN on all of CIFAR-10) is written on a GPU by
``python -m course_utils.reference`` in a checkout. The files live inside the package so that
the installed wheel (Colab's ``pip install --no-deps git+...``) ships them as package data and
:func:`course_utils.reference.default_path` finds them in the same place from a checkout and
from an install. Commit a file here only from a real GPU run, and keep it small (a few hundred
KiB at most). No code lives here.
"""
