# %% [markdown]
# # 24 · Training on several devices
#
# The lecture's AlexNet ran on two GTX 580 GPUs, each holding half of the
# network's filters. Notebook 14 computed that split as a grouped convolution
# on one device. This notebook runs it on several devices for real, and the
# other common ways to spread training too.
#
# It needs no GPU:
#
# - JAX can present one CPU as several devices;
# - TensorFlow can split one CPU into logical devices. Keras's own tests check
#   its distribution code this way.
#
# On a machine with GPUs the same code runs on them.
#
# **Learning objectives.** After this notebook you can
#
# 1. say which Keras 3.15 API distributes training on which backend;
# 2. split every batch over devices with `keras.distribution.DataParallel`,
#    and show by measurement that the result is one device's training;
# 3. say why float32 rounding differences grow through ReLU and max pooling;
# 4. place AlexNet's filters on two devices with a `LayoutMap`, and read
#    where each weight lives and what the compiler makes the devices send;
# 5. write Krizhevsky's two-GPU schedule by hand with `jax.shard_map`;
# 6. train with TensorFlow's `MirroredStrategy` and explain why its
#    BatchNormalization must be synchronized to match one device;
# 7. start two processes that train as one cluster, and check that they agree;
# 8. estimate from gradient size, link bandwidth and step time when adding
#    devices stops paying;
# 9. say when a model must be split because it does not fit.

# %%
# Setup: works locally and in Google Colab.
import os
os.environ["KERAS_BACKEND"] = "jax"  # keras.distribution runs on JAX in Keras 3.15
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # 4 virtual CPU devices
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# The setup cell sets two environment variables before Keras is imported: the
# backend, and the number of CPU devices XLA creates. Both are read once, at
# import. To change them, restart the kernel. On a GPU machine the flag does
# nothing to the GPUs: JAX uses them, and the meshes below are built from
# however many there are.
#
# ## Parameters
#
# The parallel runs train the same small CNN for a few steps. They measure
# equality of weights, not accuracy. Sections 4 and 5 start worker processes.
# Each group of them must finish within `WORKER_TIMEOUT` seconds or is
# stopped. About two minutes in all on a 2-core CPU.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
STEPS = 8  # SGD steps of every parallel training run
BATCH_SIZE = 64  # the global batch, split over the devices
WORKER_TIMEOUT = 300  # seconds a group of worker processes may take

# %%
import sys
import tempfile
from pathlib import Path

import jax
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.sharding import PartitionSpec

from course_lib import diagrams, zoo
from course_lib.distributed import multiprocess, scaling, sharding
from course_lib.distributed import worker as reference
from course_lib.models import alexnet

if keras.backend.backend() != "jax":
    raise RuntimeError("This notebook needs Keras on JAX: restart the kernel, then run the setup cell first.")

# %% [markdown]
# ## 1. Which API on which backend
#
# Keras 3.15 has no single way to train on several devices:
#
# | backend | API | what it does |
# | --- | --- | --- |
# | JAX | `keras.distribution`: `DeviceMesh`, `LayoutMap`, `DataParallel`, `ModelParallel` | says how each variable and each batch is laid out over a mesh of devices; XLA compiles one program per device and adds the communication |
# | TensorFlow | `tf.distribute`: `MirroredStrategy` (one machine), `MultiWorkerMirroredStrategy` (several) | build and compile the model in the strategy's scope; `fit` runs one replica per device |
# | PyTorch | none released | `keras.distribution` for PyTorch is on Keras's development branch; today, PyTorch's own `DistributedDataParallel` with a custom loop |
#
# Keras's TensorFlow backend also has a `keras.distribution` implementation on
# DTensor. But its source opens with "DO NOT USE": it is a prototype. So this
# notebook runs Keras on JAX, and runs TensorFlow's strategy in a separate
# process (section 4). The devices JAX sees:

# %%
# NBVAL_CHECK_OUTPUT
devices = keras.distribution.list_devices()
print(f"{len(devices)} devices: {devices}")

# %% [markdown]
# ## 2. Data parallelism: every device a copy, every batch split
#
# There are two basic ways to spread the training of one model over devices.
# The diagram draws both for AlexNet, with this notebook's devices and batch:
#
# - **data parallelism** (left) copies the whole model to every device and
#   splits every batch between them;
# - **model parallelism** (right) splits every layer's filters between the
#   devices, as AlexNet's two GPUs did; each device sees the whole batch.
#
# This section runs the first, section 3 the second.

# %%
diagrams.show(diagrams.parallelism(alexnet(local_response_norm=False), devices=len(devices), batch_size=BATCH_SIZE))

# %% [markdown]
# In *data parallelism* each device holds a full copy of the weights and takes
# a share of every batch. With 4 devices and a batch of 64, that is 16 images
# each. A step has three parts:
#
# 1. each device computes the gradient of the loss on its 16 images;
# 2. the devices add their gradients (an **all-reduce**);
# 3. every copy takes the same step.
#
# The loss is the mean over all 64 images. So the step is exactly the one a
# single device would take on the whole batch, with the same learning rate.
# `batch_size` in Keras is the *global* batch.
#
# `sharding.data_parallel` checks that the devices split the batch, then
# returns Keras's `DataParallel`. Its data layout shards the first axis, the
# batch, over the mesh's one axis:

# %%
distribution = sharding.data_parallel(BATCH_SIZE)
images, labels = reference.reference_data(STEPS, BATCH_SIZE)
data_layout = distribution.get_data_layout((BATCH_SIZE, 32, 32, 3))
batch = jax.device_put(images[:BATCH_SIZE], data_layout.backend_layout)
print("layout of a batch:", data_layout.axes)
pd.DataFrame([{"device": str(shard.device), "images": f"{shard.index[0].start} to {shard.index[0].stop - 1}",
               "shape on the device": shard.data.shape} for shard in batch.addressable_shards])

# %% [markdown]
# ### Where the gradients are added
#
# The model below is the reference CNN that every run of this notebook trains
# (`distributed.worker.reference_model`). It has two convolutions with
# BatchNormalization, GAP and a dense layer. Built in the distribution's
# scope, its variables are replicated. Compiling one gradient computation on
# the sharded batch shows what XLA made the devices send each other:

# %%
with distribution.scope():
    model = reference.reference_model(seed=0)


def loss_and_statistics(trainable, non_trainable, x, y):
    logits, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
    loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    return loss, non_trainable


label_batch = jax.device_put(labels[:BATCH_SIZE], distribution.get_data_layout((BATCH_SIZE,)).backend_layout)
compiled = jax.jit(jax.grad(loss_and_statistics, has_aux=True)).lower(
    [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
    batch, label_batch).compile()
communication = sharding.collectives(compiled, [layer.name for layer in model.layers])
communication

# %%
# NBVAL_CHECK_OUTPUT
gradient_bytes = sum(int(np.prod(v.shape)) * 4 for v in model.trainable_variables)
allreduced = communication.loc[communication.operation == "all-reduce", "megabytes"].sum() * 1e6
print(f"gradients: {gradient_bytes:,} bytes ({sum(int(np.prod(v.shape)) for v in model.trainable_variables):,} float32 "
      f"parameters); all-reduced: {allreduced:,.0f} bytes")
print("operations:", sorted(set(communication.operation)))
assert set(communication.operation) == {"all-reduce"}
assert allreduced >= gradient_bytes

# %% [markdown]
# Only all-reduces, as the theory says, and they carry at least the gradient's
# bytes. XLA combines the gradients of all layers into one all-reduce (the row
# without a layer). The others belong to the BatchNormalization layers. In the
# forward pass they add their batch means and variances across the devices,
# and in the backward pass the matching sums. So each device normalises with
# the statistics of all 64 images, as one device would. (Section 4 shows what
# happens when a framework does not do this.)
#
# ### One device or four: the same training?
#
# Now train the reference CNN for `STEPS` steps on one device and on four.
# Both runs start from the same seed and see the same batches. We compare the
# weights after every step, by the largest `max|w4 - w1| / max|w1|` over the
# variables. Two variants of the network:
#
# - ReLU with max pooling;
# - a *smooth* one, with GELU and average pooling.


# %%
def train_on(device_count, smooth, batch_size=BATCH_SIZE, steps=STEPS):
    """Trains the reference CNN on `device_count` devices; returns its weights after every step."""
    after = []
    keras.distribution.set_distribution(
        sharding.data_parallel(batch_size, device_count) if device_count > 1 else None)
    try:
        net = reference.reference_model(seed=0, smooth=smooth)
        reference.train_reference(net, images[:steps * batch_size], labels[:steps * batch_size], batch_size,
                                  after_step=lambda m: after.append(reference.weights_of(m)))
    finally:
        keras.distribution.set_distribution(None)
    return after


runs = {(count, smooth): train_on(count, smooth) for count in (1, len(devices)) for smooth in (True, False)}
drift = pd.DataFrame({
    ("GELU, average pooling" if smooth else "ReLU, max pooling"): [
        reference.relative_difference(four, one)
        for four, one in zip(runs[(len(devices), smooth)], runs[(1, smooth)])]
    for smooth in (True, False)
}, index=pd.RangeIndex(1, STEPS + 1, name="step"))

fig, ax = plt.subplots(figsize=(7, 3.8))
for column, style in zip(drift.columns, ("o-", "s--")):
    ax.semilogy(drift.index, drift[column], style, label=column)
ax.axhline(np.finfo("float32").eps, color="gray", lw=0.8, ls=":", label="float32 epsilon")
ax.set_xlabel("training step")
ax.set_ylabel("relative difference of weights (log)")
ax.set_title(f"{len(devices)} devices against 1, same seed and batches")
ax.legend()
plt.show()
drift.map(lambda v: f"{v:.1e}")

# %% [markdown]
# After the first step, both variants agree to a few float32 roundings. Four
# devices add the gradients of 16-image shares. One device adds 64 images in
# another order. And float addition is not associative. Then the variants part:
#
# - With GELU and average pooling the difference stays at that level.
# - With ReLU and max pooling it jumps by orders of magnitude within a few
#   steps. Take an activation within a rounding of 0, or two values of a
#   pooling window within a rounding of each other. Each sends its gradient
#   down a different path on the two runs, and momentum carries the
#   difference on.
#
# That is not a bug of either run. It is why this notebook compares parallel
# runs on a smooth network, with a stated tolerance. Real networks are
# compared by their accuracy over seeds, never weight by weight.
#
# **Check.** With the smooth network, every step agrees within `1e-5`.
# Float32 has 7 significant digits; a step's sums over 64 images lose a few;
# eight steps do not add two orders of magnitude. A control shows that the
# measure would see a real difference. It trains on one device with
# *per-device* batches of 16: the mistake of treating `batch_size` as each
# device's share. The same images then give four times as many steps.

# %%
smooth_drift = drift["GELU, average pooling"]
share = BATCH_SIZE // len(devices)
per_device = train_on(1, True, batch_size=share, steps=STEPS * len(devices))[-1]
control = reference.relative_difference(per_device, runs[(len(devices), True)][-1])
print(f"GELU: largest difference over {STEPS} steps {smooth_drift.max():.0e} (below 1e-5: {smooth_drift.max() < 1e-5})")
print(f"control, batches of {share} on one device: {control:.2f}")
assert smooth_drift.max() < 1e-5
assert control > 1000 * smooth_drift.max()

# %% [markdown]
# A larger global batch takes fewer steps per epoch. So adding devices while
# keeping 16 images per device changes the training, not only its speed.
# Goyal et al. (2017, *Accurate, large minibatch SGD*) adapt the recipe in two
# ways:
#
# - they scale the learning rate with the batch (their "linear scaling rule",
#   section 2.1);
# - they warm it up (section 2.2).
#
# Their abstract reports no loss of accuracy for ResNet-50 on ImageNet with
# batches of up to 8,192 images.
#
# ## 3. Model parallelism: AlexNet's filters on two devices
#
# When a model does not fit on one device, its weights must be split. The
# lecture describes AlexNet's split: the first layer's 96 filters as two
# volumes of 55 x 55 x 48, one per GPU. Krizhevsky et al. (2012, section 3.2)
# split every layer's filters, and "the GPUs communicate only in certain
# layers":
#
# - conv3 and the fully connected layers see both halves;
# - conv2, conv4 and conv5 see only their own GPU's half (notebook 14's
#   grouped convolutions).
#
# A `LayoutMap` says, for each variable path (a regular expression), which
# axis is split over which axis of a device mesh. `sharding.alexnet_layout_map`
# splits the last axis (output filters or units) of every kernel and bias over
# the mesh's "model" axis. The mesh has 1 x 2 devices: no batch split, two
# model halves. The model is `course_lib.models.alexnet` without local
# response normalisation. Then each half of a layer depends only on its own
# half of the previous one. (LRN mixes neighbouring channels, across the
# boundary.)

# %%
mesh = sharding.device_mesh((1, 2), ("batch", "model"))
layout_map = sharding.alexnet_layout_map(mesh)
print("\n".join(f"{pattern:32} {layout.axes}" for pattern, layout in layout_map.items()))

keras.utils.set_random_seed(0)
single = alexnet(local_response_norm=False)
with keras.distribution.ModelParallel(layout_map=layout_map).scope():
    split = alexnet(local_response_norm=False)
split.set_weights(single.get_weights())
placement = sharding.sharding_table(split)
placement[["shape", "layout", "shard", "copies"]]

# %%
fig, ax = plt.subplots(figsize=(9, 5.2))
sharding.plot_sharding(placement.drop(columns=[c for c in placement.columns
                                               if c.startswith("device ") and placement[c].sum() == 0]),
                       ax=ax, title="AlexNet split over two devices: MB of each variable on each")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
per_device = placement.filter(like="device ").sum()
per_device = per_device[per_device > 0]
print(f"whole model: {sum(int(np.prod(s)) for s in placement['shape']) * 4 / 1e6:.1f} MB; "
      f"per device: {', '.join(f'{mb:.1f} MB' for mb in per_device)}")
assert np.allclose(per_device, per_device.sum() / 2, rtol=1e-3)

# %% [markdown]
# Each device holds half of every layer, as the check prints: the point of
# model parallelism. Most of it is the fully connected layers' (the two
# widest rows of the picture), as notebook 14 counted.
#
# **Check.** The split model got the single model's weights, so on the same
# images it must compute the same probabilities:

# %%
probe = np.random.default_rng(0).uniform(0, 255, (2, 227, 227, 3)).astype("float32")
unsplit_probabilities = np.asarray(single.predict(probe, verbose=0))
with keras.distribution.ModelParallel(layout_map=layout_map).scope():
    split_probabilities = np.asarray(split.predict(probe, verbose=0))
difference = reference.relative_difference([split_probabilities], [unsplit_probabilities])
print(f"split against whole model: relative difference {difference:.0e}")
assert difference < 1e-5

# %% [markdown]
# ### What the compiler makes the devices send
#
# A layout says where the weights live, not how the work is divided. XLA's
# partitioner, the part of the compiler that divides the work, chooses that.
# It adds whatever communication it needs. Here are the *collective*
# operations of the compiled forward pass, those in which the devices exchange
# data (all-reduce, all-gather), per layer:

# %%
layer_names = [layer.name for layer in split.layers]
forward = jax.jit(lambda trainable, non_trainable, x: split.stateless_call(trainable, non_trainable, x)[0])
compiled_split = forward.lower([v.value for v in split.trainable_variables],
                               [v.value for v in split.non_trainable_variables], probe).compile()
automatic = sharding.collectives(compiled_split, layer_names)
automatic.groupby("layer", sort=False).agg(operations=("operation", lambda ops: ", ".join(sorted(set(ops)))),
                                          count=("operation", "size"), megabytes=("megabytes", "sum")).round(3)

# %% [markdown]
# The partitioner splits *every* operation over both devices. Wherever its
# choice of split does not line up with the next layer's, it reshuffles data.
# So it adds communication at the grouped layers too (conv2, conv4, conv5),
# which Krizhevsky's GPUs did not need. It does not see that group 1 of conv2
# only needs the maps already on device 1.
#
# ### Krizhevsky's schedule, written by hand
#
# `jax.shard_map` runs one function per device on that device's shards.
# Communication happens only where the function asks for it. Here is AlexNet
# as the two GPUs ran it. Each device computes its half of every layer from
# its own half of the previous one. It gathers the other half (`all_gather`)
# only before conv3 and the three dense layers.

# %%
def relu_conv(x, kernel, bias, strides=1, padding="same"):
    return keras.ops.relu(keras.ops.conv(x, kernel, strides=strides, padding=padding) + bias)


def gather(x, axis):
    """Both devices' halves of `x`, concatenated along `axis` (device 0's first)."""
    return jax.lax.all_gather(x, "model", axis=axis, tiled=True)


def half_alexnet(x, weights):
    """AlexNet on one device, with that device's half of every layer's filters (`weights`)."""
    with jax.named_scope("conv1"):
        x = relu_conv(x, *weights["conv1"], strides=4, padding="valid")
    x = keras.ops.max_pool(x, 3, strides=2)
    with jax.named_scope("conv2"):  # a group: only this device's 48 maps in
        x = relu_conv(x, *weights["conv2"])
    x = keras.ops.max_pool(x, 3, strides=2)
    with jax.named_scope("conv3"):  # sees both halves
        x = relu_conv(gather(x, axis=3), *weights["conv3"])
    with jax.named_scope("conv4"):
        x = relu_conv(x, *weights["conv4"])
    with jax.named_scope("conv5"):
        x = relu_conv(x, *weights["conv5"])
    x = keras.ops.max_pool(x, 3, strides=2)
    with jax.named_scope("fc1"):
        x = gather(x, axis=3).reshape(x.shape[0], -1)  # the flattening of the whole model
        x = keras.ops.relu(x @ weights["fc1"][0] + weights["fc1"][1])
    with jax.named_scope("fc2"):
        x = keras.ops.relu(gather(x, axis=1) @ weights["fc2"][0] + weights["fc2"][1])
    with jax.named_scope("predictions"):
        logits = gather(gather(x, axis=1) @ weights["predictions"][0] + weights["predictions"][1], axis=1)
    return keras.ops.softmax(logits)[None]  # this device's copy of the result, stacked by shard_map


weights = {layer.name: (np.asarray(layer.kernel), np.asarray(layer.bias)) for layer in single.layers
           if getattr(layer, "kernel", None) is not None}
halves = {name: (PartitionSpec(*(None,) * (kernel.ndim - 1), "model"), PartitionSpec("model"))
          for name, (kernel, _) in weights.items()}
two_devices = jax.sharding.Mesh(np.array(jax.devices()[:2]), ("model",))
by_hand = jax.jit(jax.shard_map(half_alexnet, mesh=two_devices, in_specs=(PartitionSpec(), halves),
                                out_specs=PartitionSpec("model")))
compiled_by_hand = by_hand.lower(probe, weights).compile()
handwritten = sharding.collectives(compiled_by_hand, list(weights))
handwritten.groupby("layer", sort=False).agg(operations=("operation", lambda ops: ", ".join(sorted(set(ops)))),
                                            count=("operation", "size"), megabytes=("megabytes", "sum")).round(3)

# %% [markdown]
# **Check.** Communication happens only at conv3 and the dense layers, as in
# the paper. Both devices end with the same probabilities (the last gather
# hands each the other's half), and they are the whole model's:

# %%
device_copies = np.asarray(by_hand(probe, weights))  # one copy of the probabilities per device
difference = reference.relative_difference([device_copies[0]], [unsplit_probabilities])
print("layers that communicate:", sorted(set(handwritten.layer)))
print("the two devices' results are identical:", np.array_equal(device_copies[0], device_copies[1]))
print(f"hand-written split against the whole model: relative difference {difference:.0e}")
print(f"megabytes sent per forward pass of 2 images: by hand {handwritten.megabytes.sum():.2f}, "
      f"by the partitioner {automatic.megabytes.sum():.2f}")
assert set(handwritten.layer) == {"conv3", "fc1", "fc2", "predictions"}
assert np.array_equal(device_copies[0], device_copies[1]) and difference < 1e-5

# %% [markdown]
# The automatic partition is correct, and on fast links often good enough.
# The paper's schedule communicates less because it uses what the partitioner
# cannot know: the grouped layers never need the other half.
#
# ### Why split at all: AlexNet's memory in 2012
#
# Krizhevsky et al. give the memory as the reason in section 3.2: a GTX 580
# "has only 3GB of memory, which limits the maximum size of the networks that
# can be trained on it". Training holds four things in memory:
#
# - the weights;
# - their gradients;
# - the optimizer's momentum;
# - every layer's output, for the backward pass.
#
# For a batch of 128 (the paper's), counted from the model:

# %%
# NBVAL_CHECK_OUTPUT
batch_of = 128
parameters = single.count_params()
outputs_per_image = sum(int(np.prod(layer.output.shape[1:])) for layer in single.layers[1:])
memory = pd.Series({
    "weights": parameters * 4,
    "gradients": parameters * 4,
    "momentum": parameters * 4,
    f"layer outputs, batch of {batch_of}": outputs_per_image * batch_of * 4,
}) / 1e9
memory["total"] = memory.sum()
print(memory.round(2).to_string(), "(GB)")
too_large = int(np.ceil((3e9 - 3 * parameters * 4) / (outputs_per_image * 4)))
print(f"the total passes 3 GB from a batch of {too_large} images")
assert memory["total"] < 3 < memory["total"] + (too_large - batch_of) * outputs_per_image * 4 / 1e9 + 1e-9

# %% [markdown]
# The total is well under 3 GB. But it is a lower bound: real training also
# needs the backward pass's temporaries and the convolutions' workspace,
# which the count leaves out. So the count does not show that the net fitted
# on one GTX 580 in 2012, and the paper gives no count of its own.
#
# What the paper gives (section 3.2) is a comparison with a one-GPU net that
# has half as many kernels in each convolutional layer. The two-GPU net has
# 1.7 and 1.2 points less top-1 and top-5 error, and trains slightly faster.
# So the paper's reason (memory) and the lecture's ("just to improve the
# parallelism on the available physical hardware") are two sides of one
# choice. Memory capped what one GPU could train; the second GPU bought twice
# as many kernels in most convolutional layers, in no more time. Notebook 14
# reads it the same way.
#
# Model parallelism becomes *necessary* when the total exceeds one device's
# memory. Data parallelism cannot help there, since every device needs all of
# it.
#
# ## 4. TensorFlow: `MirroredStrategy`
#
# On the TensorFlow backend, the model and its optimizer are created in the
# scope of a `tf.distribute` strategy, and `fit` runs one replica per device.
# TensorFlow fixes its devices when it starts. So this section runs in its own
# process (`python -m course_lib.distributed.worker mirrored --replicas 2`).
# The process splits the CPU into two logical devices and trains the same
# reference CNN three times:
#
# - on one device;
# - mirrored;
# - mirrored with per-replica BatchNormalization statistics
#   (`BatchNormalization(synchronized=False)`, Keras's default).

# %%
workdir = Path(tempfile.mkdtemp(prefix="several_devices_"))
worker = [sys.executable, "-m", "course_lib.distributed.worker"]
mirrored_file = workdir / "mirrored.npz"
(mirrored_run,) = multiprocess.run_processes(
    [worker + ["mirrored", "--replicas", "2", "--steps", str(STEPS), "--batch-size", str(BATCH_SIZE),
               "--output", str(mirrored_file)]], timeout=WORKER_TIMEOUT)
print(f"finished in {mirrored_run.seconds:.0f} s; its last line:", mirrored_run.output.strip().splitlines()[-1])

# %%
one_device, _ = reference.load_weights(mirrored_file, "single")
mirrored = pd.Series({
    name: reference.relative_difference(reference.load_weights(mirrored_file, name)[0], one_device)
    for name in ("mirrored_synchronized", "mirrored_local")
}, name="difference from one device")
print(mirrored.map(lambda v: f"{v:.1e}").to_string())
assert mirrored["mirrored_synchronized"] < 1e-5
assert mirrored["mirrored_local"] > 1e-2

# %% [markdown]
# With synchronized statistics the mirrored run is one device's, to float32
# rounding. With Keras's default, each replica normalises its 32 images by
# their own mean and variance. That is a different function of the batch, so a
# different training, and the moving statistics differ too. JAX's
# `DataParallel` compiles one program for the global batch, so its
# normalisation is global by construction (the all-reduces of section 2). In
# `tf.distribute`, ask for it: `BatchNormalization(synchronized=True)`, at the
# price of one all-reduce per layer and step.
#
# ## 5. Two processes, as on a cluster
#
# On several machines each runs its own copy of the program, a *process*. One
# of them, the coordinator, listens at an address. The others connect to it,
# and from then on JAX sees the devices of all processes as one mesh.
# `keras.distribution.initialize(address, num_processes, process_id)` does
# this (it calls `jax.distributed.initialize`).
#
# Here two processes on this machine, each with 2 CPU devices, train the
# reference CNN data-parallel over all 4. Each process feeds its own 32 rows
# of every 64-image batch (`distributed.worker.process_rows`). A library for
# CPUs, Gloo, carries the all-reduces between the processes.

# %%
port = multiprocess.free_port()
outputs = [workdir / f"process{i}.npz" for i in range(2)]
cluster = multiprocess.run_processes(
    [worker + ["data-parallel", "--devices", "2", "--processes", "2", "--process-id", str(i),
               "--coordinator", f"127.0.0.1:{port}", "--steps", str(STEPS), "--batch-size", str(BATCH_SIZE),
               "--output", str(outputs[i])] for i in range(2)],
    timeout=WORKER_TIMEOUT)
for number, run in enumerate(cluster):
    lines = [line for line in run.output.splitlines() if "Gloo" in line or line.startswith("{")]
    print(f"--- process {number}, {run.seconds:.0f} s, exit status {run.returncode}")
    print("\n".join(lines[-3:]))

# %%
(process0, record0), (process1, record1) = (reference.load_weights(path, "data_parallel") for path in outputs)
print(f"devices in the job: {record0['devices']}, of which each process has {record0['local_devices']}")
print(f"process 0 against process 1: {reference.relative_difference(process0, process1):.1e}")
print(f"against 4 devices in this kernel: {reference.relative_difference(process0, runs[(len(devices), True)][-1]):.0e}")
print(f"against 1 device in this kernel: {reference.relative_difference(process0, runs[(1, True)][-1]):.0e}")
assert record0["devices"] == 4 and record0["local_devices"] == 2
assert reference.relative_difference(process0, process1) == 0.0
assert reference.relative_difference(process0, runs[(len(devices), True)][-1]) < 1e-5
assert reference.relative_difference(process0, runs[(1, True)][-1]) < 1e-5

# %% [markdown]
# The two processes hold bit-identical weights: every step they apply the same
# all-reduced gradient to the same copy. Had they differed by one bit, they
# would be two trainings. And they agree, within rounding, with four devices in
# one process and with one device. On a real cluster only the address changes
# (and the library that carries the all-reduces becomes NVIDIA's NCCL, made
# for GPUs, instead of Gloo).
#
# ## 6. When do more devices pay?
#
# A data-parallel step costs two things:
#
# - the one-device compute time, divided by the device count;
# - the all-reduce of the gradients.
#
# The usual all-reduce is a *ring*: the devices pass pieces of the gradient to
# their neighbour around a circle until each has the sum. For `B` bytes over
# `n` devices it sends `2 (n - 1) / n * B` bytes over each device's link
# (`scaling.ring_allreduce_seconds`). That hardly grows with `n`, while the
# compute share shrinks as `1 / n`. `scaling.data_parallel_speedup` adds a
# *serial fraction*: work that only one device can do, which caps the
# speed-up (Amdahl's law).
#
# The link is the connection the gradients travel over. From slowest to
# fastest, the links compared below are:
#
# - 25 GbE and 100 GbE: Ethernet between machines, 25 and 100 gigabits per
#   second;
# - PCIe 4.0 x16: the bus between a GPU and the rest of its machine;
# - NVLink (A100): direct links between the GPUs of one NVIDIA A100 server.
#
# The compute side comes from measurements. On this CPU, each recorded run's
# epoch times give its seconds per step. On a GPU, airbench's published run
# gives one network's step. It took 3.83 s for 9.9 epochs of 50,000 images in
# batches of 1,024 on an A100 (Jordan, 2024, arXiv 2404.00498; notebook 23).
# That is the same network and recipe as the course's `speedrun94` record.

# %%
# NBVAL_CHECK_OUTPUT
speedrun94 = zoo.record("speedrun94")
a100_step = 3.83 / (9.9 * np.ceil(50_000 / speedrun94["recipe"]["batch_size"]))
cpu_step = zoo.history("speedrun94")["seconds"].iloc[1:].median() / np.ceil(
    speedrun94["data"]["train_images"] / speedrun94["recipe"]["batch_size"])
print(f"airbench94, one step of 1,024 images: {a100_step * 1e3:.1f} ms on an A100, {cpu_step:.1f} s on this CPU")

# %%
rows = []
for name in zoo.recorded():
    record = zoo.record(name)
    steps_per_epoch = np.ceil(record["data"]["train_images"] / record["recipe"]["batch_size"])
    rows.append({"model": record["architecture"], "trainable parameters": record["trainable_parameters"],
                 "gradient MB": record["trainable_parameters"] * 4 / 1e6, "batch": record["recipe"]["batch_size"],
                 # the first epoch includes compiling
                 "CPU s/step": zoo.history(name)["seconds"].iloc[1:].median() / steps_per_epoch})
costs = pd.DataFrame(rows).set_index("model").sort_values("trainable parameters")
for link in ("25 GbE", "NVLink (A100)"):
    costs[f"all-reduce ms, 8 devices, {link}"] = [
        scaling.ring_allreduce_seconds(mb * 1e6, 8, scaling.LINKS[link]) * 1e3 for mb in costs["gradient MB"]]
costs["speed-up, 8 CPUs, 25 GbE"] = [
    scaling.data_parallel_speedup(step, mb * 1e6, 8, scaling.LINKS["25 GbE"])
    for step, mb in zip(costs["CPU s/step"], costs["gradient MB"])]
costs.round(3)

# %% [markdown]
# On this CPU a step takes a third of a second or more. An all-reduce of a few
# MB takes a few milliseconds, even over 25 GbE. So eight such machines would
# train nearly eight times as fast (the last column). On a GPU the step
# shrinks and the all-reduce does not. Below is the speed-up of airbench94 on
# A100s, with its measured step, for 1 to 64 devices on each link. The left
# panel has no serial share. The right one has a 5 % serial share, an assumed
# figure for illustration (input pipelines and optimizer updates are typical
# culprits):

# %%
gradient = costs.loc["airbench94", "gradient MB"] * 1e6
device_counts = [1, 2, 4, 8, 16, 32, 64]
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, serial in zip(axes, (0.0, 0.05)):
    table = scaling.scaling_table(a100_step, gradient, device_counts, serial_fraction=serial)
    ax.loglog(device_counts, device_counts, "k:", lw=1, label="perfect")
    for link in table.columns:
        ax.loglog(device_counts, table[link], "o-", label=link)
    ax.set_xticks(device_counts, [str(n) for n in device_counts])
    ax.set_xlabel("A100 GPUs")
    ax.set_title(f"airbench94, {a100_step * 1e3:.1f} ms/step, serial share {serial:.0%}")
    ax.grid(alpha=0.3, which="both")
axes[0].set_ylabel("speed-up over one GPU")
axes[1].legend(fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
table = scaling.scaling_table(a100_step, gradient, device_counts)
efficiency = table.div(table.index.to_numpy(), axis=0)
for link in table.columns:
    below = [n for n in device_counts if efficiency.loc[n, link] < 0.5]
    print(f"{link:15} speed-up at 8: {table.loc[8, link]:4.1f}; "
          + (f"under 50 % efficiency from {below[0]} GPUs" if below else "over 50 % efficiency up to 64 GPUs"))
communication_share = costs["all-reduce ms, 8 devices, 25 GbE"] / (costs["CPU s/step"] * 1e3)
print(f"on this CPU, 8 machines over 25 GbE: the all-reduce is at most {communication_share.max():.1%} of a step")
assert (communication_share < 0.05).all()
assert costs["speed-up, 8 CPUs, 25 GbE"].idxmin() == costs["gradient MB"].idxmax() == "VGG16"
assert table.loc[64, "NVLink (A100)"] > table.loc[64, "100 GbE"] > table.loc[64, "25 GbE"]

# %% [markdown]
# What the table and the curves show:
#
# - **On this CPU, computing dominates.** The all-reduce takes under 5 % of a
#   step, even over 25 GbE (printed above). So data parallelism over any of
#   these links pays almost fully.
# - **On a GPU, communication catches up.** A step of airbench94 takes
#   milliseconds on an A100 instead of seconds on this CPU, but its
#   all-reduce takes as long as before. Over 25 GbE it gains little from more
#   GPUs; over NVLink it keeps gaining. Faster devices need faster links.
# - **Parameters cost bytes, multiply-adds cost time.** The bytes to send
#   grow with the parameters, the computation with the multiply-adds. A dense
#   layer uses each weight once per image, a convolution at every position:
#   for the same work, dense layers send more bytes. In the table, VGG16 has
#   the largest gradient and the lowest speed-up.
# - **When it stops paying.** Data parallelism stops paying when the
#   all-reduce takes as long as each device's share of the computation. Three
#   things help then: a faster link; fewer bytes (16-bit gradients, or
#   compressed ones); or sending the last layers' gradients while the backward
#   pass still works on the first ones. Frameworks do the last; our cost model
#   leaves it out.
# - **Model parallelism is no cure for slow links.** It is needed when the
#   model does not fit on one device (section 3), and it needs communication
#   of its own.

# %%
import shutil

shutil.rmtree(workdir, ignore_errors=True)

# %% [markdown]
# ## Summary
#
# - Keras 3.15 distributes training with `keras.distribution` on JAX and with
#   `tf.distribute` on TensorFlow; PyTorch has no released Keras API for it.
# - Data parallelism copies the weights to every device and splits every
#   batch. An all-reduce adds the gradients, so the step is one device's step
#   on the global batch, with the same learning rate. Measured: the same
#   weights to float32 rounding with smooth functions; ReLU and max pooling
#   amplify rounding differences by orders of magnitude within a few steps.
# - Model parallelism splits the weights. A `LayoutMap` places them, and the
#   compiler adds the communication; writing the per-device program with
#   `shard_map` reproduces Krizhevsky's schedule, communicating only at conv3
#   and the dense layers.
# - BatchNormalization under `MirroredStrategy` is per replica unless
#   `synchronized=True`; JAX's global-view programs normalise over the global
#   batch.
# - Several processes form one job through a coordinator; every process holds
#   the same weights.
# - The ring all-reduce's time barely depends on the device count, the
#   compute share falls as `1 / n`: faster devices and slower links make data
#   parallelism stop paying sooner. Memory, not speed, is what forces a model
#   to be split.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md); try each exercise first.
#
# 1. ★ **The ring's bytes.** For AlexNet's 244 MB of gradients, how many bytes
#    does each device send in a ring all-reduce over 2, 8 and 64 devices?
#    *Hint:* `2 (n - 1) / n` times the size.
# 2. ★★ **Batch and data together.** Build a 2 x 2 mesh ("batch", "model")
#    and train AlexNet-CIFAR (`course_lib.models.alexnet_cifar`) with a
#    `ModelParallel` that also splits the batch. Which variables are split,
#    and how many copies of each exist? *Hint:* `ModelParallel(layout_map=...,
#    batch_dim_name="batch")`, then `sharding.sharding_table`.
# 3. ★★ **Where the drift starts.** Train the ReLU variant of section 2 with
#    average pooling instead of max pooling, and with max pooling and GELU.
#    Which kink causes the larger jump? *Hint:* pass your own model to
#    `distributed.worker.train_reference`, and compare with
#    `relative_difference` after every step.
# 4. ★★ **How slow must a GPU be?** For airbench94 over 25 GbE, find the
#    one-GPU step time at which 8 GPUs reach 50 % efficiency (a speed-up of 4),
#    and compare it with the A100's. *Hint:* solve `t / (t / 8 + a) = 4` for
#    `t`, with `a` the all-reduce time of section 6.
# 5. ★★★ **Two processes, two layouts.** Start two worker processes with
#    `--devices 1` each, and compare their result with the 2 x 2 run of
#    section 5. *Hint:* the global batch is the same; only the number of
#    devices each process contributes changes.
#
# ## Under the hood
#
# The measured differences in the checks are printed in cells that nbval runs
# without comparing their text: the asserts hold on every run, but the last
# digit of a rounding difference need not.
