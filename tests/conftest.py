import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from supercluster import catalog

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="session")
def h100_cluster():
    return catalog.system("dgx-h100-superpod", gpus=1024)


@pytest.fixture(scope="session")
def a100_cluster():
    return catalog.system("dgx-a100-superpod", gpus=1024)


def _load_script(name: str) -> ModuleType:
    """scripts/``name``.py as a module: run with the scripts folder on the path (scripts import their siblings, e.g.
    scale_decomposition) and registered under its name (dataclasses look their module up in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


@pytest.fixture(scope="session")
def load_script():
    """The loader of a script under scripts/ as a module, for the tests of its functions (one definition for all)."""
    return _load_script
