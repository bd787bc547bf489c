"""System spec: accelerators, nodes, scale-out fabric, software stack, facility."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from supercluster.specs.accelerator import Accelerator
from supercluster.specs.base import Spec
from supercluster.specs.sites import SiteSpec, WanSpec
from supercluster.specs.storage import StorageSpec


class FabricSpec(Spec):
    """The scale-out network as the step model needs it (hierarchical alpha-beta).

    A later fabric model builds this from switch tiers; here it is the per-GPU
    NIC, its measured effective bandwidth, a per-hop latency, and the size of the
    non-blocking pod above which links are oversubscribed.
    """

    kind: Literal["rail-optimized-fat-tree", "fat-tree", "dragonfly", "clos"] = "rail-optimized-fat-tree"
    technology: str = ""
    nic_gbps_per_gpu: float = Field(gt=0, description="NIC line rate per GPU, Gb/s")
    nic_busbw_gb_per_s: float = Field(gt=0, description="measured NCCL bus bandwidth per NIC, GB/s")
    hop_latency_us: float = Field(ge=0, description="per-hop network latency in a collective step, us")
    pod_gpus: int | None = Field(default=None, ge=1, description="GPUs under one non-blocking pod")
    oversubscription: float = Field(default=1.0, ge=1.0, description="taper above the pod (7 means 1:7)")
    switch: str | None = Field(default=None, description="switch model id (catalog switches.yaml)")
    in_network_reduction: bool = Field(default=False, description="SHARP-style reductions in the switches")
    rails: int | None = Field(default=None, ge=1, description="compute NICs per node (default: one per GPU)")
    planes: int = Field(default=1, ge=1, description="independent copies of the fabric")
    measured_busbw_gb_per_s: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description=(
            "measured NCCL bus bandwidth of one collective across nodes on this fabric, GB/s, where it falls short "
            "of what the NICs' line rate predicts (none: no such measurement; fabric.collectives)"
        ),
    )
    source: str = ""


class Partition(Spec):
    """Another accelerator type in the same machine (for example Colossus' H200 half)."""

    accelerator: str
    gpus: int = Field(ge=1)
    source: str = ""


class FacilitySpec(Spec):
    pue: float = Field(default=1.2, ge=1.0, le=3.0)
    cooling: Literal["liquid", "air"] = "liquid"
    grid_mw: float | None = Field(default=None, ge=0)
    source: str = ""


class SystemSpec(Spec):
    id: str
    name: str
    accelerator: Accelerator
    gpus: int = Field(ge=1, description="accelerators available to the job")
    gpus_per_node: int = Field(ge=1)
    node: str = ""
    scale_up_domain: int | None = Field(default=None, ge=1, description="override of the accelerator's")
    scale_up_link_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description=(
            "share of the accelerator's scale-up links the node wires between its GPUs (1: all, as on an NVSwitch "
            "baseboard); the scale-up bandwidths scale with it"
        ),
    )
    fabric: FabricSpec
    software: str = Field(default="megatron-core-2024", description="software profile id")
    generic: bool = Field(default=False, description="takes any GPU count (--gpus)")
    other_partitions: list[Partition] = Field(default_factory=list)
    facility: FacilitySpec = FacilitySpec()
    storage: StorageSpec | None = Field(default=None, description="checkpoint storage (blank: none given)")
    sources: dict[str, str] = Field(default_factory=dict)
    assumed: list[str] = Field(default_factory=list)
    notes: str = ""
    sites: list[SiteSpec] = Field(
        default_factory=list, max_length=64, description="buildings or campuses the GPUs stand in (none: one site)"
    )
    wan: WanSpec | None = Field(default=None, description="the wide-area network joining the sites")

    @model_validator(mode="after")
    def _sites_hold_the_gpus(self) -> "SystemSpec":
        if not self.sites:
            if self.wan is not None:
                raise ValueError("a wan joins two or more sites: give sites (name, gpus) or drop the wan")
            return self
        counts = [s.gpus for s in self.sites]
        if sum(counts) != self.gpus:
            terms = " + ".join(f"{s.name}({s.gpus})" for s in self.sites)
            raise ValueError(f"the sites' GPUs must sum to gpus({self.gpus}): {terms} = {sum(counts)}")
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be unique, got {names}")
        if len(self.sites) > 1 and self.wan is None:
            raise ValueError(f"{len(self.sites)} sites need a wan (gbps_per_site_pair, distance_km) joining them")
        if len(self.sites) == 1 and self.wan is not None:
            raise ValueError("a wan joins two or more sites; this system has one")
        return self

    @property
    def site_count(self) -> int:
        """Sites the system spans (1 when it gives none)."""
        return max(1, len(self.sites))

    def site_gpus(self) -> list[int]:
        """GPUs per site, largest first (one site of all GPUs when the system gives none)."""
        return sorted((s.gpus for s in self.sites), reverse=True) or [self.gpus]

    @property
    def domain_gpus(self) -> int:
        """GPUs that share one scale-up domain (NVLink 8 on HGX, 72 on NVL72)."""
        return self.scale_up_domain or self.accelerator.scale_up_domain

    @property
    def nodes(self) -> int:
        return -(-self.gpus // self.gpus_per_node)


# decoder layers one end stage gives up under an accounted pipeline split (SoftwareProfile.pp_accounted_layers)
_EndLayers = Annotated[int, Field(ge=0, le=16)]


# What a plain selective recompute re-runs, by stack (SoftwareProfile.selective_reruns; perf.selective_policy)
SelectiveReruns = Literal["unfused-core", "core-attn", "op-sac"]


class SoftwareProfile(Spec):
    """What the training stack does: kernels, overlap, gradient precision.

    The same hardware ran Megatron-LM in 2021 without FlashAttention and without
    overlapping the data-parallel all-reduce, and Megatron-Core in 2024 with
    both; the step model reads those facts from here instead of guessing.
    """

    id: str
    name: str
    attention_kernel: Literal["flash", "materialized"]
    dp_overlap: bool = Field(description="gradient reduction overlapped with the last backward")
    param_gather_overlap: bool = Field(description="ZeRO parameter all-gather overlapped with forward")
    tp_overlap_fraction: float = Field(ge=0, le=1, description="share of TP communication hidden behind GEMMs")
    tp_comm_overlap: Literal["fraction", "userbuffers"] = Field(
        default="fraction",
        description=(
            "how TP collectives overlap GEMMs: fraction, tp_overlap_fraction of them hidden; userbuffers, each "
            "all-gather and reduce-scatter decomposed and overlapped with its paired GEMM as Transformer "
            "Engine's userbuffers do (perf.tp_overlap; dense layers with sequence parallelism, else fraction)"
        ),
    )
    pp_overlap: bool = Field(description="pipeline send/recv asynchronous, off the critical path")
    tp_async_dgrad: bool = Field(
        default=False,
        description=(
            "backward TP collective of each block's input gradient launched asynchronously behind the weight-"
            "gradient GEMMs (Megatron's LinearWithGradAccumulationAndAsyncCommunication)"
        ),
    )
    grad_accum_bytes: int = Field(ge=2, le=4, description="bytes per gradient element kept for accumulation")
    grad_scale_bytes_per_param: float = Field(
        default=0.0,
        ge=0,
        description=(
            "HBM bytes per parameter, per step, spent scaling the whole local gradient buffer by 1/dp before "
            "it is reduced (Megatron-LM's local DDP: buffer /= dp, 8 B on the fp32 buffer, even at dp 1)"
        ),
    )
    autocast_cast_bytes_per_param: float = Field(
        default=0.0,
        ge=0,
        le=16,
        description=(
            "HBM bytes per matmul parameter and micro-batch that torch.autocast spends casting fp32 weights to "
            "bf16 and their gradients back (perf.autocast: 12 for fp32 parameters under autocast; 0 where the "
            "stack holds bf16 working weights)"
        ),
    )
    wgrad_accum_bytes_per_param: float = Field(
        default=0.0,
        ge=0,
        description=(
            "HBM bytes per weight, per micro-batch, spent adding the weight gradient into the accumulation "
            "buffer outside the weight-gradient GEMM (0: the GEMM accumulates in its epilogue, Megatron's "
            "gradient_accumulation_fusion)"
        ),
    )
    grad_reduce_bytes: int = Field(ge=2, le=4, description="bytes per gradient element on the wire")
    adam_moment_bytes: int = Field(
        default=4,
        ge=2,
        le=4,
        description="bytes per Adam moment (m and v): 4 in FP32; 2 where the stack keeps them in BF16 (DeepSeek-V3)",
    )
    dp_bucket_params: float = Field(gt=0, description="parameters per gradient-reduction bucket")
    ce_fwd_bytes_per_logit: float = Field(
        default=38.0,
        gt=0,
        description=(
            "HBM bytes the loss moves per logit in the forward; 38 for Megatron's vocab-parallel cross-entropy "
            "(cast to fp32 6, max 4, subtract 8, exp 8, sum 4, normalise 8)"
        ),
    )
    ce_bwd_bytes_per_logit: float = Field(
        default=14.0,
        gt=0,
        description="HBM bytes per logit in the loss backward; 14 for Megatron's (scale the softmax 8, cast to bf16 6)",
    )
    attention_fa2_relative: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "throughput of the stack's attention kernel relative to FlashAttention-2 on the same card, for stacks "
            "that run an older kernel (perf.attention_kernel); none: a FlashAttention-2 class kernel or better"
        ),
    )
    attention_class: Literal["cudnn", "fa2", "fa2-te"] = Field(
        default="cudnn",
        description=(
            "attention kernel class the stack runs on Hopper: cudnn, Transformer Engine's cuDNN fused attention "
            "(the class the H100 table is fitted with); fa2, FlashAttention-2 (flash-attn or PyTorch SDPA's flash "
            "backend), recorded but priced at the cuDNN table until its verdict lands (perf.attention_class); fa2-te, "
            "Transformer Engine's FlashAttention-2 backend (a recipe that sets NVTE_FUSED_ATTN=0, or a Transformer "
            "Engine before v1.2), priced at about 0.62 of cuDNN's throughput on Hopper (perf.te_flash_fallback)"
        ),
    )
    attention_speed_factor: float = Field(
        default=1.0,
        gt=0,
        le=2,
        description=(
            "throughput of the stack's fused attention kernel relative to the cuDNN / FlashAttention-3 class "
            "kernels the accelerators' efficiency tables are fitted with (FlexAttention's Triton backend: ~0.6)"
        ),
    )
    cp_comm_type: Literal["p2p", "all_gather"] = Field(
        default="p2p",
        description=(
            "how the stack runs context-parallel attention: p2p, the load-balanced ring whose off-diagonal calls "
            "run unmasked (Transformer Engine's default, perf.cp_ring_span); all_gather, K and V gathered first "
            "and each rank's query chunks attended causally (Llama 3's CP), whose calls keep the causal pricing "
            "and whose all-gather and gradient reduce-scatter are exposed (perf.cp_allgather)"
        ),
    )
    fp8_param_gather: bool = Field(
        default=False,
        description=(
            "with FP8 or MXFP8 the model's weights live only in the low-precision format (Megatron's "
            "fp8_param_gather: no BF16 copy; the distributed optimizer gathers them in 8 bits)"
        ),
    )
    shard_root_unit: bool = Field(
        default=False,
        description=(
            "ZeRO-2/3 shards moved per wrapped unit (one per block, plus a root unit with the embedding and head, "
            "PyTorch FSDP): each micro-batch's first all-gather and last reduce-scatter are exposed (perf.fsdp)"
        ),
    )
    shard_copy_out: bool = Field(
        default=False,
        description=(
            "every parameter all-gather is copied out of its flat buffer into the parameters on the compute stream "
            "(FSDP2's per-parameter sharding, split_with_sizes_copy); false: gathered in place (FSDP1, ZeRO)"
        ),
    )
    zero3_max_live_params: float = Field(
        default=0.0,
        ge=0.0,
        le=1e13,
        description=(
            "DeepSpeed ZeRO-3's stage3_max_live_parameters (elements): prefetch issues only what fits under it, "
            "so gathers that do not fit run on demand, serially with the compute (perf.zero3_prefetch); 0: not "
            "replayed (every gather prefetched, two passes per micro-batch)"
        ),
    )
    zero3_prefetch_bucket_params: float = Field(
        default=5e7,
        gt=0.0,
        le=1e13,
        description="DeepSpeed ZeRO-3's stage3_prefetch_bucket_size (elements prefetched ahead per submodule)",
    )
    zero3_max_reuse_params: float = Field(
        default=1e9,
        ge=0.0,
        le=1e13,
        description=(
            "DeepSpeed ZeRO-3's stage3_max_reuse_distance (elements of the trace within which a released "
            "submodule's parameters are kept because they are used again)"
        ),
    )
    zero3_offload_grad_copy_sync: bool = Field(
        default=False,
        description=(
            "DeepSpeed ZeRO-3 with offload_optimizer copies each reduced gradient partition to the host with a "
            "blocking copy inside the gradient hook, so the backward waits for every bucket's reduce-scatter: "
            "the reduce-scatters run serially with the compute (perf.zero3_prefetch)"
        ),
    )
    zero3_serial_comm: bool = Field(
        default=False,
        description=(
            "DeepSpeed 0.6 ZeRO-3 as its own micro-batch sweep measured it: every parameter all-gather and "
            "gradient reduce-scatter runs serially with the compute (perf.zero3_serial)"
        ),
    )
    backward_post_prefetch: bool = Field(
        default=False,
        description=(
            "FSDP1 with BackwardPrefetch.BACKWARD_POST: each backward all-gather is issued after the previous unit's "
            "gradient computation, so the backward gathers run serially with the compute (perf.fsdp)"
        ),
    )
    chunk_dp_sync: bool = Field(
        default=False,
        description=(
            "under the interleaved schedule each model chunk's gradient reduction starts when the chunk's last "
            "micro-batch backward is done, and the next chunk's parameter gather during the current chunk's first "
            "forwards (Megatron-Core grad_sync_func / param_sync_func per chunk; perf.chunk_sync)"
        ),
    )
    zero2_regather: bool = Field(
        default=False,
        description=(
            "under ZeRO-2 the parameters are freed after each backward and all-gathered again before the next "
            "micro-batch's forward (FSDP SHARD_GRAD_OP); false: gathered once per step (DeepSpeed ZeRO-2)"
        ),
    )
    expert_bias_fused: bool = Field(
        default=True,
        description=(
            "expert biases added in the grouped GEMM's epilogue (Transformer Engine GroupedLinear); false: added "
            "per expert by separate kernels after the GEMM, a cast and concatenation included"
        ),
    )
    expert_down_bias_per_expert: bool = Field(
        default=False,
        description=(
            "with expert_bias_fused: only the up-projection's bias is in the grouped GEMM; the down-projection's is "
            "added per expert after it, scaled by the routing probability (Megatron-Core TEGroupedMLP._apply_bias)"
        ),
    )
    rope_scaled_unfused: bool = Field(
        default=False,
        description=(
            "a rotary embedding with a YaRN concentration factor other than 1 runs as unfused composite ops "
            "(Megatron-Core rope_utils: TE's fused RoPE takes no mscale); false: the fused kernel either way"
        ),
    )
    glu_clamp_unfused: bool = Field(
        default=False,
        description=(
            "a clamped gated activation (ModelSpec.glu_clamp_limit) clamps the two halves and concatenates them as "
            "eager ops before the fused activation kernel (Megatron-Core weighted_bias_quick_geglu_impl); false: the "
            "clamp inside the kernel"
        ),
    )
    elementwise_fused: bool = Field(
        default=True,
        description=(
            "norms, gated activations and rotary embeddings run as fused kernels (Transformer Engine, Apex, "
            "torch.compile, XLA); false: as eager PyTorch's composite ops, each its own HBM pass"
        ),
    )
    ep_folded: bool = Field(
        default=False,
        description=(
            "expert layers lay their ranks out on their own (expert TP, EP, expert DP), folding EP over the "
            "attention's context- and data-parallel ranks, so an EP group is contiguous after expert TP "
            "(Megatron-Core's MoE Parallel Folding); false: EP sits inside DP, after TP and CP"
        ),
    )
    ep_a2a_overlap: bool = Field(
        default=False,
        description=(
            "the stack hides one micro-batch's expert-parallel all-to-alls behind another micro-batch's forward or "
            "backward computation (Megatron-Core's combined 1F1B, --overlap-moe-expert-parallel-comm); the "
            "DualPipe schedule does the same whatever this says"
        ),
    )
    ep_comm_sms: float = Field(
        default=20.0,
        ge=0.0,
        le=64.0,
        description=(
            "SMs the expert-parallel all-to-all kernels hold while they run beside another micro-batch's computation "
            "(perf.sm_share): DeepEP's Buffer.num_sms = 20 and Megatron-Core's moe_deepep_num_sms = 20 by default, "
            "the 20 of the 132 H800 SMs DeepSeek-V3 allocates (arXiv:2412.19437, section 3.5.1)"
        ),
    )
    mtp_stage_balance: bool = Field(
        default=False,
        description=(
            "the stack's pipeline layout counts the multi-token-prediction block as the last stage's work and puts "
            "fewer decoder layers beside it (Megatron-Bridge's DeepSeek-V3 layouts, perf.mtp_stage); false: the "
            "layers are split without it and the block is added to the last stage"
        ),
    )
    pp_split: Literal["balanced", "uniform", "accounted", "uniform-front"] = Field(
        default="balanced",
        description=(
            "how the stack splits the layers over pipeline stages (perf.pp_split): balanced against the embedding's "
            "and the output head's work (fewer layers on the end stages), or uniform (Megatron-Core's split when a "
            "recipe sets no layout and no account_for_*_in_pipeline_split flag), or accounted (both flags set: the "
            "embedding and the loss count as one layer each), or uniform-front (NeMo AutoModel: even, the spare layers "
            "on the first ranks)"
        ),
    )
    pp_accounted_layers: tuple[_EndLayers, _EndLayers] = Field(
        default=(1, 1),
        description=(
            "under pp_split accounted, the decoder layers the first and the last stage give up to the embedding "
            "and to the head (Megatron-Core's two account_for_* flags: one each; perf.pp_split)"
        ),
    )
    pp_split_exact: bool = Field(
        default=False,
        description=(
            "the stack asserts an exact interleaved split (perf.vpp_split): vpp must divide every pipeline rank's "
            "layer count (Megatron-LM's and Megatron-Core's asserts when a recipe gives no pipeline layout); "
            "false: the stack splits freely and the planner's generic pp * vpp <= layers + 2 holds"
        ),
    )
    schedules: list[str] = Field(default_factory=lambda: ["1f1b"], description="pipeline schedules the stack has")
    has_sequence_parallel: bool = Field(
        default=True,
        description=(
            "the stack has Megatron's sequence parallelism (Korthikanti et al. 2022, arXiv:2205.05198); false: "
            "the fill and the planner keep it off, so norms, dropout and bias-adds run whole on every TP rank"
        ),
    )
    has_selective_recompute: bool = Field(
        default=True,
        description=(
            "the stack can recompute only the attention core (selective activation recomputation, Korthikanti et "
            "al. 2022, arXiv:2205.05198, section 5); false: the fill and the planner choose none or full"
        ),
    )
    selective_reruns: SelectiveReruns = Field(
        default="unfused-core",
        description=(
            "what a plain selective recompute (no module list) re-runs in the backward (perf.selective_policy): "
            "unfused-core, the attention core where its scores are materialized and nothing of it under a fused "
            "kernel (Korthikanti et al. 2022), plus MLA's norms and up-projections (DeepSeek-V3 3.2.3); core-attn, "
            "the attention core whatever its kernel, flash included, with its CP exchange (Megatron-Core's default "
            "recompute_modules ['core_attn']); op-sac, torchtitan's op-level policy (every second matmul and every "
            "op outside its save list re-run, the flash attention output saved)"
        ),
    )
    recipe_micro_batch: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "micro-batch the stack's published launch recipes run, taken when a measured run's source does not "
            "state one (supercluster.validate.fill_rule); none: no documented default, the fill takes the fastest. "
            "The planner ignores it and searches every micro-batch"
        ),
    )
    recipe_recompute_least: bool = Field(
        default=False,
        description=(
            "the stack recomputes nothing unless told to (an argument default), so a measured run's unstated "
            "recompute is the least that fits: none, then selective, then full (supercluster.validate.fill_rule); "
            "false: the fill takes the fastest. The planner ignores it"
        ),
    )
    sharded_grad_allreduce: bool = Field(
        default=False,
        description=(
            "with sharded optimizer states (ZeRO-1) the stack still all-reduces the whole gradient and each rank "
            "updates its shard (DeepSpeed's BF16_Optimizer under the PipelineEngine); false: a reduce-scatter"
        ),
    )
    fp16_profile: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description=(
            "the software profile this stack runs as when a run trains in FP16 with loss scaling, where its FP16 "
            "optimizer path reduces gradients differently from its BF16 one (validate.rows; none: the same profile)"
        ),
    )
    tied_embedding_grad_bytes: float = Field(
        default=0.0,
        ge=0,
        le=4,
        description=(
            "bytes per element of the tied input-embedding/output-head gradient that the stack all-reduces between "
            "the first and the last pipeline stage after the flush, unoverlapped (0: not priced)"
        ),
    )
    embedding_wgrad_deferral: int | None = Field(
        default=None,
        ge=0,
        description=(
            "micro-batches whose output-layer weight gradient the last pipeline stage defers to its drain "
            "(Megatron-Core defer_embedding_wgrad_compute with wgrad_deferral_limit, perf.embedding_wgrad; 0: all; "
            "none: not deferred)"
        ),
    )
    has_interleaved_schedule: bool = Field(
        default=True,
        description=(
            "the stack has the interleaved (virtual-pipeline) schedule (Narayanan et al. 2021, section 2.2.2); "
            "false: the fill and the planner keep one chunk per stage (vpp 1)"
        ),
    )
    zero_stages: list[Annotated[int, Field(ge=0, le=3)]] = Field(
        default_factory=lambda: [0, 1, 2, 3],
        min_length=1,
        description=(
            "data-parallel sharding the stack offers (0 replicated, 1 optimizer states, 2 and gradients, 3 and "
            "parameters); the fill and the planner search only these"
        ),
    )
    ep_dispatch: Literal["per-expert", "per-destination", "all-gather"] = Field(
        default="per-expert",
        description=(
            "per-expert: an all-to-all moves one copy of a token per routed expert (Megatron's alltoall "
            "dispatcher); per-destination: one copy per destination node over the network and per rank over "
            "NVLink, the two pipelined (DeepEP); all-gather: every rank of the TP x EP group gathers all the "
            "group's tokens and keeps those routed to its experts, a reduce-scatter on the way back (Megatron's "
            "allgather dispatcher, its default through 2024; perf.expert_tp)"
        ),
    )
    expert_gemm: Literal["loop", "multistream", "grouped", "deepgemm"] = Field(
        default="multistream",
        description=(
            "how the local experts' GEMMs run (perf.expert_gemm): loop, one GEMM per expert from Python "
            "(DeepSpeed-MoE, Megatron SequentialMLP); multistream, one cuBLAS GEMM per expert over 4 streams "
            "(Transformer Engine GroupedLinear, Megatron --moe-grouped-gemm); grouped, one CUTLASS grouped kernel "
            "(torch._grouped_mm); deepgemm, DeepGEMM's contiguous layout, each expert padded to 128 rows"
        ),
    )
    fp8_pad_copies: Literal["none", "unaligned", "always"] = Field(
        default="none",
        description=(
            "quantized expert GEMMs: Transformer Engine's Fp8Padding/Fp8Unpadding copy the expert rows into and "
            "out of a padded buffer (perf.fp8_pad): always (TE 1.11-2.2), unaligned (TE 2.3 and later, only when "
            "some expert's count is not aligned), none"
        ),
    )
    fp8_casts: Literal["kernels", "fused"] = Field(
        default="kernels",
        description=(
            "how the stack quantizes the operands of its dense FP8 GEMMs (perf.fp8_casts): kernels, Transformer "
            "Engine's own cast/transpose and amax kernels around each GEMM (the card's fp8_overhead_fraction); "
            "fused, XLA's native FP8 (Flax Fp8DotGeneralOp), the casts fused into the fusions that produce the "
            "operands and the scales into the cuBLASLt call, no separate pass"
        ),
    )
    fp8_scaling: Literal["delayed", "current"] = Field(
        default="delayed",
        description=(
            "per-tensor FP8 recipe (perf.fp8_scaling): delayed, scales from the amax history and one fused "
            "cast-transpose over all local experts; current (Transformer Engine Float8CurrentScaling, FP8-CS), "
            "each expert's operands quantized on their own: an amax pass and four kernels per expert"
        ),
    )
    moe_fused_grouped_mlp: bool = Field(
        default=False,
        description=(
            "the recipe turns on Transformer Engine's fused MXFP8 grouped MLP (NVTE_CUTEDSL_FUSED_GROUPED_MLP, TE "
            "2.14+): the routed experts' SwiGLU and the casts of FC2's input and FC1's output gradient run inside "
            "the grouped GEMMs (perf.fused_grouped_mlp); only MXFP8, gated experts without bias"
        ),
    )
    te_permute_all_experts: bool = Field(
        default=False,
        description=(
            "the recipe runs Transformer Engine's fused mask-map permute and unpermute (--moe-permute-fusion) from "
            "TE 2.1-2.5, whose kernels visit every expert for every token, not its k routed ones (fixed by TE PR "
            "1927, first in TE 2.6): the per-expert dispatcher's permutations run slower (perf.te_permute)"
        ),
    )
    moe_host_sync: bool = Field(
        default=False,
        description=(
            "each MoE layer's forward copies its token counts to the host and waits for them (Megatron-Core's "
            "dropless all-to-all dispatcher sizing its all-to-all; the flex dispatcher over DeepEP or HybridEP): "
            "the host-bound term applies per forward and backward instead of per layer (perf.host_sync)"
        ),
    )
    combine_keeps_copies: bool = Field(
        default=False,
        description=(
            "the MoE combine multiplies the returned expert outputs by the router probabilities in the unpermute "
            "and keeps the k routed copies of each token (h wide, BF16) for the probabilities' gradient "
            "(Megatron-Core 0.9-0.12's all-to-all dispatcher; perf.combine_memory): an activation term per MoE "
            "layer and micro-batch"
        ),
    )
    moe_pad_to_capacity: bool = Field(
        default=False,
        description=(
            "the recipe pads every expert's input to its capacity (Megatron-Core --moe-pad-expert-input-to-capacity "
            "with --moe-expert-capacity-factor): where the model has a capacity factor, the all-to-all sizes are "
            "static and the dispatcher skips its host copy (perf.host_sync.synchronises)"
        ),
    )
    cudnn_version: int | None = Field(
        default=None,
        ge=80000,
        le=999999,
        description=(
            "cuDNN of the stack's containers as major x 10,000 + minor x 100 (9.11 = 91100), where an attention "
            "backend depends on it (perf.attention_backend); set only on Transformer Engine stacks, so it also "
            "selects TE's UnfusedDotProductAttention pricing when attention is materialised (perf.te_unfused); "
            "None: recent enough that no gate applies"
        ),
    )
    source: str = ""
