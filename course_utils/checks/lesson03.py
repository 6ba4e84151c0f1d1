"""Checks for lesson 03, stochastic gradients in PyTorch."""
from __future__ import annotations

import math

import numpy as np

from ..synthetic import make_linear_regression
from ._core import as_array, expect, exercise


def problem(hidden: bool = False):
    """The regression problem and settings the lesson-03 loop check uses; ``hidden`` gives another."""
    if hidden:
        data = make_linear_regression(num_samples=400, num_features=4, noise_std=0.2, seed=2024)
        return data, dict(lr=0.08, num_steps=500, batch_size=10)
    data = make_linear_regression(num_samples=500, num_features=5, noise_std=0.3, seed=123)
    return data, dict(lr=0.05, num_steps=600, batch_size=16)


@exercise("03.1", "train_sgd", points=3)
def train_sgd(train_sgd_fn, *, hidden: bool = False) -> None:
    """Check ``train_sgd(model, X, y, lr, num_steps, batch_size)`` trains ``model`` with minibatch SGD.

    The loop is judged by its result: the full-data mean squared error it reaches (close to the
    noise level) and the weights and bias it recovers (close to the true ones), with tolerances
    wide enough for any order of minibatches.
    """
    import torch

    data, settings = problem(hidden)
    num_features = data.X.shape[1]
    torch.manual_seed(0)
    model = torch.nn.Linear(num_features, 1)
    with torch.no_grad():
        start_loss = float(((model(data.X).squeeze(-1) - data.y) ** 2).mean())
    losses = train_sgd_fn(model, data.X, data.y, **settings)

    expect(losses is not None, "train_sgd returned None: return the list of minibatch losses (one per step).")
    losses = as_array(losses, "the returned losses").ravel()
    expect(losses.size == settings["num_steps"],
           f"train_sgd(..., num_steps={settings['num_steps']}) should return one loss per step "
           f"({settings['num_steps']}), got {losses.size}. Append loss.item() once per step.")
    with torch.no_grad():
        final_loss = float(((model(data.X).squeeze(-1) - data.y) ** 2).mean())
        weight = model.weight.detach().cpu().numpy().ravel()
        bias = float(model.bias.detach().cpu())
    noise = data.noise_std ** 2
    accumulate = ("gradients add up from step to step unless you call optimizer.zero_grad() before "
                  "loss.backward() in every step.")
    expect(math.isfinite(final_loss) and np.all(np.isfinite(losses)), f"the loss became NaN or infinite: {accumulate}")
    expect(final_loss < start_loss * 1.001,
           f"the loss on all the data grew from {start_loss:.3g} to {final_loss:.3g}: {accumulate}")
    expect(final_loss < start_loss * 0.999,
           f"the model did not change (loss {start_loss:.3g} before and {final_loss:.3g} after): train the "
           "`model` you are given, and call loss.backward() then optimizer.step() every step.")
    expect(final_loss <= 1.5 * noise + 0.02,
           f"after training, the mean squared error on all the data is {final_loss:.3g}, but the noise level is "
           f"{noise:.3g}: the loop should get close to it. Use torch.optim.SGD(model.parameters(), lr=lr), and in "
           "each step zero_grad(), compute the mean squared error on a random minibatch of batch_size rows, "
           "backward(), step(). Note that model(X_batch) has shape (batch_size, 1): use .squeeze(-1) so it "
           "lines up with y_batch.")
    w_err = float(np.max(np.abs(weight - data.true_w.numpy())))
    b_err = abs(bias - float(data.true_b))
    expect(w_err < 0.1 and b_err < 0.1,
           f"the recovered parameters are off from the true ones (largest weight error {w_err:.3g}, bias error "
           f"{b_err:.3g}; tolerance 0.1). Check that the loss is the mean of (model(X_batch).squeeze(-1) - "
           "y_batch) ** 2.")
