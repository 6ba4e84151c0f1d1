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
    Term("AdaGrad", "An adaptive optimizer that divides each parameter's step by the square root of the sum of "
         "all its past squared gradients, so a parameter that has had large gradients takes ever smaller steps.",
         "04"),
    Term("Adam", "An optimizer that keeps running averages of each parameter's gradient (its *first moment*) and "
         "squared gradient (its *second moment*) and steps by their ratio, so each parameter moves by about the "
         "learning rate whatever its gradient's scale.", "04"),
    Term("autograd", "PyTorch's automatic differentiation: it records the operations done on tensors created "
         "with `requires_grad=True`, and `loss.backward()` then fills each such tensor's `.grad` with the "
         "derivative of the loss with respect to it.", "03"),
    Term("batch size", "How many training examples one minibatch holds: the gradient of one step is averaged "
         "over that many examples.", "03"),
    Term("BatchNorm", "Batch normalisation: a layer that rescales each channel of its input to mean 0 and "
         "variance 1 over the current minibatch (then by learned factors). It makes a network far less "
         "sensitive to the scale of its weights, and so to the learning rate.", "07"),
    Term("bias correction", "Dividing an exponential moving average that starts at 0 by $1-\\beta^t$ after $t$ "
         "values: the weights of the average then sum to 1, so its early values are no longer pulled towards 0. "
         "Adam corrects its moving averages the same way.", "04"),
    Term("condition number", "The ratio $\\kappa = \\lambda_{\\max}/\\lambda_{\\min}$ of a bowl's largest and "
         "smallest curvature: how much steeper its steepest direction is than its gentlest.", "02"),
    Term("contour line", "A curve along which the loss has one value (a level set of the loss), as on a map's "
         "height lines. A bowl's contour lines are ellipses around its minimum, close together where it is steep.",
         "01"),
    Term("convergence rate", "The factor by which a run's distance to the minimum shrinks per step, late in the run: "
         "below 1 the run converges, and the closer to 1, the slower.", "02"),
    Term("convolution", "A layer that slides the same small filter (here 3x3 pixels) over the whole image, so "
         "the same pattern is detected wherever it appears.", "07"),
    Term("covariance", "For a random vector $\\xi$ with mean zero, the matrix $\\mathbb E[\\xi\\xi^\\top]$: its "
         "diagonal holds each component's variance, the rest how pairs of components vary together.", "03"),
    Term("critical batch size", "The batch size beyond which a larger batch stops saving steps: with the learning rate "
         "tuned at every batch size, the steps to a target loss follow $S = S_{\\min}(1 + B_{\\text{crit}}/B)$, so "
         "below $B_{\\text{crit}}$ doubling the batch nearly halves the steps and above it hardly changes them "
         "(McCandlish et al. 2018).", "09"),
    Term("cross-entropy", "The loss of a classifier: minus the log of the probability the network gives the "
         "right class. A network that gives all ten classes the same probability scores $\\ln 10 \\approx 2.303$ "
         "on every image, whatever the image.", "06"),
    Term("curvature", "How fast the slope changes along a direction: the second derivative of the loss along "
         "it. On a quadratic bowl the curvatures along its axes are the eigenvalues of its matrix.", "01"),
    Term("dead unit", "A ReLU unit (a channel of a convolution, or a feature of a hidden layer) that outputs 0 "
         "for every input of a set: it passes no signal forward and no gradient back, so its own weights stop "
         "learning. A network whose units are nearly all dead predicts the same for every image; its loss sits at "
         "$\\ln 10 \\approx 2.30$ on ten classes.", "05"),
    Term("diverge", "A run diverges when its loss grows without bound instead of settling. On a bowl it then grows "
         "by a fixed factor per step, and the numbers soon overflow.", "01"),
    Term("edge of stability", "Where full-batch gradient descent trains on a network (Cohen et al. 2021): the "
         "sharpness stops rising at a value the learning rate sets and hovers there while the loss keeps falling, "
         "unevenly (lesson 08 predicts and measures the value).", "08"),
    Term("effective learning rate", "For SGD with momentum $\\beta$, $\\eta/(1-\\beta)$: the step per unit "
         "gradient on a steady slope, once the momentum buffer has built up. People compare SGD with and without "
         "momentum by it.", "04"),
    Term("eigenvalue", "The factor $\\lambda$ by which a matrix stretches one of its eigenvectors: $A v = "
         "\\lambda v$. For a bowl $\\tfrac12 w^\\top A w$ it is the curvature along that eigenvector.", "01"),
    Term("eigenvector", "A direction that a matrix only stretches: $A v = \\lambda v$. The number $\\lambda$ "
         "is its eigenvalue. A bowl's eigenvectors are its axes; the eigenvalues, its curvatures along them.",
         "01"),
    Term("epoch", "One pass over all the training examples: with $n$ examples and batch size $B$, about "
         "$n/B$ steps.", "03"),
    Term("eval mode", "The state `model.eval()` puts a PyTorch network in, for measuring rather than training: "
         "layers such as BatchNorm use their stored statistics instead of the minibatch's.", "07"),
    Term("exponential moving average", "A running average that forgets geometrically: "
         "$a_t = \\beta a_{t-1} + (1-\\beta) x_t$. It weighs the last $1/(1-\\beta)$ or so values, and lags "
         "behind a trend by about $\\beta/(1-\\beta)$ steps.", "06"),
    Term("fan-in", "The number of inputs of a layer: each output unit sums this many weighted inputs. For a "
         "hidden layer of a wide network it is the width; for the first layer, the number of input features.", "09"),
    Term("full-batch gradient descent", "Gradient descent whose every step uses the gradient of the loss over "
         "all the training examples at once: no minibatch noise, the same step from the same weights.", "08"),
    Term("generalization gap", "Accuracy on the training images minus accuracy on held-out images, both "
         "measured the same way: how much better the network does on what it trained on.", "07"),
    Term("good range", "The learning rates of a sweep around the best one whose final loss is at most a fixed "
         "factor (lesson 04: 1.1) above the best: how much room a learning rate has.", "04"),
    Term("good region", "The learning rates whose result (here the final validation loss) is within a stated "
         "margin of the best a grid search found: a range, not one number.", "06"),
    Term("gradient", "The vector of a function's partial derivatives: the direction in which the loss rises "
         "fastest. Gradient descent steps against it.", "01"),
    Term("gradient descent", "The rule $w \\leftarrow w - \\eta\\,\\nabla f(w)$, repeated: each step moves "
         "against the gradient, by the learning rate times the gradient.", "01"),
    Term("gradient noise scale", "$B_{\\text{simple}} = \\mathrm{tr}(\\Sigma)/|G|^2$: the summed variance of one "
         "example's gradient over the squared length of the full gradient. A minibatch gradient of $B$ examples "
         "has noise $\\mathrm{tr}(\\Sigma)/B$ beside the signal $|G|^2$; the two are equal at $B = B_{\\text{simple}}$ "
         "(McCandlish et al. 2018).", "09"),
    Term("grid search", "Trying each learning rate of a list (usually a log grid: equal ratios) in its own "
         "training run with everything else fixed, and comparing the results.", "06"),
    Term("heavy-ball momentum", "Polyak's method: keep a momentum buffer $b \\leftarrow \\beta b + \\nabla f$ and "
         "step $w \\leftarrow w - \\eta b$, so steps build up where successive gradients agree and cancel where they "
         "alternate. What `torch.optim.SGD(momentum=...)` computes.", "04"),
    Term("Hessian", "The matrix of a loss's second derivatives with respect to the parameters. Its "
         "eigenvalues are the curvatures of the loss surface; the largest is its sharpness.", "08"),
    Term("Hessian-vector product", "The product $Hv$ of the Hessian with a vector, computed without forming "
         "$H$: the gradient of $\\nabla L(\\theta)\\cdot v$, by differentiating twice (double backpropagation).",
         "08"),
    Term("Lanczos", "A method for the top eigenvalues of a symmetric matrix from matrix-vector products alone, like "
         "power iteration, but it keeps every product and finds the best estimate in the space they span, so it "
         "needs far fewer products when the top eigenvalues lie close together.", "08"),
    Term("learning rate", "The step size $\\eta$ (`lr` in code) of the update $w \\leftarrow w - \\eta\\,"
         "\\nabla f(w)$: how far each step moves, measured in units of the gradient.", "01"),
    Term("learning-rate schedule", "The learning rate as a function of the step (or epoch): constant, decayed in "
         "steps or smoothly, warmed up, cycled. In PyTorch a *scheduler* (`torch.optim.lr_scheduler`) rewrites the "
         "optimizer's learning rate each time its `step()` is called.", "05"),
    Term("linear scaling rule", "When the batch size is multiplied by $k$, multiply the learning rate by "
         "$k$ (Goyal et al. 2017, for SGD, with a warmup over the first epochs).", "09"),
    Term("local minimum", "A point lower than everything around it but not the lowest point of the surface. Its "
         "gradient is zero, so gradient descent can stop there.", "02"),
    Term("loss", "The number training makes small: a function of the parameters (here $f(w)$), lowest where the "
         "parameters are best.", "01"),
    Term("minibatch", "The small random set of training examples that one step's gradient is computed on.",
         "03"),
    Term("momentum buffer", "The running sum of past gradients that heavy-ball momentum keeps for each parameter "
         "(`state[\"momentum_buffer\"]` in PyTorch's SGD), each older gradient weighed down by $\\beta$ once per step.",
         "04"),
    Term("multilayer perceptron", "A network of fully connected layers (`nn.Linear`), each but the last followed "
         "by a nonlinearity such as a ReLU: the simplest deep network, no convolutions. Short: MLP.", "09"),
    Term("muP", "μP, the maximal update parametrization (Yang et al. 2022): a rule for the initial weights and "
         "per-layer learning rates of a network of any width, chosen so that one training step changes every "
         "layer's output by the same amount at every width. Its best learning rate stays put as the width "
         "grows.", "09"),
    Term("noise floor", "Where minibatch SGD with a constant learning rate settles: it never reaches the "
         "minimum but jitters around it, and the mean loss of that jitter above the lowest possible loss is the "
         "floor. It grows with the learning rate and the gradient noise and shrinks with the batch size.", "03"),
    Term("one-cycle schedule", "Smith's schedule: warm the learning rate up to a large peak over the first part of "
         "the run (30 % in PyTorch's `OneCycleLR`), then anneal it far below where it started.", "05"),
    Term("parametrization", "A rule saying how a network's initial weights and each layer's learning "
         "rate change with its width.", "09"),
    Term("per-example gradient", "The gradient of one training example's loss. Their mean is the full "
         "gradient $G$; their covariance $\\Sigma$ measures how much examples disagree.", "09"),
    Term("plateau", "A region where the loss is nearly flat. The gradient is small there, so the steps of "
         "gradient descent are short, and a run can take very long to cross it.", "02"),
    Term("positive definite", "A symmetric matrix $A$ is positive definite when $w^\\top A w > 0$ for every "
         "$w \\neq 0$, that is when all its eigenvalues are positive: then $\\tfrac12 w^\\top A w$ is a bowl with "
         "one minimum, at 0.", "01"),
    Term("power iteration", "Multiply a random vector by a symmetric matrix again and again, normalising each "
         "time: the direction of the eigenvalue of largest magnitude takes over, and $v^\\top A v$ of the unit vector "
         "estimates that eigenvalue.", "08"),
    Term("preconditioned sharpness", "For Adam, $\\lambda_{\\max}(P^{-1}H)$: the Hessian as Adam's per-coordinate "
         "step sizes $P^{-1}$ see it. It, not the plain sharpness, meets Adam's stability threshold.", "08"),
    Term("progressive sharpening", "The rise of the sharpness while a network trains with a learning rate below "
         "its edge: stable training tends to move the weights to sharper places.", "08"),
    Term("quadratic bowl", "The loss $f(w) = \\tfrac12 w^\\top A w$ with $A$ symmetric and positive definite: "
         "its gradient is $A w$, its minimum is at $w = 0$, and its axes are the eigenvectors of $A$.", "01"),
    Term("range test", "One short training run in which the learning rate grows by the same factor every "
         "step, from tiny to huge, recording the loss of each step (Smith's learning-rate finder); a rule then "
         "reads a learning rate off the curve.", "06"),
    Term("Rayleigh quotient", "$v^\\top A v / v^\\top v$: for an eigenvector of $A$ it is its eigenvalue, and for a "
         "vector near one it is a close estimate of it.", "08"),
    Term("RMSProp", "An adaptive optimizer that divides each parameter's step by the square root of an "
         "exponential moving average of its squared gradients (AdaGrad with a memory that fades); Adam adds "
         "momentum and bias correction to it. PyTorch spells it `RMSprop`.", "04"),
    Term("ReLU", "The activation $\\max(0, x)$: it passes positive inputs and outputs 0 for negative ones. A "
         "unit whose input is negative on every example outputs 0 always and gets no gradient: it is dead.",
         "07"),
    Term("sharpness", "The largest eigenvalue of the loss's Hessian, $\\lambda_{\\max}$: the curvature of the "
         "steepest direction, which sets the largest stable learning rate of gradient descent, $2/\\lambda_"
         "{\\max}$.", "08"),
    Term("square-root scaling rule", "When the batch size is multiplied by $k$, multiply the learning "
         "rate by $\\sqrt{k}$ (Malladi et al. 2022, for Adam and RMSprop, who also scale $1-\\beta_1$ and "
         "$1-\\beta_2$ by $k$).", "09"),
    Term("stability limit", "The largest learning rate at which gradient descent still converges from every "
         "start. Lesson 01 finds that it exists; lesson 02 says where it is on a bowl.", "01"),
    Term("standard parametrization", "SP: what `nn.Linear` and `torch.optim` give by default: every "
         "weight drawn within $\\pm 1/\\sqrt{\\text{fan-in}}$ and every layer stepping with the same learning "
         "rate, whatever the width.", "09"),
    Term("steps to tolerance", "How many steps a run needs until its loss is at most a fraction `tol` of where it "
         "started: a measure of speed that does not depend on how far from the minimum the run starts (on a bowl; "
         "it can still depend on the start's direction, except at the best learning rate).", "02"),
    Term("trace", "The sum of a square matrix's diagonal entries, $\\mathrm{tr}(A) = \\sum_i A_{ii}$ (also "
         "the sum of its eigenvalues). Two rules it obeys: $\\mathrm{tr}(A + B) = \\mathrm{tr}(A) + \\mathrm{tr}(B)$ "
         "and $\\mathrm{tr}(AB) = \\mathrm{tr}(BA)$; `np.trace(A)` computes it.", "03"),
    Term("update-to-weight ratio", "The length of one step's change of a layer's weights divided by the "
         "length of the weights: how big a step is, relative to what it changes.", "07"),
    Term("validation set", "Examples held out from training and used to measure and choose (e.g. the "
         "learning rate); the test set is then used once, at the end.", "07"),

    Term("warmup", "Starting a run at a small fraction of the learning rate and ramping it up (linearly, over the "
         "first steps or epochs) to the intended value.", "05"),
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
