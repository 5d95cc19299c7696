# %% [markdown]
# # 17 · Inception and GoogLeNet
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
# 1. write the Inception module in Keras, check it against
#    `course_lib.layers.InceptionModule`, and compute its parameters and
#    multiply-adds with and without 1x1 bottlenecks, by formula and with
#    `course_lib.analysis`;
# 2. compare GoogLeNet layer by layer with Table 1 of the paper, including the
#    table's own inconsistencies;
# 3. build GoogLeNet for 32x32 images with its auxiliary heads, and drop them at
#    inference;
# 4. measure what the auxiliary losses add to the gradients of the first layers,
#    with and without BatchNormalization, and what they change in training, over
#    several seeds.

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
# CPU settings: GoogLeNets for 32x32 images at an eighth of the
# width, trained with and without their auxiliary classifiers on 1,500 CIFAR-10
# images, three seeds each, about two and a half minutes on a 2-core CPU. On a
# GPU, try the larger settings in the comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
WIDTH = 0.125  # multiplier of every layer's filters (GPU: 0.5)
TRAIN_PER_CLASS = 150  # CIFAR-10 training images per class (GPU: None, all 4,500)
EPOCHS = 5  # (GPU: 30)
SEEDS = (0, 1, 2)

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
# > **Lecture vs. course: "fractional stride".** The lecture notes say that
# > the pooling branch keeps the rows and columns by a "fractional stride" (and
# > link TensorFlow's fractional max pooling). The paper and the course use a
# > 3x3 max pooling with stride 1 and "same" padding: the window moves one pixel
# > at a time, and a border of one padded pixel keeps $H \times W$.
# >
# > Fractional
# > max pooling (Graham, 2014) is another operation: it *shrinks* a map by a
# > factor between 1 and 2 (for example $\sqrt 2$) with pseudo-random pooling
# > regions. So it could not keep the size. The checks below confirm that the
# > module's output keeps 28x28, which its concatenation along the depth needs
# > from every branch.
#
# Module 3a, the first of GoogLeNet's nine, sees a 28x28x192 volume. Its
# filters are 64 (1x1), 96 -> 128 (3x3), 16 -> 32 (5x5) and 32 (pool proj).
# In the diagram, follow each branch up to the concatenation. Every branch
# keeps 28x28, and the four depths add up to 64 + 128 + 32 + 32 = 256.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course_lib import diagrams, experiment, zoo
from course_lib.analysis import count_macs, layer_macs
from course_lib.layers import InceptionModule
from course_lib.models.alexnet import alexnet
from course_lib.models.googlenet import AUX_LOSS_WEIGHTS, googlenet, googlenet_cifar
from course_lib.viz import plot_learning_curves

diagrams.show(diagrams.inception_module(filters=(64, 96, 128, 16, 32, 32), input_shape=(28, 28, 192),
                                        name="GoogLeNet's 3a"))

# %% [markdown]
# In Keras, the module is four short chains on the same input and one
# `Concatenate` on the channels. As in the paper, every convolution has a bias
# and a ReLU.
#
# With `batch_norm=True` it becomes the module of BN-Inception (Ioffe and
# Szegedy, 2015), which section 4 trains. BatchNormalization then sits between
# each convolution and its ReLU, and the convolution drops its bias: BN's
# offset takes its place. Each layer is named after its branch.

# %%
def conv_relu(x, filters, size, name, batch_norm=False):
    """A "same" convolution and its ReLU, with BatchNormalization between them if asked."""
    if not batch_norm:
        return keras.layers.Conv2D(filters, size, padding="same", activation="relu", name=name)(x)
    x = keras.layers.Conv2D(filters, size, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU()(x)


def inception_module(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, name, batch_norm=False):
    """GoogLeNet's Inception module: four branches on the same input, concatenated on the channels."""
    branch_1x1 = conv_relu(x, f1, 1, f"{name}_1x1", batch_norm)
    branch_3x3 = conv_relu(x, f3_reduce, 1, f"{name}_3x3_reduce", batch_norm)  # bottleneck
    branch_3x3 = conv_relu(branch_3x3, f3, 3, f"{name}_3x3", batch_norm)
    branch_5x5 = conv_relu(x, f5_reduce, 1, f"{name}_5x5_reduce", batch_norm)  # bottleneck
    branch_5x5 = conv_relu(branch_5x5, f5, 5, f"{name}_5x5", batch_norm)
    branch_pool = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)  # stride 1: keeps rows and columns
    branch_pool = conv_relu(branch_pool, pool_proj, 1, f"{name}_pool_proj", batch_norm)
    return keras.layers.Concatenate(axis=-1)([branch_1x1, branch_3x3, branch_5x5, branch_pool])

# %% [markdown]
# We compare it with course_lib's module on module 3a's filters, at 8x8 to keep
# it quick, with and without BatchNormalization:
#
# - course_lib's module gets random biases and normalisation statistics;
# - each of its layers gives its weights to our layer of the same name;
# - both modules run on the same random input, in inference and in training
#   mode.

# %% tags=["hide-input"]
# The asserts are the check; the printed difference may vary between machines.
check_rng = np.random.default_rng(0)
x_check = check_rng.normal(size=(2, 8, 8, 192)).astype("float32")
module_difference = 0.0
for batch_norm in (False, True):
    theirs = InceptionModule(64, 96, 128, 16, 32, 32, batch_norm=batch_norm)
    theirs.build(x_check.shape)
    for w in theirs.weights:  # the kernels keep their random initialisation
        if w.name in ("gamma", "moving_variance"):  # must stay positive
            w.assign(check_rng.uniform(0.5, 1.5, w.shape))
        elif w.name in ("bias", "beta", "moving_mean"):
            w.assign(check_rng.normal(0, 0.5, w.shape))
    inputs = keras.Input(x_check.shape[1:])
    ours = keras.Model(inputs, inception_module(inputs, 64, 96, 128, 16, 32, 32, "3a", batch_norm))
    for layer in [layer for branch in theirs.branches for layer in branch if layer.weights]:
        ours.get_layer(f"3a_{layer.name}").set_weights(layer.get_weights())  # "1x1" -> "3a_1x1", ...
    assert ours.count_params() == theirs.count_params() and ours.output_shape == (None, 8, 8, 256)
    for training in (False, True):  # moving statistics, then the batch's statistics
        outputs = (ours(x_check, training=training), theirs(x_check, training=training))
        difference = np.abs(keras.ops.convert_to_numpy(outputs[0] - outputs[1])).max()
        module_difference = max(module_difference, float(difference))
assert module_difference < 1e-4, module_difference
print(f"Check: our Inception module equals course_lib's InceptionModule (max difference {module_difference:.1g})")

# %% [markdown]
# From here on we use `course_lib.layers.InceptionModule`, this module as one
# layer. Set a reduce or projection size to 0 and it drops that convolution.
# With all three at 0, it is the naive module. We build module 3a with and
# without bottlenecks.

# %%
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
# runs at all 28x28 positions). They also keep the
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
# `course_lib.models.googlenet.googlenet` follows Table 1 of the paper:
#
# - a stem: 7x7/2 convolution, max pooling, local response normalisation, 1x1
#   and 3x3 convolutions, max pooling;
# - nine Inception modules (3a-3b, 4a-4e, 5a-5b) with max poolings between the
#   groups;
# - global average pooling, dropout 0.4 and the classifier.
#
# Table 1 lists the weights of each row in thousands. We compare it
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
# The totals still agree within 3%. Two sizes of GoogLeNet circulate, and they
# come from different places. The *sum of Table 1's parameter column*, about
# 6.8 M (printed below), is the figure usually quoted. The paper's *text* gives
# no total, only that GoogLeNet uses "12x fewer parameters" than AlexNet. With
# AlexNet's count (printed below), that would make about 5 M. The two do not
# agree exactly; Table 1 is the detailed one. With biases, our network has
# 6,998,552 parameters. At 224x224 it does 1.58 G multiply-adds, close to the
# "1.5 billion multiply-adds" budget of the paper.

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
alexnet_parameters = alexnet().count_params()
table_1_total = googlenet_table["Table 1 (K)"].sum() * 1000
assert round(table_1_total / 1e6, 1) == 6.8
print(f"total weights: ours / Table 1 = {total_ratio:.3f}; {full.count_params():,} parameters; "
      f"{count_macs(full) / 1e9:.2f} G multiply-adds")
print(f"Table 1's parameter column sums to {table_1_total / 1e6:.2f} M; AlexNet has {alexnet_parameters / 1e6:.1f} M, "
      f"and a twelfth of it is {alexnet_parameters / 12 / 1e6:.1f} M")

# %% [markdown]
# > **Lecture vs. course: how many layers?** The lecture notes call GoogLeNet
# > "a stack of 27 layers considering pooling ones". The paper counts depth, not
# > Keras layers: 22 layers with parameters along the deepest path (or 27 with
# > the poolings), where an Inception module counts as two (a 1x1 reduction,
# > then the 3x3 or 5x5 convolution). The model we built lists something else:
# > its Keras layers (with the input, the local response normalisations and the
# > dropout), and, inside its nine modules, 54 convolutions side by side. The
# > next cell counts all three.

# %%
# NBVAL_CHECK_OUTPUT
modules = [layer for layer in full.layers if isinstance(layer, InceptionModule)]
plain = [layer for layer in full.layers if layer.weights and not isinstance(layer, InceptionModule)]
poolings = [layer for layer in full.layers if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.GlobalAveragePooling2D))]
depth = len(plain) + 2 * len(modules)
convolutions = sum(len(branch_layers) for module in modules for branch_layers in
                   ([l for l in branch if isinstance(l, keras.layers.Conv2D)] for branch in module.branches))
print(f"depth with parameters: {len(plain)} plain layers + 2 x {len(modules)} modules = {depth}; "
      f"with the {len(poolings)} poolings: {depth + len(poolings)}")
print(f"Keras layers listed by the model: {len(full.layers)}; convolutions inside the modules: {convolutions}")
assert (depth, depth + len(poolings)) == (22, 27) and convolutions == 9 * 6

# %% [markdown]
# ## 3. Auxiliary classifiers: used in training, dropped at inference
#
# GoogLeNet is deep for 2014, and the gradient of the loss reaches its first
# layers through many layers. The authors attached two small classifiers to the
# outputs of modules 4a and 4d (average pooling, a 1x1 convolution, a dense layer,
# dropout 0.7, a softmax). During training, their losses are added to the main
# one with weight 0.3 each; at inference they are discarded.
#
# `googlenet_cifar(aux_heads=True)` returns two models that share their layers:
# a training model with three outputs and an inference model with the main one
# only. `googlenet_cifar` is GoogLeNet for 32x32 images: the nine Inception
# modules of Table 1, after a stem of two 3x3 convolutions and one pooling
# (the ImageNet stem would shrink a 32x32 image to 4x4 before module 3a).
# Here we build it as in 2014, without BatchNormalization (`batch_norm=False`),
# the setting the auxiliary heads were designed for.

# %%
keras.utils.set_random_seed(42)
training_model, inference_model = googlenet_cifar(aux_heads=True, width=WIDTH, batch_norm=False)
print("training outputs:", training_model.output_names, "| inference outputs:", inference_model.output_names)
print(f"parameters: training {training_model.count_params():,}, inference {inference_model.count_params():,}")
x_probe = np.random.default_rng(0).uniform(0, 1, (8, 32, 32, 3)).astype("float32")
main_probabilities = keras.ops.convert_to_numpy(training_model(x_probe)[0])
inference_probabilities = inference_model.predict(x_probe, verbose=0)

# %% [markdown]
# **Check.** The inference model has one output and no auxiliary layers; its
# weights are a subset of the training model's (the same variables, not copies),
# so it predicts exactly what the training model's main output predicts.

# %%
assert len(inference_model.outputs) == 1 and len(training_model.outputs) == 3
assert not any(layer.name.startswith("aux") for layer in inference_model.layers)
shared = {id(w) for w in inference_model.weights}
assert shared < {id(w) for w in training_model.weights}
aux_parameters = sum(layer.count_params() for layer in training_model.layers if layer.name.startswith("aux"))
assert training_model.count_params() - inference_model.count_params() == aux_parameters
np.testing.assert_allclose(inference_probabilities, main_probabilities, rtol=1e-4, atol=1e-5)
print(f"{aux_parameters:,} parameters in the auxiliary heads, dropped at inference")

# %% [markdown]
# ## 4. What the auxiliary losses do to the gradients
#
# The paper's motivation: the gradient of the main loss may be weak by the time it
# reaches the first layers; the auxiliary losses inject gradient in the middle of
# the network. We measure it at initialisation, on a fresh network and one batch
# of 128 CIFAR-10 training images (standardised). We take the gradient of (a)
# the main loss alone and (b) the training loss with the two auxiliary terms.
# Both are taken with respect to the kernel of every layer (the first kernel of a module: its 1x1 branch).
#
# The network runs once in training mode, as in a real training step:
# BatchNormalization normalises with the batch's statistics, and dropout draws
# one mask. Both gradients come from that one forward pass, so they see the
# same network. We do it for the network without BatchNormalization and, for
# contrast, with it.

# %%
splits = experiment.load_splits("cifar10", validation_size=1000, train_per_class=TRAIN_PER_CLASS,
                                test_per_class=100)
x_batch = experiment.standardization(splits.train[0])(splits.train[0][:128])
y_batch = splits.train[1][:128]
cross_entropy = keras.losses.SparseCategoricalCrossentropy()


def kernel_gradient_norms(batch_norm, seed=42):
    keras.utils.set_random_seed(seed)
    fresh_training, fresh_inference = googlenet_cifar(aux_heads=True, width=WIDTH, batch_norm=batch_norm)
    layers = [layer for layer in fresh_inference.layers if layer.trainable_weights]
    kernels = [layer.trainable_weights[0] for layer in layers]
    with tf.GradientTape(persistent=True) as tape:  # one forward pass, two gradients
        main, first_aux, second_aux = fresh_training(x_batch, training=True)
        main_loss = cross_entropy(y_batch, main)
        aux_loss = cross_entropy(y_batch, first_aux) + cross_entropy(y_batch, second_aux)
        losses = {"main loss only": main_loss,
                  "with auxiliary losses": main_loss + AUX_LOSS_WEIGHTS["aux1_predictions"] * aux_loss}
    norms = {label: [float(np.linalg.norm(g)) for g in tape.gradient(loss, kernels)] for label, loss in losses.items()}
    del tape
    table = pd.DataFrame(norms, index=[layer.name for layer in layers])
    table["ratio"] = table.iloc[:, 1] / table.iloc[:, 0]
    return table


gradient_norms = kernel_gradient_norms(batch_norm=False)
gradient_norms_bn = kernel_gradient_norms(batch_norm=True)
gradient_norms

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), sharey=True)
for ax, (label, table) in zip(axes, (("without BatchNormalization (2014)", gradient_norms),
                                     ("with BatchNormalization (BN-Inception)", gradient_norms_bn))):
    table.iloc[:, :2].plot.bar(ax=ax, logy=True)
    ax.set(title=label, xlabel="layer (input to output)", ylabel="L2 norm of the kernel's gradient")
    ax.tick_params(axis="x", rotation=60)
    ax.grid(axis="y", alpha=0.3)
fig.suptitle("Gradients at initialisation, one batch of 128 CIFAR-10 images")
fig.tight_layout()
plt.show()

# %% [markdown]
# Measured, the motivation does not show in this network. At initialisation
# the first layer's gradient is not vanishing, with or without
# BatchNormalization: conv1's norm is of the same order as the classifier's, or
# larger (printed below). Keras's default initialisation (Glorot) and the
# modules' short paths keep it in range at this depth: at most three
# convolutions lead from a module's input to its output.
#
# The two networks differ in what the auxiliary losses add:
#
# - **Without BatchNormalization**, they add to the gradient of every layer
#   before 4d: conv1's norm grows by the ratio printed below.
# - **With BatchNormalization**, the main loss's gradient at conv1 is already
#   larger than at the classifier, and the auxiliary losses change it by under
#   5 %.
#
# **Check.** The layers after module 4d get exactly the same gradient: the
# auxiliary heads hang off 4a and 4d, so their losses do not depend on the later
# layers. In both networks conv1's gradient is at least a tenth of the
# classifier's (not vanishing). The auxiliary losses make it larger without
# BatchNormalization, and change it by under 5 % with it.

# %% tags=["hide-input"]
after_4d = ["inception_4e", "inception_5a", "inception_5b", "predictions"]
for table in (gradient_norms, gradient_norms_bn):
    np.testing.assert_array_equal(table.loc[after_4d].iloc[:, 0], table.loc[after_4d].iloc[:, 1])
attenuation = gradient_norms.loc["conv1"].iloc[0] / gradient_norms.loc["predictions"].iloc[0]
attenuation_bn = gradient_norms_bn.loc["conv1"].iloc[0] / gradient_norms_bn.loc["predictions"].iloc[0]
assert attenuation > 0.1 and attenuation_bn > 0.1, (attenuation, attenuation_bn)
assert gradient_norms.loc["conv1", "ratio"] > 1.2, gradient_norms
assert abs(gradient_norms_bn.loc["conv1", "ratio"] - 1) < 0.05, gradient_norms_bn
print(f"Check: conv1 / classifier gradient norm: {attenuation:.2f} without BN, {attenuation_bn:.2f} with BN; "
      f"the auxiliary losses multiply conv1's by {gradient_norms.loc['conv1', 'ratio']:.2f} without BN, "
      f"{gradient_norms_bn.loc['conv1', 'ratio']:.2f} with BN")

# %% [markdown]
# ### Do the heads help training?
#
# A stronger gradient in the first layers is the mechanism. The question is
# whether it makes a better network on the same budget. We train the network
# with and without the auxiliary heads, on the same CIFAR-10 subset
# (`TRAIN_PER_CLASS` images per class), with the course's recipe. Both use the
# same seeds (so the same initial weights for the shared layers, seed by seed),
# and we compare seed by seed. The heads' losses count in training only; both
# are scored with the inference model.
#
# We train the network with BatchNormalization, as the course's recipe does
# every network that has it (exercise: try `batch_norm=False`). A comparison
# between two networks that have not learned would say nothing.

# %%
recipe = experiment.Recipe(epochs=EPOCHS, batch_size=64)
aux_weights = list(AUX_LOSS_WEIGHTS.values())
with_heads = experiment.run(
    lambda: googlenet_cifar(aux_heads=True, width=WIDTH), splits, recipe, seeds=SEEDS,
    name="with auxiliary heads", loss_weights=aux_weights,
)
without_heads = experiment.run(
    lambda: googlenet_cifar(width=WIDTH), splits, recipe, seeds=SEEDS,
    name="without auxiliary heads",
)
heads_effect = {metric: experiment.compare(without_heads, with_heads, metric)
                for metric in ("train_accuracy", "val_accuracy")}  # decided on training and validation
summary = experiment.summarize([without_heads, with_heads], metrics=("train_accuracy", "val_accuracy"))
print(summary.round(3).to_string())
for comparison in heads_effect.values():
    print(comparison)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, result in zip(axes, (without_heads, with_heads)):
    plot_learning_curves(result.histories, ax=ax, title=f"{result.name}, {len(SEEDS)} seeds")
fig.tight_layout()
plt.show()

# %% [markdown]
# This is a first-epochs demonstration: every run is still far below 50 %
# accuracy and climbing. At this budget the heads bring no clear gain. The
# course's rule from notebook 01 calls an effect clear when the 95 % interval
# of the mean difference over the seeds excludes zero. Here both intervals
# include zero, in training and in validation accuracy (printed above): no
# clear effect at this budget, in either direction.
#
# With
# BatchNormalization, and with gradients that do not vanish to begin with, the
# heads have nothing to rescue. Szegedy et al. themselves later found that the
# auxiliary classifiers did not speed up early training. They kept one, in
# Inception v3, as a regulariser (Szegedy et al., 2016, section 4).
#
# **Check.** Both variants learn: on the validation images, on average more
# than 20 points above the 10 % of chance, every run more than 10 points above
# it. No difference between the variants is a clear effect. The test images
# are scored once, at the end.

# %% tags=["hide-input"]
for variant in (with_heads, without_heads):
    assert variant.scores["val_accuracy"].mean() > 0.3 and (variant.scores["val_accuracy"] > 0.2).all(), variant.scores
assert not any(comparison.clear for comparison in heads_effect.values()), heads_effect
print("Check: both variants learn (validation accuracy above 30 % on average, 20 % on every run), and neither "
      "training nor validation accuracy shows a clear effect of the heads.")
print("Test accuracy, reported once (mean over the seeds): "
      + ", ".join(f"{variant.name} {variant.scores['test_accuracy'].mean():.3f}"
                  for variant in (without_heads, with_heads)))

# %% [markdown]
# ### What the full run reaches
#
# The live runs above are small on purpose. The course's model zoo holds a
# GoogLeNet for CIFAR-10 at a quarter of the width, with BatchNormalization and
# without auxiliary heads (`googlenet_cifar(width=0.25)`), trained on all
# 45,000 training images with the course's recipe (`course_lib.zoo`;
# `python scripts/train_zoo.py googlenet` re-creates it).

# %%
record = zoo.record("googlenet")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
zoo.plot_history("googlenet", ax=ax)
plt.show()
print(zoo.describe("googlenet"))

# %% [markdown]
# **Check.** The recorded GoogLeNet passes 80 % on the 10,000 test images.

# %%
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]

# %% [markdown]
# Batch normalisation (2015) and residual connections (notebook 18) later made
# very deep networks trainable without auxiliary heads.
#
# ## Summary
#
# - The Inception module runs 1x1, 3x3, 5x5 convolutions and a 3x3 max pooling
#   in parallel and concatenates them along the depth. In Keras it is four
#   short chains and a `Concatenate`, and ours equals course_lib's.
# - 1x1 bottlenecks make it affordable: module 3a costs 2.4 times fewer
#   multiply-adds and parameters than the naive module, with a
#   smaller output depth (256 instead of 416).
# - GoogLeNet has about 7 million parameters (6,998,552 with biases) and 1.58 G
#   multiply-adds; its per-layer counts agree with Table 1 of the paper except two
#   rows where the table contradicts its own layout (conv1 and 4c).
# - The auxiliary classifiers add their losses (weight 0.3) in training and are
#   dropped at inference; the inference model shares the weights of the training
#   model.
# - At initialisation, in GoogLeNet for 32x32 images, the first layer's gradient
#   is not vanishing, with or without BatchNormalization. The auxiliary losses
#   leave the layers after 4d untouched. They make the first layers' gradient
#   larger without BatchNormalization, and barely change it with it.
# - Trained for a few epochs with and without the heads (three seeds), the
#   network shows no clear effect of the heads at this budget: every 95 %
#   interval of the difference includes zero.
# - The recorded quarter-width GoogLeNet for CIFAR-10 (`course_lib.zoo`)
#   passes 80 % on the test set.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★ **Module 5b.** Compute the parameters and multiply-adds of module 5b (at 7x7x832)
#    with and without bottlenecks, with `conv_cost` and with `count_macs`. *Hint:*
#    its sizes are in `course_lib.models.googlenet.GOOGLENET_LAYOUT`.
# 2. ★★ **Heads without BatchNormalization.** Repeat the comparison of section 4
#    on the 2014 network, `batch_norm=False`, the setting the heads were
#    designed for. Do they change anything now? *Hint:* without
#    BatchNormalization the recipe's 0.1 may diverge: try 0.01; decide with
#    `experiment.compare`.
# 3. ★★ **He initialisation.** Build the network without BatchNormalization with
#    `kernel_initializer="he_normal"` in every convolution and measure conv1's
#    gradient again, relative to the classifier's. Does the ratio move, and
#    which way?
#    *Hint:* He et al. (2015) derived it for ReLU networks: it keeps the variance
#    of the signal from layer to layer.
# 4. ★★ **Longer.** Train both variants of section 4 for 20 epochs. Does the gap
#    (if any) grow or close? *Hint:* plot `plot_learning_curves` for each.
# 5. ★ **The receptive field.** How large is the receptive field of module 5b of the
#    full GoogLeNet? *Hint:* `course_lib.receptive_field.receptive_field(googlenet())`.
