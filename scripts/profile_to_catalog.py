"""Turn a calibration profile into the `efficiency:` block of an accelerator in catalog/data/accelerators.yaml.

    python scripts/profile_to_catalog.py calibration/h100-sxm-80gb-2026-12-01.yaml

The catalog's default tables come from such profiles where the project has one (the profile file is kept
under calibration/ with its date and card), and from cited published measurements otherwise
(scripts/fit_efficiency.py).
"""

from __future__ import annotations

import sys

import yaml
from script_args import guarded

from supercluster.calibrate.profile import load


def main(path: str) -> None:
    prof = load(path)
    block = prof.efficiency.model_dump()
    block["source"] = (
        f"measured by supercluster calibrate on {prof.device} ({prof.date}, torch {prof.libraries.get('torch', '?')}, "
        f"driver {prof.driver or '?'}): {len(prof.gemm)} GEMM shapes, {len(prof.attention)} attention shapes; "
        f"profile {path}"
    )
    print(f"# {prof.accelerator or prof.device}")
    print(yaml.safe_dump({"efficiency": block}, sort_keys=False))


if __name__ == "__main__":
    guarded(lambda: main(sys.argv[1]), "profile_to_catalog.py PROFILE.yaml", paths=(1, 1))
