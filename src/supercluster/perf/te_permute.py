"""Transformer Engine 2.1-2.5's fused MoE permute and unpermute: kernels that visit every expert for every token.

What the stacks ran. Megatron-Core's all-to-all dispatcher with ``--moe-permute-fusion`` calls Transformer Engine's
mask-map permutation (megatron/core/transformer/moe/moe_utils.py at 7094270, the DGX Cloud v25.05 recipes'
MEGATRON_COMMIT: "if fused and probs is not None: ... return fused_permute_with_probs(tokens, probs, routing_map,
num_out_tokens=num_out_tokens)", taken before the drop-and-pad branch; the combine's ``unpermute(..., fused=
self.config.moe_permute_fusion, ...)`` likewise). The NeMo DeepSeek-V3 and Llama 4 Maverick performance scripts
turn it on (NVIDIA/NeMo 7a8f1cc, scripts/performance/llm/pretrain_deepseek_v3.py and pretrain_llama4_e128.py:
"recipe.model.config.moe_permute_fusion = True"), and the NeMo 25.04 containers pin TransformerEngine bee4649c
(2025-03-18; NeMo v2.3.0 and v2.3.1 requirements/manifest.json).

The kernel (TransformerEngine bee4649c, transformer_engine/pytorch/triton/permutation.py, the same in every TE
from v2.1, where PR 1373 added it, to v2.5): one Triton program per token walks the hidden row in blocks, and for
every block loops ``for expert_idx in range(num_experts)``, reading ``row_id_map[expert_idx, token]`` from an
expert-major [E, T] map and writing the block to each expert that holds the token (``_permute_kernel``); the
unpermute sums the copies the same way (``_unpermute_kernel``). The work per token is E map reads per block, not
k, so the kernels are slow when k << E. TE PR 1927 ("[PyTorch] Optimize the performance of permute fusion
kernels", merged 2025-07-14 as dc97cc9e, first released in v2.6: v2.5 lacks it, v2.6 contains it) rebuilt the map
token-major with each token's k destinations listed first ("For `topk << num_experts` (such as top 8 out of 256
experts) cases, the performance of the original implementation is bad. This PR optimizes the permute fusion
kernels", hxbai, 2025-07-04), and added a benchmark at DeepSeek-V3's shape (tests/pytorch/test_permutation.py:
num_tokens 4096, num_expert 256, hidden_size 7168, topK 8). NVIDIA's DeepSeek-V3 GB200 guide (NVIDIA/Megatron-LM
docs/discussions/deepseek-v3-gb200-optimization, 2025-10-30, sections 2 and 2.1.1) saw it in its baseline
profile ("The length of the Permute kernel is clearly abnormal") and quotes the fix: "TE PR 1927 significantly
improves performance when top-k is much smaller than the number of experts (e.g., DeepSeek-v3's 256 experts with
top-8), with up to a 10x unit speedup". Not Blackwell-specific: the loop is in the Triton source, for every card.

Priced here: the mask-map kernels of the per-expert (all-to-all) dispatcher, the sender's permute of the k copies
of every token and the combine's unpermute (perf.moe_kernels.permute_bytes, "permute" and "combine"), forward and
backward (each one's gradient is the other kernel), run at ``slowdown`` times their streaming time:

    slowdown = min(PRE_FIX_MAX_SLOWDOWN, E / k)

E / k is the ratio of the map reads the old kernel makes per token (E per block) to the new one's (k), an upper
bound on the slowdown of a kernel that also streams its bytes; the cap is the guide's published "up to a 10x unit
speedup". DeepSeek-V3 (E 256, k 8: 32) and Llama 4 Maverick (128, 1) both run at the cap; Mixtral (8, 2) would run
at 4. Uncertainty: only the cap is published (no per-shape kernel times in the PR or the guide); a kernel bound by
the map reads' latency rather than by bandwidth would cost the same seconds on a faster-memory card, which a
factor on the streaming time prices lower on GB200 than on H100. Not priced: the dropless dispatcher's second
permutation (TE sort_chunks_by_idxs, which PR 1927 also rewrote; its old loop runs over the split sizes once per
token, not per block) and the flex dispatcher's receiver-side permute (its map holds only the local experts).

Checked for top-1 (issue 15, Llama 4 Maverick, E 128, k 1, h 5120): the old kernel's extra work is the per-block
loop, not memory traffic. Its map reads reach DRAM once per entry (the blocks of one token re-read the same E entries):
8 E = 1,024 bytes a token against the permute's 2 x 2 k h = 20,480 bytes of row copies (DeepSeek-V3: 2,048 against
229,376), so a bandwidth-bound form would give ~1.05x, which cannot produce the guide's 10x for DeepSeek-V3 either.
Counted as loop iterations, E x ceil(h / BLOCK) per token (BLOCK up to 1,024 in the autotune list): 640 for Llama 4
and 1,792 for DeepSeek-V3, i.e. 0.031 and 0.0078 iterations per copied byte. If DeepSeek-V3's loop costs 9 copies'
time (the published 10x), Llama 4's costs ~4x more per copied byte, so the cap binds for top-1 too; E / k overstates
the loop ratio (128) but not the priced slowdown. Left unchanged; the Llama 4 H100 gap was the EP-128 all-to-all's
latency (fabric.p2p_batch).

Check against the guide's end-to-end figure: its sections 2.1.1 and 2.1.2 together (the permute fix and fusing the
MXFP8 scaling factors' torch.zeros) "improved the end-to-end (E2E) performance by 35 TFLOPS", 494.46 -> 529.55, 6.6%
of the baseline step. Priced here at that baseline (GB200, 4,096 tokens per rank, 8 layers x 64 micro-batches per
GPU, ~17 s a step at 494 TFLOP/s) the pre-fix kernels cost ~2.3 s, ~13%: twice the published gain. The baseline was
host-bound ("the CPU kernel launch speed cannot keep up with the kernel execution speed on GPU", section 2), where a
shorter kernel partly becomes a longer gap, so the end-to-end gain is a lower bound on the kernel time saved; the
uncertainty of the 10x is within that factor of 2.

Verdict (validate all against main eb74700; + = model too fast): all rows 7.389 -> 7.345% (LOSO column 7.708 ->
7.708: the DGX Cloud tables' LOSO values are fit_sources.json's records), BF16 MoE 10.21 -> 9.96, FP8 MoE 10.21 ->
10.03; DGX Cloud DeepSeek-V3 H100 table 12.44 -> 3.51 (+17.4 -> +7.2, +11.2 -> +0.3), GB200 table 44.19 -> 38.00
(+78..+81 -> +61..+62: the permute is a sixth of that gap), Llama 4 GB200 5.32 -> 4.86 (BF16 -1.0..+0.4 ->
-3.5..-2.0, FP8 +9.9..+11.9 -> +6.2..+8.3), Llama 4 H100 18.38 -> 21.18 (-17.1/-13.9 -> -18.8/-16.1, rows already
too slow). Refit protocol (scripts/refit_protocol.py --catalog-attention, shared constants refitted with and without
each source): in sample 7.387 -> 7.342%, leave-one-source-out 7.501 -> 7.464% (B200/GB200 GEMM fraction 0.530 ->
0.534; H100 and A100 unchanged); LOSO per table: DeepSeek-V3 H100 12.54 -> 3.61, GB200 44.40 -> 38.51, Llama 4
GB200 5.35 -> 5.00, H100 18.32 -> 21.12.
"""

from __future__ import annotations

from supercluster.perf.moe_kernels import ACT_BYTES, INDEX_BYTES, SCORE_BYTES, routing_s
from supercluster.specs import Accelerator

# TE PR 1927's published kernel speedup, the most the pre-fix kernels are priced slower (NVIDIA/Megatron-LM
# docs/discussions/deepseek-v3-gb200-optimization section 2.1.1: "with up to a 10x unit speedup")
PRE_FIX_MAX_SLOWDOWN = 10.0


def slowdown(experts: float, topk: float) -> float:
    """Time of the pre-fix mask-map kernel over the fixed one's: min(PRE_FIX_MAX_SLOWDOWN, E / k), at least 1.

    The old kernel reads E map entries per token and hidden block where the new one reads k (TE bee4649c
    ``_permute_kernel`` / ``_unpermute_kernel`` against PR 1927's token-major map); capped by the guide's "up to a
    10x unit speedup"."""
    if experts <= 0 or topk <= 0:
        return 1.0
    return max(1.0, min(PRE_FIX_MAX_SLOWDOWN, experts / topk))


def mask_map_bytes(tokens: float, topk: float, hidden: float) -> float:
    """Bytes of the per-expert dispatcher's two mask-map kernels in one direction (perf.moe_kernels.permute_bytes):
    the permute, 2 x 2 k T h + 16 k T (each copy's row read and written, its index and probability), and the
    unpermute, 2 k T h + 12 k T + 2 T h (the k copies and their index and weight read, the token written)."""
    copies = tokens * topk
    permute = 2.0 * ACT_BYTES * copies * hidden + (INDEX_BYTES + 2.0 * SCORE_BYTES) * copies
    unpermute = ACT_BYTES * copies * hidden + (INDEX_BYTES + SCORE_BYTES) * copies + ACT_BYTES * tokens * hidden
    return permute + unpermute


def extra_s(
    applies: bool, dispatch: str, tokens: float, experts: float, topk: float, hidden: float, acc: Accelerator
) -> tuple[float, float]:
    """(forward, backward) seconds the pre-fix kernels add to one MoE layer and micro-batch on one GPU.

    ``applies``: the stack runs TE 2.1-2.5's fused permutation (SoftwareProfile.te_permute_all_experts); only the
    per-expert dispatcher hands it the [T, E] map of all experts. (slowdown - 1) x the streaming time of
    :func:`mask_map_bytes`, in each direction (the permute's gradient is an unpermute and the unpermute's a
    permute)."""
    if not applies or dispatch != "per-expert":
        return 0.0, 0.0
    extra = (slowdown(experts, topk) - 1.0) * routing_s(mask_map_bytes(tokens, topk, hidden), acc)
    return extra, extra
