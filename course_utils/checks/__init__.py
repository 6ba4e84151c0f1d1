"""One checker per exercise, grouped by lesson; ``REGISTRY`` maps exercise id to check.

Example (in a notebook, after the learner defined ``gd_step``):
    >>> from course_utils import checks
    >>> def gd_step(w, grad, lr):
    ...     return w - lr * grad
    >>> checks.gd_step(gd_step)
    [check 01.1] gd_step: PASSED
"""
from ._core import REGISTRY, VISIBLE, Check, CheckFailed, Variant, hidden_variant, hint
from .lesson01 import diagnose_run, gd_step, loss_factor, run_gd
from .lesson02 import best_lr, max_stable_lr, steps_at_best
from .lesson03 import diagnose_sgd_run, predict_floor, train_sgd
from .lesson04 import adam, heavy_ball_max_lr, momentum_sgd, yours_or_ours
from .lesson05 import diagnose_schedule_run, plateau_reductions, warmup_cosine_lr
from .lesson06 import first_rise_lr, smooth_losses, steepest_lr
from .lesson07 import diagnose, first_step_ratio, generalization_gap, pick_best_lr
from .lesson08 import edge_sharpness, hessian_vector_product, largest_stable_lr, power_iteration
from .lesson09 import mup_scaling, noise_scale_estimate, predict_lr

__all__ = ["REGISTRY", "VISIBLE", "Check", "CheckFailed", "Variant", "hidden_variant", "hint",
           "gd_step", "run_gd", "loss_factor", "diagnose_run",
           "max_stable_lr", "best_lr", "steps_at_best",
           "train_sgd", "predict_floor", "diagnose_sgd_run",
           "momentum_sgd", "heavy_ball_max_lr", "adam", "yours_or_ours",
           "warmup_cosine_lr", "plateau_reductions", "diagnose_schedule_run",
           "smooth_losses", "steepest_lr", "first_rise_lr",
           "generalization_gap", "pick_best_lr", "first_step_ratio", "diagnose",
           "hessian_vector_product", "power_iteration", "largest_stable_lr", "edge_sharpness",
           "predict_lr", "noise_scale_estimate", "mup_scaling"]
