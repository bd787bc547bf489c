"""Multi-token prediction in the pipeline's stage balance: the MTP block counts as the last stage's work.

Mechanism. DeepSeek-V3's multi-token-prediction (MTP) module is a full transformer block plus another pass through
the shared output head, placed after the main model (arXiv:2412.19437, section 2.2: "each MTP module consists of a
shared embedding layer, a shared output head, a Transformer block, and a projection matrix"). Under pipeline
parallelism it therefore sits on the last stage, next to the output head and the loss. The runs that train it
move decoder layers off that stage so that it does not become the slowest one, exactly as they do for the
embedding and the output head (perf.pipeline's balance):

- Megatron-Bridge's DeepSeek-V3 recipe builds its pipeline layouts with the MTP block and the loss as the last
  stage's last entries and fewer decoder layers beside them (NVIDIA-NeMo/Megatron-Bridge
  src/megatron/bridge/recipes/deepseek/deepseek_v3.py, set_deepseek_v3_pipeline_model_parallel_layout:
  ``last_layer = ["mtp"] * mtp_layers + ["loss"]``; for 16 stages ``[["embedding"] + ["decoder"] * 4] +
  [["decoder"] * 4] * 14 + [["decoder"] + last_layer]``: one decoder layer beside the MTP block and the loss
  where every other stage has four). Its performance configs pass the same shape as a string for the layouts
  the map lacks (scripts/performance/configs/deepseek/deepseek_workload_base_configs.py, GB300 and B200 MXFP8:
  ``pp_layout="Et*4|(t*4|)*14tmL"``; H100: ``"Et|(tt|)*30mL"``), Megatron-Core's layout grammar naming the
  MTP block ``m`` and the loss ``L``.
- The balance the layouts encode is the one perf.pipeline already solves for the embedding and the head: fewest
  layers on the stages that carry extra work. So the MTP block and its head pass enter that balance as part of
  the last stage's extra work, in layer units, instead of being added on top of a split made without them.

With h the output head's forward and backward seconds per micro-batch, l the seconds of the block the MTP module
runs (an MoE layer in an MoE model) and D the MTP depth, the last stage's extra work is::

    extra_last = h + D (l + h)

(the head once for the main model, then once more with the block for each MTP depth: section 2.2, "the output
head ... shared with the main model"). The step time already charges the last stage D (l + h) (perf.batch); the
balance only decides how many decoder layers sit beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def last_stage_s(head_s: Any, block_s: Any, depth: int) -> Any:
    """Seconds of extra work on the last pipeline stage per micro-batch: the output head ``head_s`` plus, for each of
    ``depth`` MTP modules, one block ``block_s`` and another head pass: h + D (l + h) (see the module docstring)."""
    head = np.asarray(head_s, dtype=float)
    return head + depth * (np.asarray(block_s, dtype=float) + head)
