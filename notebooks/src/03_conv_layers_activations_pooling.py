# %% [markdown]
# # 03 · Convolutional layers, activations and pooling
#
# Notebook 02 convolved one image with one filter. A convolutional layer does this
# with many filters at once, over inputs with many channels, adds a bias, and is
# followed by a non-linear activation and often by pooling. This notebook builds
# each piece, counts what it costs, and checks it against Keras.
#
# **Learning objectives.** After this notebook you can
#
# 1. follow the shape of a volume (rows x columns x depth) through a stack of layers;
# 2. compute one output slice of a convolutional layer from its filter and its bias;
# 3. count a layer's parameters with N_F(H W K + 1) and say why the count depends on
#    the input depth K but not on the image size;
# 4. plot ReLU and leaky ReLU, say what they do to a feature map, and measure why
#    CNNs prefer them to the sigmoid and tanh (saturation, vanishing gradients);
# 5. compute max and average pooling by hand and with Keras;
# 6. look at the filters and feature maps of a trained layer.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# ## Parameters
#
# Section 6 trains a small CNN; these CPU settings keep it to a few seconds. On a
# GPU, the larger settings in the comments give sharper filters.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
PER_CLASS = 300  # MNIST training images per class (GPU: 6000, all of them)
EPOCHS = 6  # (GPU: 15)
BATCH_SIZE = 64

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import signal

from course_lib import data
from course_lib.autodiff import weight_gradients
from course_lib.viz import plot_feature_maps, plot_filters

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Volumes through a stack of layers
#
# A convolutional layer takes a **volume** of shape rows x columns x depth (an RGB
# image has depth 3) and returns another volume. Each of its N_F filters spans the
# full depth of its input and produces one 2D slice of the output, so the output's
# depth is N_F. Pooling then shrinks the rows and columns. A typical CNN stacks
# these so that the volume gets deeper and smaller as it goes: fewer positions,
# more features per position.

# %%
stack = keras.Sequential(
    [
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv3"),
        keras.layers.MaxPooling2D(2, name="pool3"),
    ],
    name="stack",
)
volumes = pd.DataFrame(
    [{"layer": "input", "rows": 32, "cols": 32, "depth": 3}]
    + [
        dict(zip(("layer", "rows", "cols", "depth"), (layer.name, *layer.output.shape[1:])))
        for layer in stack.layers
    ]
).set_index("layer")
volumes["values"] = volumes["rows"] * volumes["cols"] * volumes["depth"]
volumes

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.plot(volumes.index, volumes["rows"], "o-", label="rows (= columns)")
ax.plot(volumes.index, volumes["depth"], "s-", label="depth (channels)")
ax.set_yscale("log", base=2)
ax.set_xlabel("layer")
ax.set_ylabel("size (log scale)")
ax.set_title("Through the stack: depth grows, spatial extent shrinks")
ax.legend()
plt.show()

# %% [markdown]
# **Check.** Each layer changes one thing: a convolution the depth, a pooling the
# rows and columns.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
convs = [layer for layer in stack.layers if isinstance(layer, keras.layers.Conv2D)]
assert list(volumes.loc[[c.name for c in convs], "depth"]) == [c.filters for c in convs]
assert (np.diff(volumes["depth"].to_numpy()) >= 0).all()
assert (np.diff(volumes["rows"].to_numpy()) <= 0).all()
assert volumes.loc["pool3", "rows"] == 32 // 2**3
print("Check: each convolution sets the depth to its number of filters (8, 16, 32) and keeps the rows and "
      "columns (\"same\" padding); each 2x2 pooling halves them, from 32x32 to 4x4.")

# %% [markdown]
# ## 2. One output slice: a filter and a bias
#
# Output slice f of a convolutional layer is the sum, over the K input channels, of
# the 2D correlation of channel k with slice k of filter f, plus **one bias b_f**
# shared by all positions of the slice:
#
# $$\text{out}_f = b_f + \sum_{k=1}^{K} \text{in}_k \star w_{f,k}.$$
#
# We rebuild every slice of a Keras `Conv2D` layer with `scipy.signal.correlate2d`
# (a Keras layer computes a correlation: the filter is not flipped).

# %%
layer = keras.layers.Conv2D(4, 3, padding="valid")
volume = rng.normal(size=(1, 9, 9, 3)).astype("float32")
layer.build(volume.shape)
layer.bias.assign(rng.normal(size=4).astype("float32"))  # Keras starts at 0: make the biases count
kernel, bias = layer.get_weights()
keras_out = keras.ops.convert_to_numpy(layer(volume))[0]

by_hand = np.stack(
    [
        bias[f] + sum(signal.correlate2d(volume[0, :, :, k], kernel[:, :, k, f], mode="valid") for k in range(3))
        for f in range(4)
    ],
    axis=-1,
)

# %% [markdown]
# **Check.** One slice per filter: the output's depth is N_F = 4.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert keras_out.shape == by_hand.shape == (7, 7, 4)
error = np.abs(keras_out - by_hand).max() / np.abs(keras_out).max()
assert error < 1e-5
print(f"Check: the slices built by hand with SciPy equal Keras's output of shape {keras_out.shape} "
      "(relative error below 1e-5).")

# %% [markdown]
# ## 3. How many parameters?
#
# Each of the N_F filters has H x W x K weights (it spans the K input channels),
# and each has one bias:
#
# $$N_\text{params} = N_F\,(H\,W\,K + 1).$$
#
# The count does not depend on the size of the image: the same filter slides over
# every position (weight sharing). It does depend on the input depth K, so the same
# hyper-parameters (here 16 filters of 3x3) cost more deeper in a network, where
# the input has more channels.

# %%
def conv_params(filters, kernel_size, depth):
    return filters * (kernel_size * kernel_size * depth + 1)


rows = []
for depth in (1, 3, 8, 16, 32, 64):
    for image_size in (28, 64):
        probe = keras.Sequential([keras.Input((image_size, image_size, depth)), keras.layers.Conv2D(16, 3)])
        rows.append(
            {
                "input depth K": depth,
                "image size": image_size,
                "formula": conv_params(16, 3, depth),
                "model.count_params()": probe.count_params(),
            }
        )
counts = pd.DataFrame(rows)
counts

# %% [markdown]
# **Check.** In the stack of section 1, each convolution's K is the depth of its
# input: the number of filters of the convolution before it.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert (counts["formula"] == counts["model.count_params()"]).all()
assert counts.groupby("input depth K")["formula"].nunique().eq(1).all()  # image size plays no role
depth_in = 3
for conv in convs:
    assert conv.count_params() == conv_params(conv.filters, conv.kernel_size[0], depth_in), conv.name
    print(f"{conv.name}: K={depth_in:2d}, N_F={conv.filters:2d} -> {conv.count_params():5d} parameters")
    depth_in = conv.filters
print("Check: N_F(H W K + 1) equals Keras's count for every input depth and image size, "
      "and for the three convolutions of the stack.")

# %% [markdown]
# ## 4. Activations: ReLU and leaky ReLU
#
# Without a non-linear function between them, two convolutional layers would
# collapse into one (a correlation of a correlation is a correlation). The
# **rectified linear unit** keeps positive values and sets negative ones to zero,
# ReLU(z) = max(0, z). Its gradient is 0 for negative inputs, so a unit that only
# ever sees negative inputs stops learning; the **leaky ReLU** keeps a small slope
# a for them: z if z > 0, else a z.

# %%
slope = 0.1
z = np.linspace(-3, 3, 601).astype("float32")
relu = keras.ops.convert_to_numpy(keras.activations.relu(z))
leaky = keras.ops.convert_to_numpy(keras.activations.leaky_relu(z, negative_slope=slope))

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(z, relu, label="ReLU: max(0, z)", linewidth=2)
ax.plot(z, leaky, "--", label=f"leaky ReLU, a = {slope}", linewidth=2)
ax.axhline(0, color="gray", linewidth=0.5)
ax.axvline(0, color="gray", linewidth=0.5)
ax.set_xlabel("input z (pre-activation)")
ax.set_ylabel("output f(z)")
ax.set_title("ReLU and leaky ReLU")
ax.legend()
plt.show()

# %% [markdown]
# On a feature map, ReLU keeps only where the filter responded positively. Below, a
# vertical-edge filter (Sobel) responds positively where the digit's left edge is
# (dark to bright from left to right) and negatively on its right edge. ReLU keeps
# the left edges only; leaky ReLU keeps a faint copy of the right edges.

# %%
(x_train_full, y_train_full), (x_test_full, y_test_full) = data.load_mnist()
digit = x_test_full[0].astype("float32") / 255
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32")
edge_layer = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
edge_layer.build((None, 28, 28, 1))
edge_layer.set_weights([sobel[:, :, None, None]])
feature_map = keras.ops.convert_to_numpy(edge_layer(digit[None, :, :, None]))[0, :, :, 0]
after = {
    "feature map": feature_map,
    "after ReLU": keras.ops.convert_to_numpy(keras.activations.relu(feature_map)),
    f"after leaky ReLU (a = {slope})": keras.ops.convert_to_numpy(
        keras.activations.leaky_relu(feature_map, negative_slope=slope)
    ),
}
limit = np.abs(feature_map).max()
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), layout="constrained")
axes[0].imshow(digit)
axes[0].set_title(f"input digit ({y_test_full[0]})")
for ax, (name, values) in zip(axes[1:], after.items()):
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(name)
fig.colorbar(image, ax=axes[1:].tolist(), label="value (red > 0, blue < 0)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# **Check.** The two activations differ only on the negative values of the map.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(relu, np.maximum(z, 0))
np.testing.assert_allclose(leaky, np.where(z > 0, z, slope * z), rtol=1e-6)
negative = feature_map < 0
assert negative.any() and (feature_map > 0).any()
assert (after["after ReLU"][negative] == 0).all()
np.testing.assert_allclose(after[f"after leaky ReLU (a = {slope})"][negative], slope * feature_map[negative], rtol=1e-6)
print(f"Check: Keras's ReLU and leaky ReLU match their definitions; on the feature map ({negative.mean():.0%} "
      f"negative), ReLU zeroes the negative values and leaky ReLU multiplies them by a = {slope}.")

# %% [markdown]
# ### Why not sigmoid or tanh?
#
# The lecture notes say that CNNs use ReLU and leaky ReLU, while the hyperbolic
# tangent and the sigmoid belong to older, fully connected networks. The reason
# is the gradient. Backpropagation multiplies, layer after layer, by the
# derivative of the activation. The sigmoid's derivative is at most 0.25 (at
# $z = 0$), the tanh's at most 1, and both fall to almost 0 once $|z|$ passes 3:
# the unit **saturates**. ReLU's derivative is exactly 1 for every positive
# input, however large.

# %%
z_range = np.linspace(-6, 6, 1201).astype("float32")
activations = {"sigmoid": keras.activations.sigmoid, "tanh": keras.activations.tanh, "ReLU": keras.activations.relu}
derivatives = {}
for name, function in activations.items():
    values = keras.ops.convert_to_numpy(function(z_range))
    derivatives[name] = np.gradient(values, z_range)
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, derivative in derivatives.items():
    ax.plot(z_range, derivative, label=name, linewidth=2)
ax.set_xlabel("input z (pre-activation)")
ax.set_ylabel("derivative f'(z)")
ax.set_title("Derivatives of three activations")
ax.legend(loc="upper left")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# What this does to a deep network: below, ten 3x3 convolutions of 16 filters
# each, with one activation throughout, then global average pooling and a
# softmax layer, at Keras's default initialisation. We take the gradient of
# the cross-entropy on 64 digits with respect to each convolution's kernel
# (`course_lib.autodiff.weight_gradients`, no training step) and divide its size
# by that of the last convolution's gradient: how much of the learning signal
# reaches each depth. Three seeds per activation.

# %%
DEPTH = 10
probe_digits = x_train_full[:64, :, :, None].astype("float32") / 255
probe_labels = y_train_full[:64]


def gradient_profile(activation, seed):
    """Norm of each convolution's kernel gradient, relative to the last convolution's."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((28, 28, 1))]
        + [keras.layers.Conv2D(16, 3, padding="same", activation=activation) for _ in range(DEPTH)]
        + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
    )
    _, gradients = weight_gradients(model, keras.losses.SparseCategoricalCrossentropy(), probe_digits, probe_labels)
    kernels = [np.linalg.norm(g) for g, w in zip(gradients, model.trainable_weights) if len(w.shape) == 4]
    return np.array(kernels) / kernels[-1]


profiles = {(name, seed): gradient_profile(name.lower(), seed) for name in activations for seed in range(3)}
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for (name, seed), profile in profiles.items():
    ax.plot(range(1, DEPTH + 1), profile, marker="o", markersize=3, color=f"C{list(activations).index(name)}",
            label=name if seed == 0 else None)
ax.set_yscale("log")
ax.set_xlabel("convolution (1 = next to the input)")
ax.set_ylabel("gradient norm / last convolution's")
ax.set_title(f"Gradient reaching each of {DEPTH} convolutions at initialisation (3 seeds)")
ax.legend(loc="lower right")
ax.grid(alpha=0.3, which="both")
plt.show()
first_layer = pd.DataFrame({name: [profiles[name, seed][0] for seed in range(3)] for name in activations})
first_layer.index.name = "seed"
first_layer.map("{:.1e}".format)

# %% [markdown]
# **Check.** The sigmoid network loses its gradient on the way down. tanh does
# not saturate here: Keras's default Glorot initialisation was designed to keep
# it in its linear range. Large inputs or large weights would saturate it.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
peak = {name: derivatives[name].max() for name in derivatives}
assert abs(peak["sigmoid"] - 0.25) < 1e-3 and abs(peak["tanh"] - 1) < 1e-3
assert derivatives["sigmoid"][-1] < 0.01 and derivatives["tanh"][-1] < 0.01
assert np.allclose(derivatives["ReLU"][z_range > 0.01], 1, atol=1e-3)
assert (first_layer["sigmoid"] < 1e-4).all()
assert (first_layer["tanh"] > 0.05).all() and (first_layer["ReLU"] > 0.05).all()
print("Check: the derivatives peak at 0.25 (sigmoid) and 1 (tanh) and nearly vanish at |z| = 6, ReLU's is 1 "
      "for z > 0; on every seed, the first convolution gets less than 1e-4 of the last one's gradient with "
      "sigmoid, more than 0.05 with tanh and ReLU.")

# %% [markdown]
# ## 5. Pooling
#
# A pooling layer summarises each window of a feature map by one number, slice by
# slice: **max pooling** keeps the largest value, **average pooling** the mean.
# With a stride equal to the window (the usual 2x2 with stride 2), the windows tile
# the map without overlapping, so the rows and columns are divided by 2 and the
# depth stays. A small example, by hand:

# %%
tiny = np.array(
    [
        [1, 3, 2, 1],
        [4, 2, 0, 1],
        [5, 6, 1, 2],
        [0, 1, 3, 4],
    ],
    dtype="float32",
)
by_hand_max = np.array([[4, 2], [6, 4]], dtype="float32")  # the largest of each 2x2 block
by_hand_avg = np.array([[2.5, 1.0], [3.0, 2.5]], dtype="float32")  # e.g. (1 + 3 + 4 + 2) / 4
keras_max = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(tiny[None, :, :, None]))[0, :, :, 0]
keras_avg = keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(2)(tiny[None, :, :, None]))[0, :, :, 0]
print("max pooling:\n", keras_max, "\naverage pooling:\n", keras_avg)

# %% [markdown]
# On larger inputs, non-overlapping pooling is a reshape: split rows and columns
# into (blocks, 2) and reduce over the two axes of size 2. We compare that NumPy
# reference with Keras on a random batch of volumes with 5 channels.

# %%
def pool_reference(x, size, reduce):
    n, rows, cols, depth = x.shape
    rows, cols = rows // size * size, cols // size * size  # "valid": a partial window is dropped
    blocks = x[:, :rows, :cols].reshape(n, rows // size, size, cols // size, size, depth)
    return reduce(blocks, axis=(2, 4))


batch = rng.normal(size=(2, 9, 12, 5)).astype("float32")
pooled = {
    "max": keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(3)(batch)),
    "average": keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(3)(batch)),
}

# %% [markdown]
# **Check.** Pooling works slice by slice, so the depth stays.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
np.testing.assert_array_equal(keras_max, by_hand_max)
np.testing.assert_allclose(keras_avg, by_hand_avg)
np.testing.assert_array_equal(pooled["max"], pool_reference(batch, 3, np.max))
np.testing.assert_allclose(pooled["average"], pool_reference(batch, 3, np.mean), rtol=1e-5, atol=1e-6)
assert pooled["max"].shape == (2, 9 // 3, 12 // 3, 5)
print(f"Check: Keras's pooling layers equal the 2x2 example by hand and the NumPy reference with 3x3 windows, "
      f"stride 3: {batch.shape} -> {pooled['max'].shape}.")

# %% [markdown]
# ## 6. Filters and feature maps of a trained layer
#
# What do the filters of a trained layer look like, and what do they respond to? We
# train a small CNN briefly on a subset of MNIST, then look at the filters of its
# first layer and at the feature maps of both layers for one test digit.

# %%
x_train, y_train = data.subset(x_train_full, y_train_full, per_class=PER_CLASS, seed=0)
x_test, y_test = data.subset(x_test_full, y_test_full, per_class=100, seed=0)

cnn = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 5, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(16, 5, activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="small_cnn",
)
cnn.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.fit(x_train[..., None], y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
test_accuracy = cnn.evaluate(x_test[..., None], y_test, verbose=0)[1]
print(f"test accuracy after {EPOCHS} epochs on {len(x_train)} images: {test_accuracy:.1%}")

# %% [markdown]
# The eight 5x5 filters of the first layer (each scaled to its own range: dark is
# the most negative weight, light the most positive). Some show an oriented
# transition from dark to light, an edge or stroke detector learned from the
# digits; after so short a training, others are still noisy.

# %%
plot_filters(cnn.get_layer("conv1").get_weights()[0], title="conv1: 8 learned 5x5 filters")
plt.show()

# %% [markdown]
# The feature maps of one test digit: each first-layer map lights up where its
# filter's pattern appears (after ReLU, dark means zero). The second layer's maps
# are smaller (8x8 after a pooling and a valid 5x5 convolution) and respond to
# combinations of the first layer's patterns.

# %%
probe = keras.Model(cnn.inputs[0], [cnn.get_layer("conv1").output, cnn.get_layer("conv2").output])
digit_batch = x_test[:1, :, :, None]
maps1, maps2 = (keras.ops.convert_to_numpy(m) for m in probe(digit_batch))
plot_feature_maps(maps1, title=f"conv1 feature maps of a test digit ({y_test[0]})")
plt.show()
plot_feature_maps(maps2, title="conv2 feature maps (16 of them)")
plt.show()

# %% [markdown]
# **Check.** The layer arithmetic predicts the map sizes: 28 − 5 + 1 = 24 rows
# for conv1, pooled to 12, then 12 − 5 + 1 = 8 for conv2.

# %% tags=["hide-input"]
assert test_accuracy > 0.9, test_accuracy
assert maps1.shape == (1, 24, 24, 8) and maps2.shape == (1, 8, 8, 16)
assert maps1.min() >= 0 and maps2.min() >= 0
print(f"Check: the brief training classifies more than 90 % of the test digits; the maps are "
      f"{maps1.shape[1:]} (conv1) and {maps2.shape[1:]} (conv2), and after ReLU none is negative.")

# %% [markdown]
# ## Summary
#
# - A convolutional layer maps a volume of depth K to a volume of depth N_F: each
#   filter spans all K input channels and gives one output slice, plus its own bias.
# - It has N_F(H W K + 1) parameters, whatever the image size; deeper in a network
#   the same filters cost more because K grows.
# - ReLU keeps positive responses and zeroes the rest; leaky ReLU keeps a small
#   slope for negative inputs, so their gradient never vanishes entirely.
# - The sigmoid's derivative is at most 0.25: through ten sigmoid convolutions the
#   gradient that reaches the first one all but vanishes, which is why CNNs use
#   ReLU; tanh and sigmoid also saturate for large inputs.
# - Max and average pooling with stride equal to the window tile each map with
#   non-overlapping windows, dividing its rows and columns by the stride.
# - Trained filters of a first layer look like edge and stroke detectors; their
#   feature maps show where each pattern occurs.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★★ **Strided convolution instead of pooling.** Replace each `MaxPooling2D` of the
#    stack of section 1 by a stride of 2 in the convolution before it. Compare the
#    output shapes and parameter counts. *Hint:* `Conv2D(..., strides=2)`.
# 2. ★ **Parameters of a 1x1 convolution.** How many parameters does a `Conv2D(64, 1)`
#    have on an input of depth 256? Check with `count_params()`. *Hint:* H = W = 1
#    in the formula.
# 3. ★★ **Dead units.** Initialise a `Dense(100, activation="relu")` layer with
#    biases of -5 and count the units that output 0 for every image of a batch.
#    What happens with `leaky_relu`? *Hint:*
#    `bias_initializer=keras.initializers.Constant(-5.0)`.
# 4. ★ **Overlapping pooling.** AlexNet pools 3x3 windows with stride 2. Compute the
#    output size for a 55x55 map and check it with `MaxPooling2D(3, strides=2)`.
#    *Hint:* floor((55 - 3) / 2) + 1.
# 5. ★ **Another digit.** Plot the feature maps of a digit of another class. Which
#    maps change most? *Hint:* pick an index with `np.flatnonzero(y_test == 1)[0]`.
# 6. ★★ **The small CNN on paper (pen and paper).** Without running anything,
#    write the shape of the volume after each layer of the small CNN of section 6
#    (28x28x1 digits) and the number of parameters of each layer. Which layer
#    holds the most parameters, and which volume the most values? Check with
#    `cnn.summary()`. *Hint:* a "valid" 5x5 convolution removes 4 rows and 4
#    columns, a 2x2 pooling halves them; a convolution has $N_F(HWK + 1)$
#    parameters, a dense layer with $n$ inputs and $m$ units $(n + 1)m$;
#    `Rescaling`, pooling and `Flatten` have none.
