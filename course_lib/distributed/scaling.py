"""The cost of data-parallel training on paper: all-reduce time against compute time.

In synchronous data parallelism every device computes the gradient of its
share of the batch, then the devices add their gradients (an *all-reduce*)
before each takes the same optimizer step. A ring all-reduce of `B` bytes
over `n` devices sends `2 (n - 1) / n * B` bytes through each device's link
(a reduce-scatter, then an all-gather: Patarasuk and Yuan, 2009), in
`2 (n - 1)` messages. So the time a step spends communicating barely grows
with `n`, while the time it spends computing shrinks as `1 / n` when the
global batch is fixed: past some device count, communication dominates.

`LINKS` holds nominal one-direction bandwidths of common links; real
throughput is lower, so the figures here are optimistic bounds.
"""

import numpy as np
import pandas as pd

from course_lib._checks import check_number, check_positive_int

__all__ = ["LINKS", "ring_allreduce_seconds", "data_parallel_speedup", "scaling_table"]

# Nominal bandwidth of one link, in bytes per second in one direction.
LINKS = {
    # PCIe 4.0 x16: 16 GT/s per lane x 16 lanes x 128/130 encoding = 31.5 GB/s.
    "PCIe 4.0 x16": 31.5e9,
    # NVLink 3 on an A100: 600 GB/s in both directions together (NVIDIA's A100 datasheet).
    "NVLink (A100)": 300e9,
    # Ethernet line rates: 25 and 100 Gbit/s.
    "25 GbE": 25e9 / 8,
    "100 GbE": 100e9 / 8,
}


def ring_allreduce_seconds(num_bytes, devices, bandwidth, latency=0.0):
    """Time of a ring all-reduce of `num_bytes` over `devices` devices.

    Args:
        num_bytes: size of the array every device holds (the gradients), in bytes.
        devices: number of devices (1: nothing to send).
        bandwidth: bytes per second of each device's link, in one direction.
        latency: seconds per message (each of the `2 (devices - 1)` steps).

    Returns:
        Seconds, as a float: `2 (n - 1) / n * num_bytes / bandwidth + 2 (n - 1) * latency`.

    Example:

    >>> round(ring_allreduce_seconds(1e9, 4, 1e9), 3)
    1.5
    """
    num_bytes = check_number(num_bytes, "num_bytes", low=0)
    devices = check_positive_int(devices, "devices")
    bandwidth = check_number(bandwidth, "bandwidth", low=0, low_open=True)
    latency = check_number(latency, "latency", low=0)
    steps = 2 * (devices - 1)
    return steps / devices * num_bytes / bandwidth + steps * latency


def data_parallel_speedup(step_seconds, gradient_bytes, devices, bandwidth, latency=0.0,
                          serial_fraction=0.0):
    """Speed-up of one training step split over `devices`, for a fixed global batch.

    Amdahl's law with communication: of the one-device step time `t`, a
    fraction `serial_fraction` does not shrink with more devices (input
    pipeline, optimizer update); the rest is divided among the devices; the
    gradient all-reduce is added, not overlapped with the backward pass (so
    the estimate is pessimistic on that count).

    Args:
        step_seconds: measured time of one training step on one device.
        gradient_bytes: bytes of the gradients (4 per float32 parameter).
        devices: an int or a sequence of ints, the device counts.
        bandwidth: bytes per second of each link, in one direction.
        latency: seconds per all-reduce message.
        serial_fraction: share of the step that one device must do alone, in [0, 1].

    Returns:
        A float (or a NumPy array, for a sequence of counts): `t / (t s + t
        (1 - s) / n + allreduce(n))`.

    Example:

    >>> round(data_parallel_speedup(1.0, 0.0, 4, 1e9), 2)
    4.0
    >>> data_parallel_speedup(1.0, 1e9, [1, 2], 1e9).round(2).tolist()
    [1.0, 0.67]
    """
    step_seconds = check_number(step_seconds, "step_seconds", low=0, low_open=True)
    serial_fraction = check_number(serial_fraction, "serial_fraction", low=0, high=1)
    counts = np.atleast_1d(devices)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"`devices` must be a positive int or a sequence of them; received devices={devices!r}.")
    counts = [check_positive_int(n, "devices") for n in counts]
    speedups = np.array([
        step_seconds / (step_seconds * serial_fraction + step_seconds * (1 - serial_fraction) / n
                        + ring_allreduce_seconds(gradient_bytes, n, bandwidth, latency))
        for n in counts
    ])
    return float(speedups[0]) if np.isscalar(devices) else speedups


def scaling_table(step_seconds, gradient_bytes, devices=(1, 2, 4, 8, 16, 32, 64), links=None,
                  latency=0.0, serial_fraction=0.0):
    """Speed-ups for several device counts and links, as a pandas DataFrame.

    Args:
        step_seconds: one-device step time, in seconds.
        gradient_bytes: bytes all-reduced per step.
        devices: the device counts (the rows).
        links: a dict of link name to bandwidth in bytes per second (the
            columns); default `LINKS`.
        latency: seconds per all-reduce message.
        serial_fraction: as in `data_parallel_speedup`.

    Returns:
        A DataFrame indexed by "devices", one column of speed-ups per link.

    Example:

    >>> table = scaling_table(0.1, 4e6, devices=(1, 8), links={"fast": 1e12})
    >>> table["fast"].round(2).tolist()
    [1.0, 8.0]
    """
    links = LINKS if links is None else dict(links)
    if not links:
        raise ValueError("`links` must name at least one link; received links={}.")
    columns = {name: data_parallel_speedup(step_seconds, gradient_bytes, list(devices), bandwidth,
                                           latency, serial_fraction)
               for name, bandwidth in links.items()}
    return pd.DataFrame(columns, index=pd.Index(list(devices), name="devices"))
