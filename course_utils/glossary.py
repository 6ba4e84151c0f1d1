"""The course's glossary: every term a lesson uses, defined once, in the words of the course.

Lessons link a term where they first use it, as ``[Hessian](glossary.md#hessian)`` (the anchor is
:func:`anchor`); ``python -m course_utils.release`` writes ``notebooks/glossary.md`` (and the same
page beside the instructor notebooks) from :data:`TERMS`, and a test checks that every link in a
lesson points at a term defined here.

To add a term: one :class:`Term` in :data:`TERMS` (kept in alphabetical order), with the lesson
that introduces it; then run the release command.

Example:
    >>> anchor("update-to-weight ratio")
    'update-to-weight-ratio'
    >>> link("Hessian")
    '[Hessian](glossary.md#hessian)'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PAGE = "glossary.md"


@dataclass(frozen=True)
class Term:
    """A term: its ``name`` as lessons write it, its ``definition`` (Markdown, may use $math$),
    and the ``lesson`` that introduces it."""

    name: str
    definition: str
    lesson: str


def anchor(name: str) -> str:
    """The term's anchor on the glossary page: lower case, words joined by hyphens (the same in
    JupyterLab, GitHub and the course's website, since the page's headings are written this way)."""
    words = re.findall(r"[a-z0-9]+", name.lower())
    if not words:
        raise ValueError(f"a glossary term needs letters or digits, got {name!r}.")
    return "-".join(words)


_TERMS = [
    Term("Adam", "An optimizer that keeps running averages of each parameter's gradient (its *first moment*) and "
         "squared gradient (its *second moment*) and steps by their ratio, so each parameter moves by about the "
         "learning rate whatever its gradient's scale.", "04"),
    Term("batch size", "How many training examples one minibatch holds: the gradient of one step is averaged "
         "over that many examples.", "03"),
    Term("BatchNorm", "Batch normalisation: a layer that rescales each channel of its input to mean 0 and "
         "variance 1 over the current minibatch (then by learned factors). It makes a network far less "
         "sensitive to the scale of its weights, and so to the learning rate.", "07"),
    Term("condition number", "The ratio $\\kappa = \\lambda_{\\max}/\\lambda_{\\min}$ of a bowl's largest and "
         "smallest curvature: how much steeper its steepest direction is than its gentlest.", "02"),
    Term("convolution", "A layer that slides the same small filter (here 3x3 pixels) over the whole image, so "
         "the same pattern is detected wherever it appears.", "07"),
    Term("critical batch size", "The batch size beyond which a larger batch stops saving steps: with the learning rate "
         "tuned at every batch size, the steps to a target loss follow $S = S_{\\min}(1 + B_{\\text{crit}}/B)$, so "
         "below $B_{\\text{crit}}$ doubling the batch nearly halves the steps and above it hardly changes them "
         "(McCandlish et al. 2018).", "09"),
    Term("curvature", "How fast the slope changes along a direction: the second derivative of the loss along "
         "it. On a quadratic bowl the curvatures along its axes are the eigenvalues of its matrix.", "01"),
    Term("dead unit", "A ReLU unit (a channel of a convolution, or a feature of a hidden layer) that outputs 0 "
         "for every input of a set: it passes no signal forward and no gradient back, so its own weights stop "
         "learning.", "07"),
    Term("eigenvector", "A direction that a matrix only stretches: $A v = \\lambda v$. The number $\\lambda$ "
         "is its eigenvalue. A bowl's eigenvectors are its axes; the eigenvalues, its curvatures along them.",
         "01"),
    Term("epoch", "One pass over all the training examples: with $n$ examples and batch size $B$, about "
         "$n/B$ steps.", "03"),
    Term("eval mode", "The state `model.eval()` puts a PyTorch network in, for measuring rather than training: "
         "layers such as BatchNorm use their stored statistics instead of the minibatch's.", "07"),
    Term("fan-in", "The number of inputs of a layer: each output unit sums this many weighted inputs. For a "
         "hidden layer of a wide network it is the width; for the first layer, the number of input features.", "09"),
    Term("generalization gap", "Accuracy on the training images minus accuracy on held-out images, both "
         "measured the same way: how much better the network does on what it trained on.", "07"),
    Term("gradient", "The vector of a function's partial derivatives: the direction in which the loss rises "
         "fastest. Gradient descent steps against it.", "01"),
    Term("gradient noise scale", "$B_{\\text{simple}} = \\mathrm{tr}(\\Sigma)/|G|^2$: the summed variance of one "
         "example's gradient over the squared length of the full gradient. A minibatch gradient of $B$ examples "
         "has noise $\\mathrm{tr}(\\Sigma)/B$ beside the signal $|G|^2$; the two are equal at $B = B_{\\text{simple}}$ "
         "(McCandlish et al. 2018).", "09"),
    Term("Hessian", "The matrix of a loss's second derivatives with respect to the parameters. Its "
         "eigenvalues are the curvatures of the loss surface; the largest is its sharpness.", "08"),
    Term("learning rate", "The step size $\\eta$ (`lr` in code) of the update $w \\leftarrow w - \\eta\\,"
         "\\nabla f(w)$: how far each step moves, measured in units of the gradient.", "01"),
    Term("linear scaling rule", "When the batch size is multiplied by $k$, multiply the learning rate by "
         "$k$ (Goyal et al. 2017, for SGD, with a warmup over the first epochs).", "09"),
    Term("minibatch", "The small random set of training examples that one step's gradient is computed on.",
         "03"),
    Term("muP", "μP, the maximal update parametrization (Yang et al. 2022): a rule for the initial weights and "
         "per-layer learning rates of a network of any width, chosen so that one training step changes every "
         "layer's output by the same amount at every width. Its best learning rate stays put as the width "
         "grows.", "09"),
    Term("parametrization", "A rule saying how a network's initial weights and each layer's learning "
         "rate change with its width.", "09"),
    Term("per-example gradient", "The gradient of one training example's loss. Their mean is the full "
         "gradient $G$; their covariance $\\Sigma$ measures how much examples disagree.", "09"),
    Term("ReLU", "The activation $\\max(0, x)$: it passes positive inputs and outputs 0 for negative ones. A "
         "unit whose input is negative on every example outputs 0 always and gets no gradient: it is dead.",
         "07"),
    Term("sharpness", "The largest eigenvalue of the loss's Hessian, $\\lambda_{\\max}$: the curvature of the "
         "steepest direction, which sets the largest stable learning rate of gradient descent, $2/\\lambda_"
         "{\\max}$.", "08"),
    Term("square-root scaling rule", "When the batch size is multiplied by $k$, multiply the learning "
         "rate by $\\sqrt{k}$ (Malladi et al. 2022, for Adam and RMSprop, who also scale $1-\\beta_1$ and "
         "$1-\\beta_2$ by $k$).", "09"),
    Term("standard parametrization", "SP: what `nn.Linear` and `torch.optim` give by default: every "
         "weight drawn within $\\pm 1/\\sqrt{\\text{fan-in}}$ and every layer stepping with the same learning "
         "rate, whatever the width.", "09"),
    Term("update-to-weight ratio", "The length of one step's change of a layer's weights divided by the "
         "length of the weights: how big a step is, relative to what it changes.", "07"),
    Term("validation set", "Examples held out from training and used to measure and choose (e.g. the "
         "learning rate); the test set is then used once, at the end.", "07"),

    Term("width", "The number of units of a network's hidden layers.", "09"),]
TERMS: dict[str, Term] = {anchor(t.name): t for t in _TERMS}


def link(name: str, text: str | None = None) -> str:
    """A Markdown link from a lesson to the term ``name`` on the glossary page (which must define it)."""
    key = anchor(name)
    if key not in TERMS:
        raise ValueError(f"{name!r} is not in the glossary; add a Term to course_utils/glossary.py.")
    return f"[{text or name}]({PAGE}#{key})"


def markdown() -> str:
    """The glossary page: one section per term, alphabetical, each saying which lesson introduces it."""
    lines = ["# Glossary", "",
             "The terms the lessons use, each defined once. Lessons link here where they first use a term.",
             "Generated by `python -m course_utils.release` from `course_utils/glossary.py`; do not edit.", ""]
    for key in sorted(TERMS, key=lambda k: TERMS[k].name.lower()):
        term = TERMS[key]
        lines += [f"### {key.replace('-', ' ')}", "",
                  f"**{term.name}**: {term.definition} *(Lesson {term.lesson}.)*", ""]
    return "\n".join(lines)
