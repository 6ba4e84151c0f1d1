"""One checker per exercise, grouped by lesson; ``REGISTRY`` maps exercise id to check.

Example (in a notebook, after the learner defined ``gd_step``):
    >>> from course_utils import checks
    >>> def gd_step(w, grad, lr):
    ...     return w - lr * grad
    >>> checks.gd_step(gd_step)
    [check 01.1] gd_step: PASSED
"""
from ._core import REGISTRY, VISIBLE, Check, CheckFailed, Variant, hidden_variant, hint
from .lesson01 import gd_step, run_gd
from .lesson02 import best_lr, max_stable_lr
from .lesson03 import train_sgd
from .lesson04 import adam, momentum_sgd
from .lesson05 import plateau_reductions, warmup_cosine_lr
from .lesson06 import smooth_losses, steepest_lr
from .lesson07 import diagnose, first_step_ratio, generalization_gap, pick_best_lr
from .lesson08 import hessian_vector_product, largest_stable_lr, power_iteration
from .lesson09 import mup_scaling, noise_scale_estimate, predict_lr

__all__ = ["REGISTRY", "VISIBLE", "Check", "CheckFailed", "Variant", "hidden_variant", "hint",
           "gd_step", "run_gd", "max_stable_lr", "best_lr", "train_sgd", "momentum_sgd", "adam",
           "warmup_cosine_lr", "plateau_reductions", "smooth_losses", "steepest_lr",
           "generalization_gap", "pick_best_lr",
           "hessian_vector_product", "power_iteration", "largest_stable_lr", "predict_lr", "noise_scale_estimate", "mup_scaling"]
