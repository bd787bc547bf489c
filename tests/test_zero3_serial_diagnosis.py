"""scripts/zero3_serial_diagnosis.py (issue 14, fully sharded rows at scale): the ratio by hand and the check on the
Azure 1T row."""

import pytest

from supercluster import catalog
from supercluster.validate.harness import read_rows


@pytest.fixture(scope="module")
def diag(load_script):
    return load_script("zero3_serial_diagnosis")


def test_ratio_by_hand(diag):
    """Measured 30 s, model 20 s of which 2 s exposed data-parallel time: 30 - (20 - 2) = 12 s missing; over 8 s of
    traffic: ratio 1.5."""
    c = diag.SerialCheck("x", "s", 256, 50.0, 40.0, 20.0, 30.0, 2.0, 8.0)
    assert c.missing_s == pytest.approx(12.0)
    assert c.ratio == pytest.approx(1.5)


def test_serial_stacks_restores_the_catalog(diag):
    original = catalog.software
    with diag.serial_stacks():
        sw = catalog.software("fsdp-2024")
        assert not sw.dp_overlap and not sw.param_gather_overlap
    assert catalog.software is original
    assert catalog.software("fsdp-2024").dp_overlap


def test_azure_1t_row_misses_about_twice_its_traffic(diag):
    """The 1T row (1,024 A100, DeepSpeed 0.6.2, priced serial by perf.zero3_serial): its serial and plain pricings
    agree, and the measured step misses more than its whole priced ZeRO-3 traffic (ratio about 2.3)."""
    _, rows = read_rows("all")
    row = next(r for r in rows if r["id"] == "dsazure22-1t-1024-s1024-mb8")
    c = diag.check(row)
    assert c is not None and c.gpus == 1024
    assert c.serial_speed_error_pct == pytest.approx(c.speed_error_pct, abs=0.05)
    assert 1.8 < c.ratio < 2.8
    small = next(r for r in rows if r["id"] == "narayanan21-t1-1.7b")  # 32 GPUs, no ZeRO-3: not checked
    assert diag.check(small) is None
