"""Where one token's routed experts live: the destinations an expert-parallel dispatch must reach.

Experts are laid out rank-major (rank r holds experts r*E/n .. (r+1)*E/n - 1, as Megatron-Core and
NeMo AutoModel place them), ranks fill scale-up domains in order. A dispatch that sends a token once
per destination (DeepEP: once per node over RDMA, then once per rank over NVLink; DeepSeek-V3,
arXiv:2412.19437, section 3.2.2) moves as many copies as the distinct ranks and domains the token's
top-k experts sit on; this module gives their expected number for each router:

- ``learned``: top-k distinct experts, each expert equally likely (a balanced learned router). A block
  of b of the E experts misses all k with probability C(E - b, k) / C(E, k) (hypergeometric), so the
  expected blocks hit are B * (1 - C(E - b, k) / C(E, k)). Node-limited routing (DeepSeek-V3,
  section 2.1.2: at most M nodes per token) caps the domains at M and draws the ranks from M domains.
- ``fake-balanced``: the benchmark gate of NeMo AutoModel (FakeBalancedGate, nemo_automodel/components/
  moe/layers.py) gives token t the experts t*k .. t*k + k - 1 (mod E): perfectly balanced, and each
  token's experts are contiguous, so they sit on ceil-like few ranks. Averaged exactly over t.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb, gcd


def _blocks_hit_random(experts: int, topk: int, blocks: int) -> float:
    size = experts // blocks
    if experts - size < topk:
        return float(min(blocks, topk))
    return blocks * (1.0 - comb(experts - size, topk) / comb(experts, topk))


def _blocks_hit_contiguous(experts: int, topk: int, blocks: int) -> float:
    size = experts // blocks
    starts = experts // gcd(topk, experts)  # token starts cycle with this period
    total = 0
    for t in range(starts):
        first = (t * topk) % experts
        total += len({((first + j) % experts) // size for j in range(topk)})
    return total / starts


@lru_cache(maxsize=4096)
def destinations(
    experts: int, topk: int, ep: int, per_domain: int, router: str, node_limit: int | None
) -> tuple[float, float]:
    """(ranks, domains): expected distinct EP ranks and scale-up domains one token's top-k experts sit on.

    ``ep`` ranks hold ``experts`` / ``ep`` experts each; ``per_domain`` of them share a scale-up domain.
    """
    per_domain = max(1, min(per_domain, ep))
    domains = max(1, ep // per_domain)
    if router == "fake-balanced":
        return _blocks_hit_contiguous(experts, topk, ep), _blocks_hit_contiguous(experts, topk, domains)
    ranks = _blocks_hit_random(experts, topk, ep)
    hit = _blocks_hit_random(experts, topk, domains)
    if node_limit and node_limit < hit:
        # the token's experts are drawn from node_limit domains: their experts and ranks only
        sub_experts = experts * node_limit // domains
        ranks = _blocks_hit_random(sub_experts, topk, per_domain * node_limit)
        hit = float(node_limit)
    return ranks, hit
