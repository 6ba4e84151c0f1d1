import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from course_utils import alt_text  # noqa: E402


def test_describe_names_each_panel_and_what_it_draws():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2], label="train")
    axes[0].plot([2, 3], label="validation")
    axes[0].legend()
    axes[0].set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    axes[1].semilogy([1, 10])
    axes[1].set(xlabel="step", ylabel="loss")
    fig.suptitle("Adam, plain CNN")
    text = alt_text.describe(fig)
    plt.close(fig)
    assert text == ("Figure: Adam, plain CNN. Panel 1: accuracy: plot of accuracy against epoch, showing train and "
                    "validation. Panel 2: Plot of loss (log scale) against step.")


def test_describe_a_picture_and_many_lines():
    fig, ax = plt.subplots()
    for i in range(10):
        ax.plot([0, i], label=f"run {i}")
    text = alt_text.describe(fig)
    plt.close(fig)
    assert "showing run 0, run 1" in text and "and 2 more" in text


@pytest.mark.slow
def test_a_notebook_figure_carries_its_alt_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfrom course_utils import runtime\nrt = runtime.setup(seed=0)\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nax.set(title='loss', xlabel='step', ylabel='loss')\nplt.show()")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    [png] = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert png["metadata"]["image/png"]["alt"] == "Figure: loss. Plot of loss against step."
