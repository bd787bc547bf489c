"""Fixed per-kernel costs measured on the device at hand: the two constants of `perf.fixed_cost`.

perf.fixed_cost prices a kernel's cost beyond its work with two numbers taken from a 2019 blog and an assumption:
the device-side gap between back-to-back kernels of one stream (KERNEL_GAP_S) and the host's dispatch time per
eager PyTorch operator (EAGER_HOST_S). On a GPU this module measures both, the way they are defined there:

- host dispatch per operator: ``ops`` tiny out-of-place operators issued from Python with no synchronisation
  between them, wall time over their count. The GPU finishes each tiny kernel in a few microseconds, faster than
  the host issues the next, so the wall time is the host's (the definition of a host-bound stream). Measured
  with autograd recording (inputs that require gradients, as a training forward runs) and without.
- device gap: kernels long enough that the host runs far ahead (tens of microseconds each) queued back to back;
  PyTorch's profiler (Kineto/CUPTI device timestamps) gives each kernel's start and end, and the gap is the next
  start minus this end. The same kernels replayed from a CUDA graph give the graph's gap (NVIDIA's blog:
  graphs shorten it).

On a CPU there is no device queue: the host dispatch is measured (ops run synchronously, so it includes the work)
and the gaps are not.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import tempfile
import time
from typing import Any

US = 1e-6


def host_dispatch_s(torch: Any, device: str, ops: int = 3000, autograd: bool = False) -> float:
    """Wall seconds per tiny eager operator issued back to back (median of 5 repeats of ``ops`` operators)."""
    x = torch.ones(16, device=device, requires_grad=autograd)
    runs = []
    for _ in range(6):
        y = x
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(ops):
            y = y * 1.0001  # out of place: one allocation and one kernel, as an unfused elementwise op runs
        if device == "cuda":
            torch.cuda.synchronize()
        runs.append((time.perf_counter() - t0) / ops)
        del y
    return float(statistics.median(runs[1:]))  # the first repeat warms the allocator and the autograd engine


def kernel_events(trace_path: str) -> list[tuple[float, float, str]]:
    """(start_s, end_s, name) of every GPU kernel in a Chrome trace written by torch.profiler, in start order."""
    with open(trace_path) as f:
        events = json.load(f).get("traceEvents", [])
    spans = [
        (float(e["ts"]) * US, (float(e["ts"]) + float(e.get("dur", 0.0))) * US, str(e.get("name", "")))
        for e in events
        if e.get("cat") == "kernel" and "ts" in e
    ]
    return sorted(spans)


def kernel_intervals(trace_path: str) -> list[tuple[float, float]]:
    """(start_s, end_s) of every GPU kernel in a Chrome trace written by torch.profiler, in start order."""
    return [(s, e) for s, e, _ in kernel_events(trace_path)]


def top_kernels(events: list[tuple[float, float, str]], n: int = 40) -> list[dict[str, Any]]:
    """The ``n`` kernel names with the most device time: name (first 120 characters), launches, seconds."""
    by_name: dict[str, list[float]] = {}
    for s, e, name in events:
        by_name.setdefault(name[:120], []).append(e - s)
    ranked = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:n]
    return [{"name": k, "launches": len(v), "device_s": sum(v)} for k, v in ranked]


def gaps_s(spans: list[tuple[float, float]]) -> list[float]:
    """Idle time between consecutive kernels (negative overlaps, from concurrent streams, count as zero)."""
    return [max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spans)]


def busy_s(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one kernel ran (the union of the intervals)."""
    total, end = 0.0, float("-inf")
    for s, e in spans:
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total


def profiled_events(torch: Any, fn: Any) -> list[tuple[float, float, str]]:
    """Kernel (start_s, end_s, name) of one call of ``fn`` under torch.profiler (CUDA activity)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        return kernel_events(path)
    finally:
        os.unlink(path)


def profiled_spans(torch: Any, fn: Any) -> list[tuple[float, float]]:
    """Kernel intervals of one call of ``fn`` under torch.profiler (CUDA activity)."""
    return [(s, e) for s, e, _ in profiled_events(torch, fn)]


def device_gaps(torch: Any, kernels: int = 200, elements: int = 1 << 24) -> dict[str, Any]:
    """Median idle gap between back-to-back kernels of one stream, queued from Python and replayed from a CUDA
    graph, and the per-kernel time of tiny kernels in a graph (NVIDIA's blog measures 3.4 us there)."""
    x = torch.ones(elements, device="cuda", dtype=torch.bfloat16)

    def queued() -> None:
        for _ in range(kernels):
            x.mul_(1.0)  # ~2 x 32 MB of HBM traffic: ~15 us per kernel, far longer than the host's dispatch

    queued()
    torch.cuda.synchronize()
    stream_spans = profiled_spans(torch, queued)
    graph = torch.cuda.CUDAGraph()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        queued()
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(graph):
        queued()
    graph.replay()
    torch.cuda.synchronize()
    graph_spans = profiled_spans(torch, graph.replay)

    tiny = torch.ones(16, device="cuda")
    tiny_graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(tiny_graph):
        for _ in range(kernels):
            tiny.mul_(1.0)
    tiny_graph.replay()
    torch.cuda.synchronize()
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        tiny_graph.replay()
        torch.cuda.synchronize()
        runs.append((time.perf_counter() - t0) / kernels)
    durations = [e - s for s, e in stream_spans]
    return {
        "kernels": kernels,
        "kernel_s_median": statistics.median(durations) if durations else None,
        "stream_gap_s_median": statistics.median(gaps_s(stream_spans)) if len(stream_spans) > 1 else None,
        "graph_gap_s_median": statistics.median(gaps_s(graph_spans)) if len(graph_spans) > 1 else None,
        "tiny_graph_kernel_s": statistics.median(runs),
        "stream_kernels_seen": len(stream_spans),
        "graph_kernels_seen": len(graph_spans),
    }


def measure(torch: Any, device: str) -> dict[str, Any]:
    """Host dispatch per operator (with and without autograd) and, on a GPU, the device gaps."""
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "host_dispatch_s": host_dispatch_s(torch, device),
        "host_dispatch_autograd_s": host_dispatch_s(torch, device, autograd=True),
    }
    if device == "cuda":
        out.update(device_gaps(torch))
    return out
