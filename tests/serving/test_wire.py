"""``_Wire``'s SSE fast path writes exactly what ``SSEEncoder.encode_message`` writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lgstream.serving._wire import _Wire
from lgstream.serving.stores import StoredEvent
from lgstream.sinks import SSEEncoder

texts = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    seqs=st.lists(st.integers(0, 10**6), min_size=1, max_size=5),
    data=texts,
    name=st.sampled_from(["token", "message", "error", "run_finished"]),
    retry=st.one_of(st.none(), st.integers(1, 5000)),
)
def test_the_fast_path_is_encode_message(
    seqs: list[int], data: str, name: str, retry: int | None
) -> None:
    wire = _Wire("run-1", "sse", retry)
    reference = SSEEncoder(retry=retry)
    for seq in seqs:
        expected = reference.encode_message(data, event=name, id=f"run-1:{seq}" if seq else None)
        assert wire.encode(StoredEvent(seq, name, data)) == expected
