import pytest

from supercluster import catalog


@pytest.fixture(scope="session")
def h100_cluster():
    return catalog.system("dgx-h100-superpod", gpus=1024)


@pytest.fixture(scope="session")
def a100_cluster():
    return catalog.system("dgx-a100-superpod", gpus=1024)
