"""The in-process engine's threads (pipelines/batch/local_threads.py): every table once, errors raised."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from pipelines.batch.local_threads import threaded_map


def _tables(n: int, fail_at: int | None = None) -> Iterator[pa.Table]:
    for i in range(n):
        if i == fail_at:
            raise ValueError("preparation failed")
        yield pa.table({"i": [i] * (i + 1)})


class Doubler:
    def __call__(self, table: pa.Table) -> pa.Table:
        return pa.table({"i": [2 * v for v in table.column("i").to_pylist()]})


def test_every_table_goes_through_one_of_the_replicas_once() -> None:
    out = list(threaded_map(_tables(9), Doubler, replicas=2))
    assert sorted(t.column("i")[0].as_py() for t, _ in out) == [2 * i for i in range(9)]
    assert sorted(rows for _, rows in out) == list(range(1, 10))


def test_an_error_in_preparation_or_in_a_model_is_raised_to_the_caller() -> None:
    with pytest.raises(ValueError, match="preparation failed"):
        list(threaded_map(_tables(5, fail_at=3), Doubler, replicas=2))

    def broken() -> Doubler:
        raise RuntimeError("model failed to load")

    with pytest.raises(RuntimeError, match="model failed to load"):
        list(threaded_map(_tables(5), broken, replicas=2))
