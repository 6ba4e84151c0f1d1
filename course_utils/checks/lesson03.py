"""Checks for lesson 03, stochastic gradients in PyTorch.

The training loop is judged by what it leaves behind: the learner's process trains a fresh
``nn.Linear`` on a regression problem built from the case (:func:`synthetic.make_linear_regression`,
seeded) and returns the minibatch losses and the trained weights; the judge rebuilds the same
problem and asks the weights to reach the noise floor of the data and to recover the true weights,
with tolerances wide enough for any order of minibatches.
"""
from __future__ import annotations

import math

import numpy as np

from ..synthetic import make_linear_regression
from ._core import Check, as_array, expect, register

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
        return {"losses": losses, "weight": model.weight.detach().reshape(-1),
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


train_sgd = register(TrainSgd())
