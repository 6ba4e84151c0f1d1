"""Checks for lesson 03, stochastic gradients in PyTorch: the training loop (03.1), the noise floor predicted
from the first-order theory (03.2), and the diagnosis of a run's loss curve (03.3).

The training loop is judged by what it leaves behind: the learner's process trains a fresh
``nn.Linear`` on a regression problem built from the case (:func:`synthetic.make_linear_regression`,
seeded) and returns the minibatch losses and the trained weights; the judge rebuilds the same
problem and asks the weights to reach the noise floor of the data and to recover the true weights,
with tolerances wide enough for any order of minibatches.

The predicted floor is judged against the first-order formula computed from the case's matrices. The
runs to diagnose are real SGD runs on regression problems (:func:`course_utils.regression.run`), drawn
in each regime from the variant's generator; the judge knows the right diagnosis from theory
(:func:`regime`), not from a label carried in the case.
"""
from __future__ import annotations

import math

import numpy as np

from ..synthetic import make_linear_regression
from ._core import Check, as_array, as_number, expect, expect_close, register

W_TOLERANCE = 0.1   # largest error allowed on each recovered weight and on the bias


def _start_model(case: dict):
    """The untrained model of ``case``: ``nn.Linear`` initialised after ``torch.manual_seed(case['model_seed'])``."""
    import torch

    torch.manual_seed(case["model_seed"])
    return torch.nn.Linear(case["num_features"], 1)


def _data(case: dict):
    return make_linear_regression(num_samples=case["num_samples"], num_features=case["num_features"],
                                  noise_std=case["noise_std"], seed=case["data_seed"])


def _full_loss(data, weight: np.ndarray, bias: float) -> float:
    """Mean squared error of the linear model (weight, bias) on all of ``data``, in float64."""
    X, y = data.X.double().numpy(), data.y.double().numpy()
    with np.errstate(all="ignore"):
        return float(np.mean((X @ weight + bias - y) ** 2))


class TrainSgd(Check):
    id, name, points, kind = "03.1", "train_sgd", 3, "implement"
    hints = (
        "Each step has the same four parts, in the order the text of exercise 03.1 lists them: pick a "
        "minibatch, clear the old gradients, compute the loss on the minibatch and its gradient, update.",
        "torch adds each new gradient to what is already in .grad: unless the optimizer clears it every step, "
        "old gradients keep pushing. And the model you are given is the one to train (the check reads its "
        "weights afterwards).",
        "Check the shapes in your loss: model(X_batch) is a column (batch_size, 1) while y_batch is (batch_size,); "
        "subtracting one from the other broadcasts to a (batch_size, batch_size) matrix. Make them the same "
        "shape before you subtract.",
    )

    def cases(self, variant):
        if not variant.hidden:
            return [dict(num_samples=500, num_features=5, noise_std=0.3, data_seed=123, model_seed=0, lr=0.05,
                         num_steps=600, batch_size=16)]
        rng = variant.rng(self.id, "problems")
        return [dict(num_samples=int(rng.integers(400, 701)), num_features=int(rng.integers(2, 9)),
                     noise_std=round(float(rng.uniform(0.1, 0.3)), 3), data_seed=int(rng.integers(2 ** 31)),
                     model_seed=int(rng.integers(2 ** 31)), lr=round(float(rng.uniform(0.03, 0.08)), 4),
                     num_steps=int(rng.integers(500, 701)), batch_size=int(rng.integers(10, 33)))
                for _ in range(2)]

    def respond(self, train_sgd, case):
        data = _data(case)
        model = _start_model(case)   # seeds torch's generator too: the minibatches are reproducible
        settings = {k: case[k] for k in ("lr", "num_steps", "batch_size")}
        losses = train_sgd(model, data.X, data.y, **settings)
        kinds = sorted({type(x).__name__ for x in losses}) if isinstance(losses, (list, tuple)) else []
        return {"losses": losses, "kinds": kinds, "weight": model.weight.detach().reshape(-1),
                "bias": model.bias.detach().reshape(-1)}

    def judge(self, case, value):
        import torch

        n = case["num_steps"]
        expect(isinstance(value, dict), "train_sgd's answer could not be read.")
        expect(value.get("losses") is not None,
               "train_sgd returned None: return the list of minibatch losses (one per step).")
        losses = as_array(value["losses"], "the returned losses").reshape(-1)
        expect(losses.size == n, f"train_sgd(..., num_steps={n}) should return one loss per step, got "
                                 f"{losses.size}. Record each step's minibatch loss as a number (loss.item()).")
        kinds = value.get("kinds") or []
        expect(all(k in ("float", "int") for k in kinds),
               "train_sgd should return plain Python numbers, one per step (`loss.item()`), not tensors: a tensor "
               "that is kept holds on to its whole graph, and numpy cannot read it while it requires grad.")
        weight = as_array(value.get("weight"), "the model's weight").reshape(-1)
        bias = as_array(value.get("bias"), "the model's bias").reshape(-1)
        expect(weight.size == case["num_features"] and bias.size == 1, "the model's shape changed: train the "
               "`model` you are given, as it is.")
        data = _data(case)
        with torch.random.fork_rng(devices=[]):
            start = _start_model(case)
        w0, b0 = start.weight.detach().double().reshape(-1).numpy(), float(start.bias.detach())
        start_loss, final_loss = _full_loss(data, w0, b0), _full_loss(data, weight, float(bias[0]))

        accumulate = ("torch adds each backward() to the gradients already stored, so unless they are cleared "
                      "before every step, old gradients keep pushing (see 'The optimizer' in lesson 03).")
        expect(math.isfinite(final_loss) and np.all(np.isfinite(losses)),
               f"the loss became NaN or infinite during training: {accumulate}")
        expect(final_loss < start_loss * 1.001,
               f"the loss on all the data grew during training (from {start_loss:.3g} to {final_loss:.3g}): "
               f"{accumulate}")
        expect(not np.allclose(weight, w0, rtol=0, atol=1e-12),
               "the model you were given did not change: train that `model` (not a new one), and let the "
               "optimizer update its parameters every step (see 'The optimizer' in lesson 03).")
        true_w, true_b = data.true_w.double().numpy(), float(data.true_b)
        if np.max(np.abs(weight)) < 0.2 * np.max(np.abs(true_w)):
            expect(False, "the trained model hardly uses its inputs: it predicts about the same value for every "
                          "row. Look at the shapes inside your loss: model(X_batch) is a column, y_batch is not, "
                          "and subtracting them broadcasts to a matrix of every prediction minus every target.")
        short = ("Check that every one of the num_steps steps updates the model, and that the loss is the mean "
                 "squared error of the model's predictions against y on the same random rows.")
        floor = 1.5 * data.noise_std ** 2 + 0.02
        expect(final_loss <= floor,
               f"after training, the mean squared error on all the data is {final_loss:.3g}, not yet down at the "
               f"noise level of the data, which a working loop reaches in these steps. {short}")
        w_err = float(np.max(np.abs(weight - true_w)))
        b_err = abs(float(bias[0]) - true_b)
        expect(w_err < W_TOLERANCE and b_err < W_TOLERANCE,
               f"the loss on all the data is low, but the trained weights are not yet close to the ones that made "
               f"the data, which a working loop recovers in these steps. {short}")
        late = losses[n // 2:]
        rises = float(np.mean(np.diff(late) > 1e-4 * np.abs(late[:-1]))) if late.size > 2 else 1.0
        expect(rises >= 0.2,
               "the returned losses hardly ever go up at the end of training, as one full-batch loss falling "
               "smoothly would: each step should compute the loss and the gradient on a random minibatch of "
               "batch_size rows (its loss jitters from step to step), not on all the data.")


train_sgd = register(TrainSgd())


# --------------------------------------------------------------------------------------- 03.2 the noise floor

def _random_spd(rng: np.random.Generator, dim: int, low: float, high: float) -> np.ndarray:
    """A symmetric positive-definite matrix with eigenvalues drawn in [low, high] and random axes."""
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (q * rng.uniform(low, high, size=dim)) @ q.T


def _lesson_problem():
    """Lesson 03's least-squares problem (1,000 samples, 10 features, noise 0.5)."""
    from ..regression import least_squares

    data = make_linear_regression(num_samples=1000, num_features=10, noise_std=0.5, seed=0)
    return least_squares(data.X, data.y)


class PredictFloor(Check):
    id, name, points, kind = "03.2", "predict_floor", 2, "predict"
    hints = (
        "Take the trace of both sides of the first-order equation for S. The trace of a sum is the sum of the "
        "traces, and tr(SH) = tr(HS).",
        "The floor is the mean of the excess loss ½ δᵀHδ, and the mean of δᵀHδ is tr(HS) (S is the covariance of δ). "
        "So you need tr(HS), not S itself.",
        "Once you have tr(HS) in terms of lr, batch_size and the noise covariance, the hessian is not needed any "
        "more: np.trace(gradient_noise) gives tr(Σ). See 'Where the floor comes from' in lesson 03.",
    )

    def cases(self, variant):
        if not variant.hidden:
            problem = _lesson_problem()
            H, sigma = problem.hessian, problem.gradient_noise
            return [dict(lr=lr, batch_size=b, hessian=H.tolist(), gradient_noise=sigma.tolist())
                    for lr, b in ((0.01, 8), (0.16, 8), (0.04, 32))] + [
                dict(lr=0.05, batch_size=4, hessian=[[2.0, 0.0], [0.0, 0.5]], gradient_noise=[[1.0, 0.2], [0.2, 3.0]])]
        rng = variant.rng(self.id, "problems")
        cases = []
        for _ in range(3):
            dim = int(rng.integers(2, 8))
            H = _random_spd(rng, dim, 0.2, 5.0)
            sigma = _random_spd(rng, dim, 0.05, 4.0)
            cases.append(dict(lr=float(f"{10 ** rng.uniform(-3, -0.7):.3g}"), batch_size=int(rng.integers(1, 257)),
                              hessian=H.tolist(), gradient_noise=sigma.tolist()))
        return cases

    def respond(self, predict_floor, case):
        return predict_floor(case["lr"], case["batch_size"], np.array(case["hessian"]), np.array(case["gradient_noise"]))

    def judge(self, case, value):
        lr, b = case["lr"], case["batch_size"]
        noise, curvature = float(np.trace(case["gradient_noise"])), float(np.trace(case["hessian"]))
        what = f"predict_floor(lr={lr:g}, batch_size={b}, ...)"
        expect(value is not None, f"{what} returned None: return the predicted floor, one number.")
        got = as_number(value, what)
        want = lr * noise / (4 * b)
        expect_close(got, want, what=what, rtol=1e-6, atol=0.0, hint=(
            "Re-read 'Where the floor comes from' in lesson 03: the first-order equation for S, then what the floor "
            "is in terms of H and S."),
            mistakes={
                "off by a factor of 2: the floor is the mean of ½ δᵀHδ, half of tr(HS); and the trace of the "
                "left side, HS + SH, is twice tr(HS).": lr * noise / (2 * b),
                "off by a factor of 4: both halves matter, the ½ of the excess loss and the 2 from the trace of "
                "HS + SH.": lr * noise / b,
                "does not depend on the batch size: a minibatch of B rows has gradient noise Σ/B.": lr * noise / 4,
                "grows with the batch size: a larger minibatch averages more rows, so its gradient is less noisy.":
                    lr * noise * b / 4,
                "grows like lr squared: each step's kick has covariance lr²Σ/B, but the pull back towards the "
                "minimum is also proportional to lr (the lr·(HS + SH) side), and one lr cancels.":
                    lr ** 2 * noise / (4 * b),
                "uses the curvature where the gradient noise belongs: the floor is set by how noisy the gradient "
                "is, and the curvature cancels out of the traced equation.": lr * curvature / (4 * b),
            })


# --------------------------------------------------------------------------------------- 03.3 diagnose a run

DIAGNOSES = ("diverging", "still descending", "at its floor")
_MEANING = {
    "diverging": "a diverging run's loss grows: it ends far above where it started.",
    "still descending": "a run that is still descending ends clearly lower than it was a while before: compare "
                        "the average of its last stretch of measurements with the stretch before it (one "
                        "measurement jitters; an average over a stretch does not).",
    "at its floor": "a run on its floor has stopped falling: the average of its last stretch of measurements is "
                    "about that of the stretch before it, while single measurements jitter.",
}


def _diagnosis_problem(spec: dict):
    from ..regression import least_squares

    data = make_linear_regression(num_samples=spec["num_samples"], num_features=spec["num_features"],
                                  noise_std=spec["noise_std"], seed=spec["seed"])
    return least_squares(data.X, data.y)


def regime(problem, lr: float, num_steps: int) -> str:
    """Which diagnosis a run of ``num_steps`` SGD steps at ``lr`` from zero on ``problem`` deserves, from theory.

    Past the full-batch wall 2/λ_max even gradient descent diverges; otherwise the slowest direction's
    excess shrinks like exp(-2 lr λ_min t), so with 2 lr λ_min T below a few the run is still far from
    its floor at the end, and well above that it has long settled on it. (The runs the check draws lie
    far from the boundaries: the notebook's and the hidden ones alike.)
    """
    if lr > problem.max_stable_lr:
        return "diverging"
    return "still descending" if 2 * lr * problem.lambda_min * num_steps < 4 else "at its floor"


def diagnosis_run(spec: dict, lr: float, batch_size: int, num_steps: int, eval_every: int, seed: int) -> list:
    """The loss on all the data every ``eval_every`` steps of one SGD run from zero (capped at 1e30)."""
    from ..regression import run

    runs = run(_diagnosis_problem(spec), num_steps, batch_size, lr=lr, seeds=(seed,), eval_every=eval_every)
    return [float(v) for v in np.minimum(runs.losses[0, 0], 1e30)]


def _diagnosis_case(spec, kind, rng, num_steps, batch_size, eval_every, seed):
    problem = _diagnosis_problem(spec)
    if kind == "diverging":
        lr = problem.max_stable_lr * rng.uniform(1.02, 1.08)
    elif kind == "still descending":
        lr = rng.uniform(0.6, 1.3) / (2 * problem.lambda_min * num_steps)
    else:
        lr = min(rng.uniform(25, 60) / (2 * problem.lambda_min * num_steps),
                 0.3 * problem.sgd_max_stable_lr(batch_size))
    lr = float(f"{lr:.3g}")
    assert regime(problem, lr, num_steps) == kind, (kind, lr)
    return dict(losses=diagnosis_run(spec, lr, batch_size, num_steps, eval_every, seed), problem=spec, lr=lr,
                batch_size=batch_size, num_steps=num_steps, eval_every=eval_every, seed=seed)


class DiagnoseRun(Check):
    id, name, points, kind = "03.3", "diagnose_sgd_run", 2, "diagnose"
    answer = "diagnose_run"          # the learner's function (lesson 01 has a check of its own named diagnose_run)
    hints = (
        "Look at the four runs of the figure first and say in words what tells them apart: where each ends "
        "compared with where it started, and whether it is still going down at the end.",
        "One measurement jitters (minibatch noise), so compare averages over stretches: e.g. the mean of the last "
        "quarter of the measurements against the mean of the quarter before it.",
        "Test the biggest difference first: a run whose loss ends above its start is diverging. Of the others, one "
        "whose last stretch is clearly lower than the stretch before (by several per cent) is still descending; "
        "the rest have reached their floor.",
    )

    def cases(self, variant):
        if not variant.hidden:
            spec = dict(num_samples=1000, num_features=10, noise_std=0.5, seed=0)   # lesson 03's problem
            rng = variant.rng(self.id, "runs")
            kinds = ("at its floor", "still descending", "diverging", "still descending")
            return [_diagnosis_case(spec, kind, rng, 2000, b, 20, seed)
                    for seed, (kind, b) in enumerate(zip(kinds, (8, 8, 8, 32)))]
        rng = variant.rng(self.id, "runs")
        kinds = list(rng.permutation(DIAGNOSES)) + [str(rng.choice(DIAGNOSES))]
        cases = []
        for kind in kinds:
            spec = dict(num_samples=int(rng.integers(400, 2001)), num_features=int(rng.integers(2, 11)),
                        noise_std=round(float(rng.uniform(0.2, 1.0)), 3), seed=int(rng.integers(2 ** 31)))
            num_steps = int(rng.integers(10, 31)) * 100
            cases.append(_diagnosis_case(spec, kind, rng, num_steps, int(rng.choice([4, 8, 16, 32])),
                                         num_steps // int(rng.integers(40, 101)), int(rng.integers(2 ** 31))))
        return cases

    def respond(self, diagnose_run, case):
        return diagnose_run(list(case["losses"]))

    def judge(self, case, value):
        losses = case["losses"]
        what = f"diagnose_run on the run whose loss went from {losses[0]:.3g} to {losses[-1]:.3g}"
        expect(value is not None, f"{what} returned None: return one of {', '.join(map(repr, DIAGNOSES))}.")
        expect(isinstance(value, str) and value in DIAGNOSES,
               f"{what} returned {str(value)[:60]!r}: return one of {', '.join(map(repr, DIAGNOSES))}.")
        right = regime(_diagnosis_problem(case["problem"]), case["lr"], case["num_steps"])
        expect(value == right, f"{what}: {value!r} does not fit this run; {_MEANING[value]}")


predict_floor = register(PredictFloor())
diagnose_sgd_run = register(DiagnoseRun())
