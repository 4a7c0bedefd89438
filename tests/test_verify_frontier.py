"""The branch and bound's open subproblems: adding and taking the lowest keeps every
field of every subproblem together, whatever the order of operations."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.verification.frontier import Frontier


def subproblems(ids, values):
    """A state shaped like relu_split's, every field derived from the id so a row
    that lost its fields would show."""
    ids = np.asarray(ids)
    return {
        "phases": [ids[:, None].astype(np.int8) % 3 - 1, np.tile(ids[:, None], (1, 4))],
        "paths": [(int(i), "path") for i in ids],
        "value": np.asarray(values, dtype=np.float64),
        "X": ids[:, None, None] * np.ones((1, 2, 3)),
        "bounds": [(ids[:, None] - 0.5, ids[:, None] + 0.5)],
        "warm": {"alpha": {0: ids[:, None, None] * 0.25 + np.zeros((1, 1, 4))}},
    }


def assert_whole(state):
    ids = np.array([path[0] for path in state["paths"]], dtype=np.int64)
    expected = subproblems(ids, state["value"])
    np.testing.assert_array_equal(state["phases"][0], expected["phases"][0])
    np.testing.assert_array_equal(state["phases"][1], expected["phases"][1])
    np.testing.assert_array_equal(state["X"], expected["X"])
    for (L, U), (eL, eU) in zip(state["bounds"], expected["bounds"], strict=True):
        np.testing.assert_array_equal(L, eL)
        np.testing.assert_array_equal(U, eU)
    np.testing.assert_array_equal(
        state["warm"]["alpha"][0], expected["warm"]["alpha"][0]
    )
    assert state["phases"][0].dtype == np.int8
    assert isinstance(state["bounds"][0], tuple) and isinstance(state["paths"], list)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(-50, 50), min_size=0, max_size=40),
            st.integers(0, 30),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_pops_the_lowest_with_all_their_fields(rounds):
    frontier, model, next_id = Frontier(), {}, 0
    for values, take in rounds:
        ids = list(range(next_id, next_id + len(values)))
        next_id += len(values)
        if values:
            frontier.push(subproblems(ids, values))
            model.update(zip(ids, values, strict=True))
        assert len(frontier) == len(model)
        if next_id == 0:
            continue  # nothing was ever added: nothing to take
        take = min(take, len(model))
        state = frontier.pop(frontier.lowest(take))
        assert_whole(state)
        got = [path[0] for path in state["paths"]]
        # lowest first, and no value left behind is below any taken
        assert list(state["value"]) == sorted(model[i] for i in got)
        for i in got:
            del model[i]
        if got and model:
            assert max(state["value"]) <= min(model.values())
        assert sorted(frontier.value.tolist()) == sorted(model.values())


def test_columns_are_the_open_subproblems():
    frontier = Frontier()
    frontier.push(subproblems([0, 1, 2], [2.0, -1.0, 0.5]))
    frontier.pop([1])
    assert sorted(frontier.column("X")[:, 0, 0].tolist()) == [0.0, 2.0]
    assert len(frontier) == 2


def test_nbytes_counts_the_open_rows_of_every_field():
    frontier = Frontier()
    state = subproblems([0, 1, 2], [2.0, -1.0, 0.5])
    per_row = (
        sum(
            a[:1].nbytes
            for a in (
                state["value"],
                state["X"],
                *state["phases"],
                *state["bounds"][0],
                state["warm"]["alpha"][0],
            )
        )
        + np.empty(1, dtype=object).nbytes
    )  # paths: one pointer each
    frontier.push(state)
    assert frontier.nbytes == 3 * per_row
    frontier.pop([0, 2])
    assert frontier.nbytes == per_row
