# %% [raw]
# # ASSIGNMENT CONFIG
# name: A2_building_blocks
# init_cell: false
# check_all_cell: true
# export_cell:
#   pdf: false
#   instructions: "Locally: save the notebook, then run the cell below; it writes a zip next to the notebook. Submit that zip. In Colab: File > Download > Download .ipynb, and submit the .ipynb."
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # A2 · Building blocks
#
# In this assignment you:
#
# - count the parameters of convolutional layers and blocks by hand;
# - write three building blocks of modern CNNs as Keras layers: ResNet's
#   residual block, GoogLeNet's Inception module and MobileNet's depthwise
#   separable convolution;
# - compute receptive fields by hand.
#
# Each answer is checked on random sizes and random weights against Keras
# (`count_params()`, a reference computed with `keras.ops`) or against
# `course_lib.receptive_field`.
#
# **Time budget:** about 3 hours. **Material:** notebooks 06 (receptive
# field), 15 (VGG), 17 (Inception / GoogLeNet), 18 (ResNet) and 19 (MobileNet).
#
# | question | topic | points |
# | --- | --- | ---: |
# | q1 | parameter counts by hand | 3 |
# | q2 | `ResidualBlock`, with a projection shortcut | 4 |
# | q3 | `InceptionModule`, with bottlenecks | 4 |
# | q4 | `DepthwiseSeparableConv` | 3 |
# | q5 | receptive fields by hand | 3 |
# | total | | 17 |
#
# **How to work.** Run the setup cell, then answer each question by replacing
# the `...` in its cell. Run the `grader.check("qN")` cell below it to run the
# question's public tests; they show what is wrong when they fail. Your grade
# also uses hidden tests of the same kind, on other random sizes and weights.
# So make your code correct in general, not just for the public tests.
#
# - **Local Jupyter:** open this notebook from `notebooks/assignments/student/`
#   in a clone of the course after `make lab`; the `tests/` folder next to it
#   holds the public tests.
# - **Google Colab:** open the notebook in Colab; the setup cell installs the
#   course and fetches the public tests.
#
# **Rules.** The layers (q2-q4) subclass `keras.layers.Layer` and use only
# `keras.layers` and `keras.ops`, so they run on every Keras backend. Do not
# import the course's own versions (`course_lib.layers`,
# `course_lib.receptive_field`) nor `keras.applications` in your answers: the
# point is to write them (the tests use them to check you). Each question is
# graded on its own, so a later question should not depend on an earlier one
# being right: do not call one question's answer from another's.
#
# **Keras layers in three methods.** A layer made of other layers:
#
# - creates them in `__init__`, or in `build(input_shape)` when they depend on
#   the input shape, which `__init__` does not know;
# - applies them in `call`;
# - returns its constructor's arguments from `get_config`, on top of the base
#   class's config. Then `Layer.from_config(layer.get_config())` makes an
#   equal layer (this is how `model.save` and `keras.models.clone_model`
#   rebuild it):
#
# ```python
# class Scale(keras.layers.Layer):
#     def __init__(self, units, **kwargs):
#         super().__init__(**kwargs)
#         self.units = units
#         self.dense = keras.layers.Dense(units)
#
#     def call(self, inputs):
#         return 2 * self.dense(inputs)
#
#     def get_config(self):
#         config = super().get_config()
#         config.update(units=self.units)
#         return config
# ```

# %%
# Setup: works locally and in Google Colab.
ASSIGNMENT = "A2_building_blocks"
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
import otter
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=0)
grader = otter.Notebook(f"{ASSIGNMENT}.ipynb")

# %%
import keras
import numpy as np

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 3

# %% [markdown]
# ## q1 · Parameter counts by hand (3 points)
#
# Write three functions that return, as an `int`, the number that Keras's
# `count_params()` reports (every weight, trained or not), from the sizes alone:
#
# - `conv_params(kernel_size, c_in, c_out, bias=True)`: a
#   `keras.layers.Conv2D(c_out, kernel_size, use_bias=bias)` with a square
#   `kernel_size` x `kernel_size` kernel, on an input with `c_in` channels;
# - `batch_norm_params(channels)`: a `keras.layers.BatchNormalization()` on
#   `channels` channels. Careful: besides its scale $\gamma$ and offset
#   $\beta$, it stores the moving mean and variance it uses at inference; they
#   are not trained but they are weights, and `count_params()` counts them;
# - `bottleneck_block_params(c_in, c_mid)`: ResNet-50's bottleneck block on an
#   input with `c_in` channels. Its branch is a 1x1 convolution to `c_mid`
#   channels, a 3x3 convolution with `c_mid` filters and a 1x1 convolution to
#   `4 * c_mid` channels. Each is without bias and followed by
#   `BatchNormalization` (ReLUs in between). The shortcut is the identity when
#   `c_in == 4 * c_mid`. Otherwise it is a 1x1 convolution to `4 * c_mid`
#   channels (no bias) followed by `BatchNormalization`. ReLU and addition
#   have no parameters.
#
# *Hint:* a convolution has one $k \times k \times c_\text{in}$ kernel per
# output channel, and one bias per output channel. Why can a convolution
# followed by `BatchNormalization` do without a bias?

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv_params(kernel_size, c_in, c_out, bias=True):
    # BEGIN SOLUTION
    return kernel_size * kernel_size * c_in * c_out + (c_out if bias else 0)
    # END SOLUTION


def batch_norm_params(channels):
    # BEGIN SOLUTION
    return 4 * channels
    # END SOLUTION


def bottleneck_block_params(c_in, c_mid):
    # BEGIN SOLUTION
    c_out = 4 * c_mid
    total = c_in * c_mid + 9 * c_mid * c_mid + c_mid * c_out  # the three convolutions
    total += 4 * (c_mid + c_mid + c_out)  # their BatchNormalizations
    if c_in != c_out:
        total += c_in * c_out + 4 * c_out  # projection shortcut
    return total
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_parameter_counts_against_keras(conv_params, batch_norm_params, bottleneck_block_params):
    # Every test case checks all three functions, each on random sizes.
    from course_lib.grading.checks.a2 import check_parameter_counts

    check_parameter_counts(conv_params, batch_norm_params, bottleneck_block_params, seed=111, rounds=3,
                           kernel_sizes=(1, 3, 5, 7), channel_max=64, bias_order=(True, False), bn_channel_max=256,
                           identities=(True, False, True, False), mid_max=32, in_max=128)


# %%
# HIDDEN
def test_parameter_counts_hidden(conv_params, batch_norm_params, bottleneck_block_params):
    from course_lib.grading.checks.a2 import check_parameter_counts

    check_parameter_counts(conv_params, batch_norm_params, bottleneck_block_params, seed=9111, rounds=4,
                           kernel_sizes=(1, 2, 3, 5, 7), channel_max=96, bias_order=(False, True), bn_channel_max=512,
                           identities=(False, True, False, True, False), mid_max=48, in_max=192)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 4

# %% [markdown]
# ## q2 · A residual block with a projection shortcut (4 points)
#
# Write `ResidualBlock(filters, strides=1)`, the basic block of ResNet-18/34
# (He et al., 2016), as a Keras layer. On an input `x` with $C$ channels it computes
#
# $$\text{ReLU}\big(F(x) + \text{shortcut}(x)\big)$$
#
# - the residual branch $F$: `Conv2D(filters, 3, strides=strides)` -
#   `BatchNormalization` - ReLU - `Conv2D(filters, 3)` - `BatchNormalization`;
# - the shortcut: the identity `x` when the branch keeps the shape
#   (`strides == 1` and $C$ = `filters`); otherwise a projection,
#   `Conv2D(filters, 1, strides=strides)` - `BatchNormalization`, so that the
#   two terms have the same shape.
#
# Every convolution has `padding="same"` and `use_bias=False` (the
# `BatchNormalization` after it has an offset $\beta$ that does a bias's job);
# every `BatchNormalization()` has Keras's default settings. The output has
# shape `(batch, ceil(H / strides), ceil(W / strides), filters)`.
#
# The shortcut depends on $C$, which `__init__` does not know: decide in
# `build(input_shape)` (where `input_shape[-1]` is $C$), and create the
# projection's layers there. Pass `training` on to the `BatchNormalization`
# layers. Implement `get_config` as in the example above.
#
# The tests check the output shape for strides 1 and 2 and for changes of
# depth, the parameter count, the output against a reference on random
# weights, the block inside a `keras.Model`, and a `get_config` /
# `from_config` round trip. *Try it:* `ResidualBlock(16, strides=2)(np.zeros((1, 9, 9, 8), "float32")).shape`
# should be `(1, 5, 5, 16)`.

# %% [raw]
# # BEGIN SOLUTION

# %%
class ResidualBlock(keras.layers.Layer):
    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        # BEGIN SOLUTION
        self.conv1 = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()
        self.merge = keras.layers.Add()
        # END SOLUTION

    def build(self, input_shape):
        # BEGIN SOLUTION
        self.projection = self.strides != 1 or input_shape[-1] != self.filters
        if self.projection:
            self.shortcut_conv = keras.layers.Conv2D(self.filters, 1, strides=self.strides, use_bias=False)
            self.shortcut_bn = keras.layers.BatchNormalization()
        # END SOLUTION

    def call(self, inputs, training=None):
        # BEGIN SOLUTION
        y = keras.ops.relu(self.bn1(self.conv1(inputs), training=training))
        y = self.bn2(self.conv2(y), training=training)
        shortcut = inputs
        if self.projection:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        return keras.ops.relu(self.merge([y, shortcut]))
        # END SOLUTION

    def get_config(self):
        # BEGIN SOLUTION
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
        # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_residual_block(ResidualBlock):
    # Each block is checked in full: shape, parameters, values on random weights,
    # inside a keras.Model, and after a get_config / from_config round trip.
    from course_lib.grading.checks.a2 import check_residual_block

    check_residual_block(ResidualBlock, seed=222, configs=[(4, 4, 1), (3, 6, 1), (4, 4, 2)], batch=2, size_range=(5, 10))


# %%
# HIDDEN
def test_residual_block_hidden(ResidualBlock):
    from course_lib.grading.checks.a2 import check_residual_block

    check_residual_block(ResidualBlock, seed=9222, configs=[(6, 6, 1), (7, 3, 2), (4, 8, 1), (5, 5, 2)], batch=3,
                         size_range=(4, 12))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 4

# %% [markdown]
# ## q3 · An Inception module with bottlenecks (4 points)
#
# Write `InceptionModule(f1, f3_reduce, f3, f5_reduce, f5, pool_proj)`, the
# module of GoogLeNet (Szegedy et al., 2015), as a Keras layer. Four branches
# see the same input, and their outputs are concatenated along the channel
# axis, **in this order**:
#
# 1. a 1x1 convolution with `f1` filters;
# 2. a 1x1 convolution with `f3_reduce` filters (the bottleneck), then a 3x3
#    convolution with `f3` filters;
# 3. a 1x1 convolution with `f5_reduce` filters, then a 5x5 convolution with
#    `f5` filters;
# 4. a 3x3 max pooling with stride 1 (`padding="same"`), then a 1x1
#    convolution with `pool_proj` filters (the pool projection).
#
# Every convolution has `padding="same"`, a bias and a ReLU
# (`activation="relu"`); there is no `BatchNormalization`. So the output
# keeps the input's height and width and has `f1 + f3 + f5 + pool_proj`
# channels. Implement `get_config`.
#
# The tests check the output shape, the parameter count, each branch's
# channels of the output against a reference on random weights, the module
# inside a `keras.Model`, and a `get_config` / `from_config` round trip.
# *Try it:* GoogLeNet's module 3a, `InceptionModule(64, 96, 128, 16, 32, 32)`,
# maps a `(1, 28, 28, 192)` input to `(1, 28, 28, 256)`. How many parameters
# would it have without the two reduce convolutions and the pool projection?

# %% [raw]
# # BEGIN SOLUTION

# %%
class InceptionModule(keras.layers.Layer):
    def __init__(self, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, **kwargs):
        super().__init__(**kwargs)
        self.f1, self.f3_reduce, self.f3 = f1, f3_reduce, f3
        self.f5_reduce, self.f5, self.pool_proj = f5_reduce, f5, pool_proj
        # BEGIN SOLUTION
        def conv(filters, size):
            return keras.layers.Conv2D(filters, size, padding="same", activation="relu")

        self.branch_1x1 = [conv(f1, 1)]
        self.branch_3x3 = [conv(f3_reduce, 1), conv(f3, 3)]
        self.branch_5x5 = [conv(f5_reduce, 1), conv(f5, 5)]
        self.branch_pool = [keras.layers.MaxPooling2D(3, strides=1, padding="same"), conv(pool_proj, 1)]
        self.concat = keras.layers.Concatenate(axis=-1)
        # END SOLUTION

    def call(self, inputs):
        # BEGIN SOLUTION
        outputs = []
        for branch in (self.branch_1x1, self.branch_3x3, self.branch_5x5, self.branch_pool):
            x = inputs
            for layer in branch:
                x = layer(x)
            outputs.append(x)
        return self.concat(outputs)
        # END SOLUTION

    def get_config(self):
        # BEGIN SOLUTION
        config = super().get_config()
        config.update(
            f1=self.f1,
            f3_reduce=self.f3_reduce,
            f3=self.f3,
            f5_reduce=self.f5_reduce,
            f5=self.f5,
            pool_proj=self.pool_proj,
        )
        return config
        # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_inception_module(InceptionModule):
    # The sizes of the four 1x1 convolutions differ, so each branch has its own weights.
    from course_lib.grading.checks.a2 import check_inception_module

    check_inception_module(InceptionModule, seed=333, modules=[((3, 4, 8, 5, 2, 7), 6), ((9, 2, 5, 6, 3, 4), 3)],
                           batch=2, size_range=(5, 10))


# %%
# HIDDEN
def test_inception_module_hidden(InceptionModule):
    from course_lib.grading.checks.a2 import check_inception_module

    check_inception_module(InceptionModule, seed=9333,
                           modules=[((5, 7, 3, 1, 10, 2), 8), ((11, 3, 6, 8, 1, 4), 1), ((2, 9, 11, 4, 6, 10), 5)],
                           batch=3, size_range=(4, 12))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 3

# %% [markdown]
# ## q4 · A depthwise separable convolution (3 points)
#
# Write `DepthwiseSeparableConv(filters, strides=1)`, the block MobileNet
# (Howard et al., 2017) stacks in place of standard convolutions, as a Keras
# layer:
#
# `DepthwiseConv2D(3, strides=strides)` - `BatchNormalization` - ReLU -
# `Conv2D(filters, 1)` - `BatchNormalization` - ReLU
#
# The depthwise convolution filters each input channel with its own 3x3
# kernel (it does not mix channels); the pointwise 1x1 convolution mixes the
# channels. Both convolutions have `use_bias=False`, the depthwise one
# `padding="same"`; every `BatchNormalization()` has Keras's default
# settings, and the ReLU is the plain one (MobileNet's ReLU6, which clips at
# 6, would fail the tests). The output has shape
# `(batch, ceil(H / strides), ceil(W / strides), filters)`. Pass `training`
# on to the `BatchNormalization` layers and implement `get_config`.
#
# The tests check the output shape, the parameter count, the output against a
# reference on random weights, the block inside a `keras.Model`, and a
# `get_config` / `from_config` round trip. Afterwards, compare the parameter
# count with that of a `Conv2D(filters, 3)` on the same input.

# %% [raw]
# # BEGIN SOLUTION

# %%
class DepthwiseSeparableConv(keras.layers.Layer):
    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        # BEGIN SOLUTION
        self.depthwise = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization()
        self.pointwise = keras.layers.Conv2D(filters, 1, use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()
        # END SOLUTION

    def call(self, inputs, training=None):
        # BEGIN SOLUTION
        x = keras.ops.relu(self.bn1(self.depthwise(inputs), training=training))
        return keras.ops.relu(self.bn2(self.pointwise(x), training=training))
        # END SOLUTION

    def get_config(self):
        # BEGIN SOLUTION
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
        # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_depthwise_separable_conv(DepthwiseSeparableConv):
    from course_lib.grading.checks.a2 import check_depthwise_separable_conv

    check_depthwise_separable_conv(DepthwiseSeparableConv, seed=444, configs=[(3, 7, 1), (5, 4, 2)], batch=2,
                                   size_range=(5, 10))


# %%
# HIDDEN
def test_depthwise_separable_conv_hidden(DepthwiseSeparableConv):
    from course_lib.grading.checks.a2 import check_depthwise_separable_conv

    check_depthwise_separable_conv(DepthwiseSeparableConv, seed=9444, configs=[(6, 3, 2), (8, 4, 1), (2, 9, 1)],
                                   batch=3, size_range=(4, 12))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 3

# %% [markdown]
# ## q5 · Receptive fields by hand (3 points)
#
# A stack of sliding-window layers (convolutions or poolings, any padding,
# no dilation) is given as a list of `(kernel_size, stride)` pairs, from the
# input up. Write `receptive_field(layers)` returning, as an `int`, how many
# input pixels along one axis a unit of the last layer sees (1 for an empty
# list: a pixel sees itself).
#
# *Hint:* walk the layers from the input up, keeping the field $r$ and the
# *jump* $j$, the distance in input pixels between two neighbouring units of
# the current layer (both 1 at the input). A layer with kernel $k$ and stride
# $s$ widens the field by $k - 1$ of its input's units, that is by
# $(k - 1)\,j$ pixels, and multiplies the jump by $s$.
#
# Then set `vgg16_conv5_3_field` to the receptive field of VGG16's last
# convolutional layer, `block5_conv3` (conv5_3 in the paper). VGG16 stacks five
# blocks of 3x3 convolutions with stride 1 (2, 2, 3, 3 and 3 of them). Each
# block but the last is followed by a 2x2 max pooling with stride 2.

# %% [raw]
# # BEGIN SOLUTION

# %%
def receptive_field(layers):
    # BEGIN SOLUTION
    field, jump = 1, 1
    for kernel_size, stride in layers:
        field += (kernel_size - 1) * jump
        jump *= stride
    return field
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN SOLUTION

# %%
VGG16_CONV5_3 = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)] + ([(3, 1)] * 3 + [(2, 2)]) * 2 + [(3, 1)] * 3  # SOLUTION NO PROMPT
vgg16_conv5_3_field = receptive_field(VGG16_CONV5_3)  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_receptive_field_against_course_lib(receptive_field, vgg16_conv5_3_field):
    # Random stacks of convolutions and poolings, measured by course_lib.receptive_field.
    from course_lib.grading.checks.a2 import check_receptive_field

    check_receptive_field(receptive_field, vgg16_conv5_3_field, seed=555, lengths=(3, 4, 5, 6, 7),
                          kernel_sizes=(1, 2, 3, 5, 7), strides=(1, 2, 3), input_size=64, check_vgg16_value=False)


# %%
# HIDDEN
def test_receptive_field_hidden(receptive_field, vgg16_conv5_3_field):
    from course_lib.grading.checks.a2 import check_receptive_field

    check_receptive_field(receptive_field, vgg16_conv5_3_field, seed=9555, lengths=(2, 8, 5, 6, 4, 7),
                          kernel_sizes=(1, 2, 3, 4, 5, 7), strides=(1, 2, 3, 4), input_size=96, check_vgg16_value=True)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Before you submit
#
# Restart the kernel and run all cells (Kernel > Restart Kernel and Run All
# Cells). The grader runs your notebook from the top. So a layer that only
# works because of a cell you ran earlier and then deleted will fail there.
