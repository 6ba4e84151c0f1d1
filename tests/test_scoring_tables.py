"""course_utils.scoring (per-example correctness in the loader's order) and course_utils.tables (HTML and text)."""
import numpy as np
import pytest
import torch

from course_utils import scoring, stats, tables, training


def test_correct_matches_evaluate_and_keeps_the_order_and_the_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3)).train()
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(7, 6, generator=g), torch.randint(0, 3, (7,), generator=g)) for _ in range(3)]
    right = scoring.correct(model, batches)
    assert right.shape == (21,) and set(np.unique(right)) <= {0.0, 1.0}
    assert right.mean() == pytest.approx(training.evaluate(model, batches)[1])
    with torch.no_grad():
        model.eval()
        by_hand = torch.cat([(model(x).argmax(1) == y).float() for x, y in batches]).numpy()
    model.train()
    assert np.array_equal(right, by_hand) and model.training       # eval mode for scoring, train mode put back
    d = stats.paired_difference(np.stack([right, right]), np.stack([right, 1 - right]))
    assert d.examples == 21 and d.seeds == 2
    with pytest.raises(ValueError, match="empty loader"):
        scoring.correct(model, [])


def test_table_text_and_html():
    t = tables.Table([{"lr": "0.01", "note": "a<b"}, {"lr": "0.1", "note": "x"}], caption="runs")
    assert str(t).splitlines() == ["runs", "lr    note", "0.01  a<b", "0.1   x"]
    html = t._repr_html_()
    assert "<caption>runs</caption>" in html and "a&lt;b" in html and html.count("<tr>") == 3
    for bad in ([], [{"a": 1}, {"b": 2}], ["row"]):
        with pytest.raises(ValueError, match="non-empty list of dicts"):
            tables.Table(bad)
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        tables.Table(["a", "b"], [[1, 2], [3]])
