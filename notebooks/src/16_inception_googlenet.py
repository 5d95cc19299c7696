# %% [markdown]
# # 16 · Inception and GoogLeNet
#
# GoogLeNet (Szegedy et al., "Going deeper with convolutions", 2015) won ImageNet
# 2014 with 22 layers and about 7 million parameters, twenty times fewer than
# VGG16. Its building block, the **Inception module**, runs 1x1, 3x3 and 5x5
# convolutions and a max pooling side by side and stacks their outputs; cheap 1x1
# "bottleneck" convolutions keep its cost down. To train the deep stack, the
# authors added two **auxiliary classifiers** in the middle of the network.
#
# **Learning objectives.** After this notebook you can
#
# 1. describe the Inception module (`course_lib.layers.InceptionModule`) and
#    compute its parameters and multiply-adds with and without 1x1 bottlenecks,
#    by formula and with `course_lib.analysis`;
# 2. compare GoogLeNet layer by layer with Table 1 of the paper, including the
#    table's own inconsistencies;
# 3. train GoogLeNet with its auxiliary heads and drop them at inference;
# 4. measure what the auxiliary losses add to the gradients of the first layers.

# %%
# Setup: works locally and in Google Colab.
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = ""  # the course's public repository, written by `make set-repo URL=...`
if importlib.util.find_spec("course_lib") is None:  # e.g. a fresh Colab runtime
    if not COURSE_REPO:
        raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
    # Colab already has TensorFlow and the scientific stack: clone the course (course_lib
    # and its data/ folder, which holds the pre-trained backbone) and add Keras 3.15.
    if not os.path.isdir("course"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, "course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "keras>=3.15,<3.16"], check=True)
    sys.path.insert(0, os.path.abspath("course"))

from course_lib.runtime import setup_notebook

info = setup_notebook(seed=42)

# %% [markdown]
# ## Parameters
#
# CPU settings, used by the tests: a quarter-width GoogLeNet trained for a few
# epochs on 3,000 Fashion-MNIST images, about a minute on an idle 2-core CPU. On
# a GPU, try the larger settings in the comments.

# %%
WIDTH = 0.25  # multiplier of every layer's filters (GPU: 1.0)
PER_CLASS = 300  # training images per class (GPU: 6000, the whole training set)
EPOCHS = 6  # (GPU: 30)
BATCH_SIZE = 64  # (GPU: 128)
LEARNING_RATE = 2e-3  # Adam

# %% [markdown]
# ## 1. The Inception module
#
# Which window size should a layer use? The Inception module does not choose: four
# branches see the same input and their outputs are concatenated along the depth
# axis,
#
# - a 1x1 convolution;
# - a 1x1 convolution ("3x3 reduce") then a 3x3 convolution;
# - a 1x1 convolution ("5x5 reduce") then a 5x5 convolution;
# - a 3x3 max pooling (stride 1) then a 1x1 convolution ("pool proj").
#
# Every convolution uses "same" padding and a ReLU, so all branches keep the rows
# and columns and can be stacked. The 1x1 convolutions before the 3x3 and 5x5
# ones are **bottlenecks**: they reduce the depth that the expensive windows see.
# Without them (the "naive" module), the 3x3 and 5x5 convolutions see the full
# input depth, and the pooling branch passes the whole input depth on, so the
# output grows from module to module.
#
# Module 3a of GoogLeNet sees a 28x28x192 volume and has 64 (1x1), 96 -> 128
# (3x3), 16 -> 32 (5x5) and 32 (pool proj) filters. We build it with and without
# bottlenecks (`InceptionModule` drops a reduce or projection set to 0).

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course_lib import data
from course_lib.analysis import count_macs, layer_macs
from course_lib.layers import InceptionModule
from course_lib.models.googlenet import AUX_LOSS_WEIGHTS, googlenet


def single_module(module, input_shape=(28, 28, 192)):
    return keras.Sequential([keras.Input(input_shape), module], name=module.name)


with_bottlenecks = single_module(InceptionModule(64, 96, 128, 16, 32, 32, name="with_bottlenecks"))
naive = single_module(InceptionModule(64, 0, 128, 0, 32, 0, name="naive"))
costs = pd.DataFrame(
    {
        model.name: {
            "output shape": tuple(model.output_shape[1:]),
            "parameters": model.count_params(),
            "multiply-adds": count_macs(model),
        }
        for model in (with_bottlenecks, naive)
    }
).T
costs

# %% [markdown]
# By hand: a convolution with a k x k window from C to F channels has
# k·k·C·F weights and F biases, and does 28·28·k·k·C·F multiply-adds here.
#
# - with bottlenecks: 1x1 192->64, 1x1 192->96, 3x3 96->128, 1x1 192->16, 5x5 16->32,
#   1x1 192->32;
# - naive: 1x1 192->64, 3x3 192->128, 5x5 192->32 (and the pooled 192 channels
#   passed on).

# %%
def conv_cost(k, c, f, positions=28 * 28):
    """(parameters, multiply-adds) of a k x k convolution from c to f channels."""
    return k * k * c * f + f, positions * k * k * c * f


hand = {
    "with_bottlenecks": [conv_cost(1, 192, 64), conv_cost(1, 192, 96), conv_cost(3, 96, 128),
                         conv_cost(1, 192, 16), conv_cost(5, 16, 32), conv_cost(1, 192, 32)],
    "naive": [conv_cost(1, 192, 64), conv_cost(3, 192, 128), conv_cost(5, 192, 32)],
}
hand = {name: tuple(map(sum, zip(*convs))) for name, convs in hand.items()}
pd.DataFrame(hand, index=["parameters (formula)", "multiply-adds (formula)"]).T

# %% [markdown]
# **Check.** `count_params` and `count_macs` agree with the formula for both
# modules. The bottlenecks cut the multiply-adds and the parameters of module 3a
# by a factor of about 2.4 (the same for both: every convolution of the module
# runs at all 28x28 positions), and they also keep the
# output depth at 256 instead of 416 (64 + 128 + 32 + 192), which makes the next
# module cheaper too.

# %%
# NBVAL_CHECK_OUTPUT
for name in ("with_bottlenecks", "naive"):
    assert (costs.loc[name, "parameters"], costs.loc[name, "multiply-adds"]) == hand[name], name
assert costs.loc["with_bottlenecks", "output shape"] == (28, 28, 64 + 128 + 32 + 32)
assert costs.loc["naive", "output shape"] == (28, 28, 64 + 128 + 32 + 192)
mac_ratio = costs.loc["naive", "multiply-adds"] / costs.loc["with_bottlenecks", "multiply-adds"]
param_ratio = costs.loc["naive", "parameters"] / costs.loc["with_bottlenecks", "parameters"]
assert 2.3 < mac_ratio < 2.5 and 2.3 < param_ratio < 2.5
print(
    f"inception 3a at 28x28x192: {costs.loc['with_bottlenecks', 'multiply-adds'] / 1e6:.1f} M vs "
    f"{costs.loc['naive', 'multiply-adds'] / 1e6:.1f} M multiply-adds (x{mac_ratio:.2f}), "
    f"{costs.loc['with_bottlenecks', 'parameters']:,} vs {costs.loc['naive', 'parameters']:,} parameters (x{param_ratio:.2f})"
)

# %% [markdown]
# Where does the cost go? Per branch (the sub-layers of each module):

# %%
def branch_macs(model):
    """Multiply-adds of each convolution of the model's Inception module, by name."""
    module = model.layers[0]
    convolutions = [layer for branch in module.branches for layer in branch if layer_macs(layer)]
    return pd.Series({layer.name: layer_macs(layer) for layer in convolutions})


fig, ax = plt.subplots(figsize=(8, 3.5))
order = branch_macs(with_bottlenecks).index  # every convolution, branch by branch
both = pd.DataFrame({"naive": branch_macs(naive), "with bottlenecks": branch_macs(with_bottlenecks)})
both = both.reindex(order).fillna(0)
(both / 1e6).plot.bar(ax=ax)
ax.set(title="Inception 3a (28x28x192 input): multiply-adds per convolution", xlabel="convolution",
       ylabel="multiply-adds (millions)")
ax.tick_params(axis="x", rotation=0)
plt.show()

# %% [markdown]
# The naive module spends most of its work in the 3x3 and 5x5 convolutions over
# 192 channels; with the bottlenecks, they see 96 and 16 channels, and the 1x1
# reductions themselves are cheap.
#
# ## 2. GoogLeNet against Table 1 of the paper
#
# `course_lib.models.googlenet.googlenet` follows Table 1 of the paper: a stem
# (7x7/2 convolution, max pooling, local response normalisation, 1x1 and 3x3
# convolutions, max pooling), nine Inception modules (3a-3b, 4a-4e, 5a-5b) with
# max poolings between the groups, global average pooling, dropout 0.4 and the
# classifier. Table 1 lists the weights of each row in thousands; we compare it
# with our weights (kernels only, as in the table; conv2 is the table's row for
# the 1x1 and 3x3 stem convolutions together).

# %%
TABLE_1_PARAMS_K = {  # Szegedy et al. 2015, Table 1, "params" column (thousands)
    "conv1": 2.7, "conv2": 112, "inception_3a": 159, "inception_3b": 380,
    "inception_4a": 364, "inception_4b": 437, "inception_4c": 463, "inception_4d": 580,
    "inception_4e": 840, "inception_5a": 1072, "inception_5b": 1388, "predictions": 1000,
}
full = googlenet()


def kernel_weights(layer):
    return sum(int(np.prod(w.shape)) for w in layer.weights if len(w.shape) > 1)


rows = {}
for layer in full.layers:
    if layer.weights:
        name = "conv2" if layer.name == "conv2_reduce" else layer.name
        rows.setdefault(name, {"output shape": tuple(layer.output.shape[1:]), "ours (K)": 0})
        rows[name]["ours (K)"] += kernel_weights(layer) / 1000
        rows[name]["output shape"] = tuple(layer.output.shape[1:])
googlenet_table = pd.DataFrame(rows).T
googlenet_table["Table 1 (K)"] = pd.Series(TABLE_1_PARAMS_K)
googlenet_table["difference (%)"] = (
    100 * (googlenet_table["ours (K)"] / googlenet_table["Table 1 (K)"] - 1)
).astype(float).round(1)
googlenet_table

# %% [markdown]
# **Check.** All rows agree with Table 1 within 5% except two, where the table
# disagrees with its own layout:
#
# - **conv1**: a 7x7 convolution from 3 to 64 channels has 7·7·3·64 = 9,408
#   weights, not 2.7K (the table's figure fits a convolution of one input
#   channel);
# - **inception_4c**: its filter sizes (128; 128 -> 256; 24 -> 64; 64) on the
#   512-channel input give 509K weights, not 463K.
#
# The totals still agree within 3%. With biases, our network has 6,998,552
# parameters, the paper says "about 6.8M". At 224x224 it does 1.58 G
# multiply-adds, close to the "1.5 billion multiply-adds" budget of the paper.

# %%
# NBVAL_CHECK_OUTPUT
known_errors = {"conv1", "inception_4c"}
for name, row in googlenet_table.iterrows():
    if name not in known_errors:
        assert abs(row["difference (%)"]) < 5, name
assert googlenet_table.loc["conv1", "ours (K)"] == 7 * 7 * 3 * 64 / 1000
inception_4c = 512 * 128 + 512 * 128 + 9 * 128 * 256 + 512 * 24 + 25 * 24 * 64 + 512 * 64
assert googlenet_table.loc["inception_4c", "ours (K)"] == inception_4c / 1000 and round(inception_4c / 1000) == 509
total_ratio = googlenet_table["ours (K)"].sum() / googlenet_table["Table 1 (K)"].sum()
assert abs(total_ratio - 1) < 0.03
assert full.count_params() == 6_998_552
assert round(count_macs(full) / 1e9, 2) == 1.58
print(f"total weights: ours / Table 1 = {total_ratio:.3f}; {full.count_params():,} parameters; "
      f"{count_macs(full) / 1e9:.2f} G multiply-adds")

# %% [markdown]
# ## 3. Auxiliary classifiers: used in training, dropped at inference
#
# GoogLeNet is deep for 2014, and the gradient of the loss reaches its first
# layers through many layers. The authors attached two small classifiers to the
# outputs of modules 4a and 4d (average pooling, a 1x1 convolution, a dense layer,
# dropout 0.7, a softmax). During training, their losses are added to the main
# one with weight 0.3 each; at inference they are discarded.
#
# `googlenet(aux_heads=True)` returns two models that share their layers: a
# training model with three outputs and an inference model with the main one
# only. We train a quarter-width GoogLeNet on Fashion-MNIST, padded to 32x32 (the
# smallest input the builder accepts), without local response normalisation
# (notebook 13 explains why it went out of use). Fashion-MNIST rather than
# CIFAR-10: on 32x32 images the stem divides the size by 8 at once, and on our CPU
# budget CIFAR-10 barely leaves chance level; the mechanism is the same.

# %%
(x_train_full, y_train_full), (x_test_full, y_test) = data.load_fashion_mnist()
x_train, y_train = data.subset(x_train_full, y_train_full, per_class=PER_CLASS, seed=0)


def to_input(images):
    """28x28 uint8 -> 32x32x1 floats in [0, 1] (2 zero pixels around)."""
    return np.pad(images / 255.0, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32")


x_train, x_test = to_input(x_train), to_input(x_test_full)
keras.utils.set_random_seed(42)
training_model, inference_model = googlenet(
    input_shape=(32, 32, 1), classes=10, aux_heads=True, width=WIDTH, local_response_norm=False
)
print("training outputs:", training_model.output_names, "| inference outputs:", inference_model.output_names)
print(f"parameters: training {training_model.count_params():,}, inference {inference_model.count_params():,}")

# %%
training_model.compile(
    optimizer=keras.optimizers.Adam(LEARNING_RATE),
    loss={name: "sparse_categorical_crossentropy" for name in AUX_LOSS_WEIGHTS},
    loss_weights=AUX_LOSS_WEIGHTS,  # 1.0 for the main classifier, 0.3 for each auxiliary one
    metrics={"predictions": "accuracy"},
)
start = time.perf_counter()
history = training_model.fit(
    x_train, {name: y_train for name in AUX_LOSS_WEIGHTS}, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0
)
print(f"{EPOCHS} epochs in {time.perf_counter() - start:.0f} s")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name in AUX_LOSS_WEIGHTS:
    ax.plot(np.arange(1, EPOCHS + 1), history.history[f"{name}_loss"], marker="o", label=name)
ax.set(title="GoogLeNet (width 0.25) on Fashion-MNIST: training losses", xlabel="epoch",
       ylabel="cross-entropy")
ax.legend()
plt.show()

# %%
main_probabilities, aux1, aux2 = (keras.ops.convert_to_numpy(p) for p in training_model(x_test[:500]))
inference_probabilities = inference_model.predict(x_test, batch_size=500, verbose=0)
test_accuracy = float(np.mean(inference_probabilities.argmax(axis=1) == y_test))
print(f"inference model: test accuracy {test_accuracy:.1%} on {len(y_test):,} images")

# %% [markdown]
# **Check.** The inference model has one output and no auxiliary layers; its
# weights are a subset of the training model's (the same variables, not copies),
# so it predicts exactly what the training model's main output predicts. After
# the short training it is far above chance (10%).

# %%
assert len(inference_model.outputs) == 1 and len(training_model.outputs) == 3
assert not any(layer.name.startswith("aux") for layer in inference_model.layers)
shared = {id(w) for w in inference_model.weights}
assert shared < {id(w) for w in training_model.weights}
aux_parameters = sum(layer.count_params() for layer in training_model.layers if layer.name.startswith("aux"))
assert training_model.count_params() - inference_model.count_params() == aux_parameters
np.testing.assert_allclose(inference_probabilities[:500], main_probabilities, rtol=1e-4, atol=1e-5)
assert test_accuracy > 0.4, test_accuracy
print(f"{aux_parameters:,} parameters in the auxiliary heads, dropped at inference; accuracy {test_accuracy:.1%}")

# %% [markdown]
# ## 4. What the auxiliary losses do to the gradients
#
# The paper's motivation: the gradient of the main loss may be weak by the time it
# reaches the first layers; the auxiliary losses inject gradient in the middle of
# the network. We measure it at initialisation: a fresh network (same seed), one
# batch of 128 training images, the gradient of (a) the main loss alone and (b)
# the training loss with the two auxiliary terms, with respect to the kernel of
# every layer (the first kernel of a module: its 1x1 branch). Dropout is off
# (`training=False`) so that both gradients see the same network.

# %%
keras.utils.set_random_seed(42)
fresh_training, fresh_inference = googlenet(
    input_shape=(32, 32, 1), classes=10, aux_heads=True, width=WIDTH, local_response_norm=False
)
x_batch, y_batch = x_train[:128], y_train[:128]
cross_entropy = keras.losses.SparseCategoricalCrossentropy()
layers = [layer for layer in fresh_inference.layers if layer.weights]
kernels = [layer.trainable_weights[0] for layer in layers]


def kernel_gradient_norms(aux_weight):
    with tf.GradientTape() as tape:
        main, first_aux, second_aux = fresh_training(x_batch, training=False)
        loss = cross_entropy(y_batch, main) + aux_weight * (
            cross_entropy(y_batch, first_aux) + cross_entropy(y_batch, second_aux)
        )
    return [float(np.linalg.norm(g)) for g in tape.gradient(loss, kernels)]


gradient_norms = pd.DataFrame(
    {
        "main loss only": kernel_gradient_norms(0.0),
        "with auxiliary losses (0.3 each)": kernel_gradient_norms(AUX_LOSS_WEIGHTS["aux1_predictions"]),
    },
    index=[layer.name for layer in layers],
)
gradient_norms["ratio"] = gradient_norms.iloc[:, 1] / gradient_norms.iloc[:, 0]
gradient_norms

# %%
fig, ax = plt.subplots(figsize=(10, 3.8))
gradient_norms.iloc[:, :2].plot.bar(ax=ax)
ax.set(title="Gradient norm of each layer's kernel at initialisation (one batch of 128)",
       xlabel="layer (input to output)", ylabel="L2 norm of the gradient")
ax.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# **Check.** The layers after module 4d get exactly the same gradient: the
# auxiliary heads hang off 4a and 4d, so their losses do not depend on the later
# layers. The layers before them get the sum of the main gradient and of the
# auxiliary ones; for the first convolution, conv1, the norm is larger with the
# auxiliary losses. (For a layer in the middle, the three gradients may also
# partly cancel: the ratio is not above 1 everywhere.)

# %%
after_4d = ["inception_4e", "inception_5a", "inception_5b", "predictions"]
np.testing.assert_array_equal(gradient_norms.loc[after_4d].iloc[:, 0], gradient_norms.loc[after_4d].iloc[:, 1])
assert gradient_norms.loc["conv1", "ratio"] > 1.1
# Not vanishing: conv1's main gradient is within a factor of 10 of the classifier's.
assert 0.1 < gradient_norms.loc["conv1"].iloc[0] / gradient_norms.loc["predictions"].iloc[0] < 10
print(f"conv1: {gradient_norms.loc['conv1'].iloc[0]:.2e} -> {gradient_norms.loc['conv1'].iloc[1]:.2e} "
      f"(x{gradient_norms.loc['conv1', 'ratio']:.2f}) with the auxiliary losses")

# %% [markdown]
# In this small network, the main gradient of conv1 is not vanishing to begin
# with: its norm is within a factor of 10 of the classifier's (checked above).
# While preparing the notebook, conv1's norm grew with the auxiliary losses by a
# factor between 1.3 and 2.6 for the initial weights of seeds 0, 1, 2, 3 and 42;
# the assert (> 1.1) leaves a margin below that. Batch normalisation
# (2015) and residual connections (notebook 17) later made very deep networks
# trainable without auxiliary heads; Inception v3 kept one, as a regulariser
# rather than a gradient booster.
#
# ## Summary
#
# - The Inception module runs 1x1, 3x3, 5x5 convolutions and a 3x3 max pooling
#   in parallel and concatenates them along the depth.
# - 1x1 bottlenecks make it affordable: module 3a costs 2.4 times fewer
#   multiply-adds and parameters than the naive module, with a
#   smaller output depth (256 instead of 416).
# - GoogLeNet has about 7 million parameters (6,998,552 with biases) and 1.58 G
#   multiply-adds; its per-layer counts agree with Table 1 of the paper except two
#   rows where the table contradicts its own layout (conv1 and 4c).
# - The auxiliary classifiers add their losses (weight 0.3) in training and are
#   dropped at inference; the inference model shares the weights of the training
#   model.
# - At initialisation, the auxiliary losses increase the gradient of the first
#   layer and leave the layers after 4d untouched.
#
# ## Exercises
#
# 1. **Module 5b.** Compute the parameters and multiply-adds of module 5b (at 7x7x832)
#    with and without bottlenecks, with `conv_cost` and with `count_macs`. *Hint:*
#    its sizes are in `course_lib.models.googlenet.GOOGLENET_LAYOUT`.
# 2. **Without the auxiliary heads.** Train `googlenet(aux_heads=False, ...)` with
#    the same settings and compare the test accuracy. Is a difference visible on
#    such a short run? *Hint:* compare over two or three seeds before concluding.
# 3. **Gradients after training.** Compute `gradient_norms` for the trained
#    `training_model` instead of the fresh one. Does the ratio of conv1 change?
#    *Hint:* replace `fresh_training` by `training_model` in
#    `kernel_gradient_norms`.
# 4. **CIFAR-10.** Train the same network on a CIFAR-10 subset. How many epochs
#    does it need to leave chance level? *Hint:* `data.load_cifar10()`, input
#    `(32, 32, 3)`.
# 5. **The receptive field.** How large is the receptive field of module 5b of the
#    full GoogLeNet? *Hint:* `course_lib.receptive_field.receptive_field(googlenet())`.
