"""Benchmark of the speedrun's batches: made in NumPy, or on the device with keras.ops.

Times one epoch of `course_lib.experiment.AugmentedBatches` with airbench94's
augmentation (batches of 1,024, the alternating flip, 2-pixel translations by
reflection) over 45,000 CIFAR-sized images, made in NumPy (`on_device=False`,
what the recorded runs use) and with `on_device=True` (images and labels
copied once to the backend's default device, every batch gathered, mirrored
and shifted there). Both make the same batches (`tests/lib/test_batches.py`
checks it); only where the pixel work runs differs. The images are random
bytes: the work does not depend on what they show.

Each mode runs `--epochs` epochs (the first includes the copy to the device
and the backend's first calls); the table gives the first epoch and the
fastest of the others, in seconds, and the time the training of one epoch
would wait for its batches when nothing overlaps them. Run from the
repository root, on the backend to measure:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_batches.py [--json FILE]

`benchmarks/speedrun.md` records the figures.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=45_000, help="training images (CIFAR-10's 45,000)")
    parser.add_argument("--batch-size", type=int, default=1024, help="images per batch (airbench: 1,024)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per mode (at least 2)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.images < 1 or args.batch_size < 1 or args.epochs < 2:
        parser.error("--images and --batch-size must be positive and --epochs at least 2")
    return args


def time_epochs(batches, epochs):
    """Seconds per epoch of making every batch, the device's work included."""
    import keras

    seconds = []
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        start = time.perf_counter()
        made = [batches[index][0] for index in range(len(batches))]
        # Wait for the device (JAX and CUDA return before the work is done): one pixel of every batch.
        for images in made:
            keras.ops.convert_to_numpy(images[:1, :1, :1])
        seconds.append(time.perf_counter() - start)
        del made
    return seconds


def main(argv=None):
    args = parse(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import keras

    from course_lib.experiment import AugmentedBatches
    from course_lib.runtime import backend_device, processor_name

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, args.images)
    backend_version, device, _ = backend_device()
    results = {"backend": keras.backend.backend(), "backend_version": backend_version, "keras": keras.__version__,
               "device": device, "processor": processor_name(), "python": platform.python_version(),
               "images": args.images, "batch_size": args.batch_size, "modes": {}}
    print(f"{args.images:,} images of 32x32x3, batches of {args.batch_size:,}, alternating flip, 2-pixel shifts; "
          f"Keras {keras.__version__} on {results['backend']} {backend_version}, {device} ({results['processor']})")
    print("| batches made | first epoch (s) | fastest later epoch (s) | images/s |")
    print("| --- | ---: | ---: | ---: |")
    for on_device in (False, True):
        batches = AugmentedBatches(x, y, 10, batch_size=args.batch_size, flip="alternating", translate=2, seed=0,
                                   on_device=on_device)
        seconds = time_epochs(batches, args.epochs)
        mode = "on the device (keras.ops)" if on_device else "in NumPy"
        fastest = min(seconds[1:])
        results["modes"][mode] = {"seconds_per_epoch": [round(s, 4) for s in seconds]}
        print(f"| {mode} | {seconds[0]:.3f} | {fastest:.3f} | {args.images / fastest:,.0f} |", flush=True)
        del batches
    host, device_mode = (min(m["seconds_per_epoch"][1:]) for m in results["modes"].values())
    print(f"NumPy / on the device: {host / device_mode:.2f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
