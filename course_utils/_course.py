"""Where the course lives. Change the repository here (one edit), then run
``python -m course_utils.release`` to rewrite every notebook's Colab badge and install cell."""

REPOSITORY = "learning-rate-course/learning-rate-course"  # GitHub owner/name
BRANCH = "main"


def colab_url(notebook_path: str) -> str:
    """The "Open in Colab" address of a notebook given by its path in the repository."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook_path}"


def pip_url() -> str:
    """What pip installs the helper package from on Colab."""
    return f"git+https://github.com/{REPOSITORY}@{BRANCH}"


def checkout_root():
    """The repository's root folder when the package runs from a checkout (an editable install or
    ``PYTHONPATH``), else ``None`` (an installed wheel, as on Colab). The one place that decides it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    is_checkout = (root / "pyproject.toml").is_file() and (root / "notebooks" / "solutions").is_dir()
    return root if is_checkout else None


def shared_mini_cifar():
    """The CIFAR-10 mini subset that developer machines and CI keep beside the repository
    (``../shared/data/cifar10_mini.npz``), or ``None`` on a learner's machine."""
    root = checkout_root()
    if root is None:
        return None
    path = root.parent / "shared" / "data" / "cifar10_mini.npz"
    return path if path.is_file() else None
