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
balance only decides how many decoder layers sit beside it. Which stacks balance it is a fact of the stack
(``SoftwareProfile.mtp_stage_balance``): NeMo 2.0's DeepSeek-V3 performance script instead fixes the end stages at
64 // pp - 1 and 64 // pp - 2 layers whatever the MTP depth (NVIDIA/NeMo scripts/performance/llm/
pretrain_deepseek_v3.py, num_layers_in_first_pipeline_stage / num_layers_in_last_pipeline_stage), close to the
split without the block, so it keeps the old split.

Check (tests/test_mtp_stage.py): with the block in the balance the decoder layers per rank of four Megatron-Bridge
rows are exactly their recipes' layouts: 256 GB200, PP 4 x VPP 4: 16/16/16/13; 256 B200, PP 8 x VPP 2: 8 x 7 and 5;
256 GB300, PP 2 x VPP 8: 32/29; 256 B200, PP 16: 4 x 15 and 1 (the split without it: 15/16/16/14,
7/7/8/8/8/8/8/7, 31/30 and 3, 4 x 14, 2, each with the block on top of its last rank).

Verdict at the time of landing (validate all, 743 predicted rows): all rows 9.38% -> 9.35% in sample,
leave-one-source-out 9.45% -> 9.42%; FP8 MoE 16.2% -> 15.7%, MXFP8 MoE 14.4% -> 14.2% (mean signed -12.5% -> -10.8%);
the Megatron-Bridge DeepSeek-V3 rows with MTP move towards their measurements (GB200 26.04.01 -12.6% -> -7.4%, B200
26.04.01 -42.3% -> -31.5%, H100 25.09 -26.2% -> -10.8%, GB300 26.06 -36.4% -> -34.5%) except the two that were already
fast or near (B300 26.04.01 -3.0% -> +6.3%, B200 25.11 +5.3% -> +18.7%); the published set is unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def last_stage_s(head_s: Any, block_s: Any, depth: int) -> Any:
    """Seconds of extra work on the last pipeline stage per micro-batch: the output head ``head_s`` plus, for each of
    ``depth`` MTP modules, one block ``block_s`` and another head pass: h + D (l + h) (see the module docstring)."""
    head = np.asarray(head_s, dtype=float)
    return head + depth * (np.asarray(block_s, dtype=float) + head)
