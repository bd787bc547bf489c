"""Expert-parallel all-to-alls beside another micro-batch's computation (perf.ep_overlap), and the dispatchers the
bundled MoE rows run (their recipes name DeepEP or HybridEP: a per-destination profile)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from supercluster import catalog
from supercluster.perf import ep_overlap
from supercluster.validate.harness import dataset_csv


def test_each_all_to_all_hides_behind_one_chunk_by_hand():
    # ep_s = 4 s: four all-to-alls of a = 1 s. Forward 1 s: two chunks of 0.5 s; backward 5 - 1 = 4 s: two of 2 s.
    # exposed = 2 max(0, 1 - 0.5) + 2 max(0, 1 - 2) = 1 s, so 4 - 1 = 3 s hidden.
    assert float(ep_overlap.hidden_s(4.0, 1.0, 5.0, True)) == pytest.approx(3.0)
    # computation long enough everywhere: all 4 s hidden (the former aggregate min(ep, compute) agrees here)
    assert float(ep_overlap.hidden_s(4.0, 2.0, 6.0, True)) == pytest.approx(4.0)
    # no overlap, or no all-to-all: nothing hidden
    assert float(ep_overlap.hidden_s(4.0, 1.0, 5.0, False)) == 0.0
    assert float(ep_overlap.hidden_s(0.0, 1.0, 5.0, True)) == 0.0


def test_pairing_hides_less_than_the_aggregate_when_chunks_are_short():
    # ep 3 s (a = 0.75 s), forward 1 s (chunks of 0.5 s), backward 2 s (chunks of 1 s):
    # exposed = 2 max(0, 0.75 - 0.5) + 2 max(0, 0.75 - 1) = 0.5 s, so 2.5 s hidden, where the aggregate
    # min(ep, compute) = min(3, 3) would hide all 3 s: each all-to-all sees only its own chunk
    assert float(ep_overlap.hidden_s(3.0, 1.0, 3.0, True)) == pytest.approx(2.5)
    assert float(np.minimum(3.0, 3.0)) == 3.0


def test_dualpipe_always_overlaps_combined_1f1b_only_once_landed():
    dual = np.array([True, False])
    assert ep_overlap.overlapped(dual, False).tolist() == [True, False]
    expected = [True, ep_overlap.COMBINED_1F1B_IN_STEP_TIME]
    assert ep_overlap.overlapped(dual, True).tolist() == expected


def test_recipe_profiles_carry_the_dispatcher_and_overlap():
    bridge = catalog.software("megatron-bridge-2025")
    deepep = catalog.software("megatron-bridge-deepep-2025")
    assert (bridge.ep_dispatch, bridge.ep_a2a_overlap) == ("per-expert", False)
    assert (deepep.ep_dispatch, deepep.ep_a2a_overlap) == ("per-destination", False)
    assert catalog.software("megatron-bridge-deepep-overlap-2025").ep_a2a_overlap
    assert catalog.software("megatron-bridge-a2a-overlap-2025").ep_dispatch == "per-expert"
    assert catalog.software("megatron-core-deepep-overlap-2025").ep_dispatch == "per-destination"
    # the variants differ from their parent only in what they add
    assert deepep.grad_reduce_bytes == bridge.grad_reduce_bytes and deepep.fp8_param_gather == bridge.fp8_param_gather


FLEX = re.compile(r"deepep|hybridep", re.IGNORECASE)


@pytest.mark.parametrize("name", ["moe", "project"])
def test_rows_whose_recipe_names_deepep_run_a_per_destination_profile(name):
    """A row whose notes name DeepEP or HybridEP as its dispatcher (a recipe, a command, a table heading) must not
    be priced with Megatron's per-expert all-to-all (the ModelZoo long-context and GB200 rows were, before)."""
    with dataset_csv(name).open(newline="", encoding="utf-8") as fh:
        # a baseline row measured beside a DeepEP run names DeepEP in its notes but declares its own dispatcher
        rows = [
            r
            for r in csv.DictReader(fh)
            if FLEX.search(r.get("notes") or "") and "dispatcher: all-to-all" not in (r.get("notes") or "")
        ]
    assert rows
    wrong = [r["id"] for r in rows if catalog.software(r["software"]).ep_dispatch != "per-destination"]
    assert wrong == []
