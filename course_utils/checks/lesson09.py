"""Checks for lesson 09, the learning rate when the batch or the model grows."""
from __future__ import annotations

import math

import numpy as np

from ._core import Check, as_array, as_number, expect, expect_close, register

OPTIMIZER_RULE = {"SGD": 1.0, "Adam": 0.5}   # the exponent of the batch-size ratio each optimizer's rule uses


class PredictLr(Check):
    id, name, points, kind = "09.1", "predict_lr", 1, "predict"
    hints = (
        "Each optimizer has its own rule in the text above: one for SGD (Goyal et al.), one for Adam "
        "(Malladi et al.). Which is which?",
        "Both rules depend only on the ratio of the two batch sizes, new over old: a batch 8 times larger "
        "gives the same prediction from any starting batch size.",
        "A rule says by what power of that ratio to multiply the learning rate: the first power for one "
        "rule, the one-half power for the other. A smaller new batch gives a smaller learning rate.",
    )

    def cases(self, variant):
        if not variant.hidden:
            rows = [(0.1, 32, 256, "SGD"), (2e-3, 32, 256, "Adam"), (0.05, 64, 16, "SGD"), (1e-3, 128, 32, "Adam"),
                    (0.3, 16, 48, "SGD"), (4e-4, 10, 90, "Adam")]
        else:
            rng = variant.rng(self.id, "cases")
            rows = []
            for optimizer in ("SGD", "Adam", "SGD", "Adam", "SGD", "Adam"):
                old, new = rng.choice([4, 8, 12, 16, 24, 32, 64, 100, 128, 256, 512, 1000], size=2, replace=False)
                low, high = (-3.0, 0.0) if optimizer == "SGD" else (-4.5, -1.5)
                rows.append((float(10 ** rng.uniform(low, high)), int(old), int(new), optimizer))
        return [{"lr": lr, "batch_size": b, "new_batch_size": nb, "optimizer": opt} for lr, b, nb, opt in rows]

    def respond(self, predict_lr, case):
        return predict_lr(case["lr"], case["batch_size"], case["new_batch_size"], case["optimizer"])

    def judge(self, case, value):
        lr, old, new, optimizer = case["lr"], case["batch_size"], case["new_batch_size"], case["optimizer"]
        what = f"predict_lr(lr={lr:.3g}, {old} -> {new}, {optimizer!r})"
        got = as_number(value, what)
        ratio = new / old
        power = OPTIMIZER_RULE[optimizer]
        other = 1.5 - power
        if math.isclose(got, lr, rel_tol=1e-6):
            expect(False, f"{what} leaves the learning rate as it was: the lesson's rules change it with the batch size.")
        if math.isclose(got, lr * (1 / ratio) ** power, rel_tol=1e-6) or math.isclose(got, lr * (1 / ratio) ** other,
                                                                                     rel_tol=1e-6):
            expect(False, f"{what} moves the learning rate the wrong way: a larger batch averages away noise, so "
                          "it allows a larger step, and a smaller batch needs a smaller one.")
        if math.isclose(got, lr * ratio ** other, rel_tol=1e-6):
            expect(False, f"{what} uses the other optimizer's rule: re-read which rule the text gives for {optimizer}.")
        expect_close(got, lr * ratio ** power, what=what, rtol=1e-6,
                     hint="Re-read the scaling rule the text gives for this optimizer: it multiplies the learning "
                          "rate by a power of the ratio of the batch sizes.")


class NoiseScaleEstimate(Check):
    id, name, points, kind = "09.2", "noise_scale_estimate", 2, "implement"
    hints = (
        "Write the expected squared norm as a function of the batch size: a part that does not depend on B "
        "(the signal) plus a part that falls like 1/B (the noise). Two batch sizes give two equations.",
        "Plotted against 1/B, the expected squared norm is a straight line: its slope is tr(Σ) and its value "
        "at 1/B = 0 (an infinite batch) is |G|². Fit the line through the two points.",
        "Solve the two equations for the two unknowns; then b_simple is the batch size at which the noise "
        "part equals the signal part. Check your function on numbers you make up: choose |G|² and tr(Σ), "
        "compute the two squared norms, and see whether you get them back.",
    )

    def cases(self, variant):
        if not variant.hidden:
            rows = [(1.0, 50.0, 8, 512, 0.0), (0.02, 3.0, 4, 64, 0.0), (2.5, 400.0, 32, 1024, 0.05),
                    (0.3, 5.0, 16, 32, -0.02)]
        else:
            rng = variant.rng(self.id, "cases")
            rows = []
            for _ in range(4):
                small, big = sorted(rng.choice([2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], size=2, replace=False))
                rows.append((float(10 ** rng.uniform(-2, 1)), float(10 ** rng.uniform(0, 3)), int(small), int(big),
                             float(rng.uniform(-0.05, 0.05))))
        cases = []
        for grad_sq, trace, small, big, wobble in rows:   # measured averages: the expectation, off by a little noise
            cases.append({"sq_norm_small": (grad_sq + trace / small) * (1 + wobble),
                          "sq_norm_big": (grad_sq + trace / big) * (1 - wobble / 4),
                          "batch_small": small, "batch_big": big})
        return cases

    def respond(self, noise_scale_estimate, case):
        return noise_scale_estimate(case["sq_norm_small"], case["sq_norm_big"], case["batch_small"], case["batch_big"])

    def judge(self, case, value):
        small, big = case["sq_norm_small"], case["sq_norm_big"]
        b_small, b_big = case["batch_small"], case["batch_big"]
        what = f"noise_scale_estimate(..., batch_small={b_small}, batch_big={b_big})"
        got = as_array(value, what)
        expect(got.shape == (3,), f"{what} should return three numbers: grad_sq, trace, b_simple.")
        grad_sq = (b_big * big - b_small * small) / (b_big - b_small)
        trace = (small - big) / (1 / b_small - 1 / b_big)
        g, t, b = (float(v) for v in got)
        if math.isclose(g, big, rel_tol=1e-6) and not math.isclose(big, grad_sq, rel_tol=1e-6):
            expect(False, f"{what}: grad_sq is the big batch's squared norm, which still holds some noise: estimate "
                          "the signal of an infinitely large batch.")
        if math.isclose(t, b_small * small, rel_tol=1e-6) or math.isclose(t, b_big * big, rel_tol=1e-6):
            expect(False, f"{what}: trace treats one batch's squared norm as pure noise, but it also holds the "
                          "signal |G|²; use both batch sizes.")
        slope_in_b = (small - big) / (b_small - b_big)
        if math.isclose(t, slope_in_b, rel_tol=1e-6) or math.isclose(t, -slope_in_b, rel_tol=1e-6):
            expect(False, f"{what}: the expected squared norm is a straight line in 1/B, not in B.")
        if math.isclose(t, -trace, rel_tol=1e-6) or math.isclose(g, -grad_sq, rel_tol=1e-6):
            expect(False, f"{what} has a sign flipped: the smaller batch's gradient is the noisier one, so its "
                          "squared norm is the larger.")
        expect_close([g, t], [grad_sq, trace], what=f"{what}: grad_sq and trace", rtol=1e-6,
                     hint="Two batch sizes give two equations for the two unknowns |G|² and tr(Σ); solve them.")
        if math.isclose(b, grad_sq / trace, rel_tol=1e-6):
            expect(False, f"{what}: b_simple is upside down: it is a batch size, which grows with the noise.")
        expect_close(b, trace / grad_sq, what=f"{what}: b_simple", rtol=1e-6,
                     hint="b_simple is the batch size at which the noise part of the squared norm equals the signal.")


class MupScaling(Check):
    id, name, points, kind = "09.3", "mup_scaling", 2, "implement"
    hints = (
        "Start from the width multiplier m = 1: μP is written so that the base network is the standard one. "
        "Then ask, for each kind of layer, whether its fan-in grows with the width.",
        "An Adam step moves each weight by about lr, and the step's effect on an output unit adds up over the "
        "layer's fan-in inputs, all pulling the same way. A layer whose fan-in grows m-fold needs a step "
        "m times smaller to change its outputs by the same amount.",
        "The initial weights: PyTorch's default already shrinks them like 1/√fan-in, which keeps a hidden unit's "
        "initial input the same size at every width. The output layer needs more: its entries must shrink "
        "like 1/fan-in in all, so relative to the default, by the remaining factor.",
        "Check the limits: at m = 1 every layer gives (1, 1); the input layer gives (1, 1) at every width.",
    )

    def cases(self, variant):
        if variant.hidden:
            rng = variant.rng(self.id, "cases")
            mults = [float(m) for m in np.round(np.exp(rng.uniform(np.log(0.25), np.log(32.0), size=3)), 3)]
            mults.append(1.0)
        else:
            mults = [1.0, 2.0, 8.0, 0.5]
        return [{"kind": kind, "width_mult": m} for m in mults for kind in ("input", "hidden", "output")]

    def respond(self, mup_scaling, case):
        return mup_scaling(case["kind"], case["width_mult"])

    def judge(self, case, value):
        kind, m = case["kind"], case["width_mult"]
        what = f"mup_scaling({kind!r}, width_mult={m:g})"
        got = as_array(value, what)
        expect(got.shape == (2,), f"{what} should return two numbers: (init multiplier, lr multiplier).")
        init, lr = (float(v) for v in got)
        want_init = 1.0 if kind != "output" else 1.0 / math.sqrt(m)
        want_lr = 1.0 if kind == "input" else 1.0 / m
        same = lambda a, b: math.isclose(a, b, rel_tol=1e-6)   # noqa: E731
        if m != 1.0:
            if kind == "input" and not same(lr, 1.0):
                expect(False, f"{what}: the input layer's fan-in is the number of input features, which does not "
                              "grow with the width, so its steps need no change.")
            if kind != "input" and same(lr, 1.0):
                expect(False, f"{what} keeps the base learning rate: that is the standard parametrization, whose "
                              "wide layers take larger effective steps the wider they are.")
            if kind != "input" and same(lr, m):
                expect(False, f"{what} gives a wider layer a larger learning rate: its steps already add up over "
                              "more inputs.")
            if kind != "input" and same(lr, 1 / math.sqrt(m)):
                expect(False, f"{what} shrinks the learning rate like the square root of the width: the inputs of "
                              "an update all pull the same way, so their effects add up like the fan-in itself.")
            if kind == "output" and same(init, 1.0):
                expect(False, f"{what} keeps PyTorch's initial output weights: μP's output layer starts smaller, "
                              "the wider it is.")
            if kind == "output" and same(init, 1 / m):
                expect(False, f"{what} shrinks the output layer's initial weights too much: the multiplier is "
                              "relative to PyTorch's default, which already shrinks with the fan-in.")
            if kind == "hidden" and not same(init, 1.0):
                expect(False, f"{what}: PyTorch's default already keeps a hidden unit's initial input the same size "
                              "at every width, so the hidden layers' initial weights need no change.")
        expect_close([init, lr], [want_init, want_lr], what=what, rtol=1e-6,
                     hint="Re-read how μP treats each kind of layer: whether its fan-in grows with the width, and "
                          "what that does to an Adam step and to the initial weights.")


predict_lr = register(PredictLr())
noise_scale_estimate = register(NoiseScaleEstimate())
mup_scaling = register(MupScaling())
