# %% [markdown]
# # 06 · Receptive field
#
# A unit of a convolutional layer does not look at the whole image. It looks at a
# patch of it, its **receptive field**. The deeper the layer, the larger the patch.
# This notebook computes that patch with two simple rules. It checks the rules
# against published values and against automatic differentiation. Then it uses them
# to explain why modern networks stack small 3x3 kernels instead of using large ones.
#
# **Learning objectives.** After this notebook you can
#
# 1. state the two rules that give the receptive field of any layer of a CNN, and
#    apply them by hand;
# 2. read the receptive field, the jump and the start of every layer of LeNet-5 and
#    VGG16 from `course_lib.receptive_field.receptive_field`;
# 3. measure a receptive field from the gradient of one unit with respect to the
#    input, and say why the measured field can be smaller than the theoretical one;
# 4. explain why three stacked 3x3 convolutions beat one 7x7 convolution: the same
#    field, fewer parameters, more non-linearities;
# 5. predict how a change of kernel, stride or padding in a stack of layers
#    changes every field and jump after it.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import data, diagrams
from course_lib.models import lenet5
from course_lib.receptive_field import empirical_receptive_field, receptive_field
from course_lib.viz import show_receptive_field
from course_lib.widgets import ReceptiveFieldExplorer, plot_receptive_field_stack, receptive_field_stack

pd.set_option("display.width", 120)
L = keras.layers

# %% [markdown]
# ## 1. Two rules
#
# Take one unit of a layer and ask which input pixels its value depends on. Along
# the rows (the columns work the same way), three numbers describe the answer:
#
# - the **field** $r$: how many input pixels the unit sees;
# - the **jump** $j$: how many input pixels apart the fields of two neighbouring
#   units are, i.e. the layer's stride measured in input pixels;
# - the **start**: where, in input pixel coordinates, the field of the first unit
#   is centred.
#
# The input image itself has $r = 1$ (a pixel sees itself) and $j = 1$. Then, layer
# after layer:
#
# 1. **A convolution (or pooling window) of $H \times W$ adds $(H - 1)$ rows and
#    $(W - 1)$ columns to the field, times the current jump:**
#    $r_{out} = r_{in} + (H - 1)\, j_{in}$. A unit sees $H$ units of the layer
#    below, and neighbouring units below are $j_{in}$ pixels apart.
# 2. **A stride $s$ (of a pooling or of a strided convolution) multiplies the jump
#    by $s$:** $j_{out} = j_{in}\, s$. Skipping units below means skipping $s$
#    times as many pixels.
#
# A dilated kernel of size $k$ and dilation $d$ spreads over $d(k - 1) + 1$ pixels,
# which replaces $H$ in rule 1. Padding does not change the field. It only moves
# the start, $start_{out} = start_{in} + ((H - 1)/2 - pad_{before})\, j_{in}$, so
# that units near the border see some zeros.
#
# LeNet-5's feature extractor is a 5x5 convolution, a 2x2 pooling of stride 2,
# another 5x5 convolution and another pooling. The diagram applies the two rules to
# these four layers along one row of 28 pixels, with "valid" padding (which changes
# no field). Follow the vermillion units down from the central unit of the last
# pooling to the 16 input pixels it depends on.

# %%
lenet_stack_valid = [(5, 1), {"kind": "pool", "kernel": 2}, (5, 1), {"kind": "pool", "kernel": 2}]
diagrams.show(diagrams.receptive_field_growth(layers=lenet_stack_valid, input_size=28))

# %% [markdown]
# The rules fit in a few lines of Python. Here they are, on the same four layers:

# %%
def field_by_the_rules(layers):
    """Receptive field and jump after each (kernel, stride) layer, along one axis."""
    field, jump, fields, jumps = 1, 1, [], []
    for kernel, stride in layers:
        field += (kernel - 1) * jump  # rule 1
        jump *= stride  # rule 2
        fields.append(field)
        jumps.append(jump)
    return fields, jumps


lenet_layers = {"c1_conv": (5, 1), "s2_pool": (2, 2), "c3_conv": (5, 1), "s4_pool": (2, 2)}
rule_fields, rule_jumps = field_by_the_rules(lenet_layers.values())
by_hand = pd.DataFrame({"field": rule_fields, "jump": rule_jumps}, index=list(lenet_layers))
by_hand

# %% [markdown]
# **Check.** Step by step: $1 + 4 = 5$; $5 + 1 \cdot 1 = 6$ and the jump becomes
# 2; $6 + 4 \cdot 2 = 14$; $14 + 1 \cdot 2 = 16$ and the jump becomes 4. A unit
# of the last pooling layer sees a 16x16 patch of the 28x28 digit.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert rule_fields == [1 + 4, 1 + 4 + 1, 1 + 4 + 1 + 4 * 2, 1 + 4 + 1 + 4 * 2 + 1 * 2] == [5, 6, 14, 16]
assert rule_jumps == [1, 2, 2, 4]
print(f"Check: the rules give LeNet-5's fields {rule_fields} and jumps {rule_jumps}, as computed by hand.")

# %% [markdown]
# ## 2. The table of a whole network
#
# `receptive_field(model)` walks a Keras model's graph and applies the rules to
# every layer, along rows and columns, with Keras's own padding. It returns a
# pandas table, one row per layer: kernel and stride of the sliding window, field,
# jump and start. Here is the course's LeNet-5 (`course_lib.models.lenet5`, 28x28
# digits, "same" padding in the first convolution):

# %%
# NBVAL_CHECK_OUTPUT
lenet = lenet5(input_shape=(28, 28, 1))
lenet_table = receptive_field(lenet)
lenet_table

# %% [markdown]
# The start column says where unit 0 looks. The first convolution pads 2 zeros, so
# its unit 0 is centred on pixel 0. Each 2x2 pooling moves the centre by half a
# window. Unit $u$ of a layer is centred at $start + u \cdot jump$. Past `flatten`,
# the units no longer sit on a grid. Every dense unit sees the whole 28x28 image,
# which the table reports as the field.
#
# **Check.** The table applies the same two rules as section 1, so it must give
# the same fields and jumps.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
for name, field, jump in zip(lenet_layers, rule_fields, rule_jumps):
    assert lenet_table.loc[name, "field_rows"] == lenet_table.loc[name, "field_cols"] == field, name
    assert lenet_table.loc[name, "jump_rows"] == lenet_table.loc[name, "jump_cols"] == jump, name
assert (lenet_table.loc[["c5_dense", "f6_dense", "predictions"], "field_rows"] == 28).all()
print(f"Check: receptive_field(lenet5) gives the fields and jumps of the rules by hand on {', '.join(lenet_layers)}, "
      "and every dense unit sees the whole 28x28 digit.")

# %% [markdown]
# On a digit, the fields of the central unit of each layer grow like this:

# %%
(x_train, y_train), _ = data.load_mnist()
digit = x_train[0]

fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for ax, name in zip(axes, lenet_layers):
    row = lenet_table.loc[name]
    rows, cols = row.output_shape[:2]
    unit = ((rows - 1) // 2, (cols - 1) // 2)
    centre = (row.start_rows + unit[0] * row.jump_rows, row.start_cols + unit[1] * row.jump_cols)
    show_receptive_field(
        digit,
        (int(row.field_rows), int(row.field_cols)),
        center=centre,
        ax=ax,
        title=f"{name}, unit {unit}: {row.field_rows}x{row.field_cols}",
    )
fig.suptitle(f"LeNet-5: receptive field of the central unit of each layer (digit '{y_train[0]}')")
plt.show()

# %% [markdown]
# ### VGG16
#
# VGG16 (Simonyan and Zisserman, 2015) has 13 convolutions, all 3x3 with "same"
# padding, in five blocks that each end with a 2x2 pooling of stride 2. Building it
# without weights (`weights=None`) needs no download.

# %%
# NBVAL_CHECK_OUTPUT
vgg = keras.applications.VGG16(weights=None)
vgg_table = receptive_field(vgg)
vgg_spatial = vgg_table[vgg_table["type"].isin(["Conv2D", "MaxPooling2D"])]
vgg_spatial[["output_shape", "kernel", "stride", "field_rows", "jump_rows", "start_rows"]]

# %% [markdown]
# **Check.** The published values come from Araujo, Norris and Sim, *Computing
# receptive fields of convolutional neural networks* (Distill, 2019). Within a
# block, each 3x3 convolution adds $2j$, and each pooling adds $j$. The jump
# doubles from block to block.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
vgg_convs = [layer for layer in vgg.layers if isinstance(layer, L.Conv2D)]
vgg_pools = [layer for layer in vgg.layers if isinstance(layer, L.MaxPooling2D)]
assert len(vgg_convs) == 13 and len(vgg_pools) == 5
assert all(layer.kernel_size == (3, 3) and layer.padding == "same" and layer.strides == (1, 1) for layer in vgg_convs)
assert all(layer.pool_size == layer.strides == (2, 2) for layer in vgg_pools)
assert vgg_table.loc["block5_conv3", "field_rows"] == 196
assert vgg_table.loc["block5_pool", "field_rows"] == 212
assert vgg_table.loc["block5_conv3", "jump_rows"] == 16 and vgg_table.loc["block5_pool", "jump_rows"] == 32
assert (vgg_spatial["field_rows"] == vgg_spatial["field_cols"]).all()
steps = vgg_spatial["field_rows"].diff().iloc[1:]
previous_jumps = vgg_spatial["jump_rows"].shift().iloc[1:]
is_conv = vgg_spatial["type"].iloc[1:] == "Conv2D"
assert (steps[is_conv] == 2 * previous_jumps[is_conv]).all()
assert (steps[~is_conv] == previous_jumps[~is_conv]).all()
conv3, pool5 = vgg_table.loc["block5_conv3"], vgg_table.loc["block5_pool"]
print(f"Check: as published, a unit of block5_conv3 sees {conv3.field_rows}x{conv3.field_cols} pixels with a jump "
      f"of {conv3.jump_rows}, and a unit of block5_pool {pool5.field_rows}x{pool5.field_cols}, nearly the whole "
      f"224x224 image, with a jump of {pool5.jump_rows}; each 3x3 convolution adds 2j and each pooling j.")

# %%
fig, ax = plt.subplots(figsize=(9, 3.6))
positions = np.arange(len(vgg_spatial))
ax.bar(positions, vgg_spatial["field_rows"], color=np.where(vgg_spatial["type"] == "Conv2D", "tab:blue", "tab:orange"))
ax.axhline(224, color="black", linestyle="--", linewidth=1, label="input size (224 pixels)")
ax.set_xticks(positions, vgg_spatial.index, rotation=70, fontsize="small")
ax.set_ylabel("receptive field (pixels)")
ax.set_title("VGG16: receptive field per layer (blue: 3x3 convolution, orange: 2x2 pooling)")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ## 3. Measuring the field with a gradient
#
# If a pixel lies outside a unit's receptive field, changing it does not change the
# unit. The gradient of the unit with respect to that pixel is exactly zero.
# `empirical_receptive_field(model, layer_name)` takes that gradient with the
# backend's automatic differentiation. It takes it for the central unit of the
# layer (summed over its channels), at a random input image. It returns the box of
# pixels where the gradient is not zero.
#
# The measurement can find *less* than the theory:
#
# - a ReLU that is off passes no gradient;
# - a max-pooling window passes it to its largest entry only;
# - weights can cancel.
#
# To see the whole theoretical field, we use a network where none of this happens:
# LeNet-5's geometry with **positive weights, no activation and average pooling**.

# %%
positive = keras.initializers.RandomUniform(0.5, 1.5, seed=0)
linear_lenet = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        L.Conv2D(6, 5, padding="same", kernel_initializer=positive, name="c1_conv"),
        L.AveragePooling2D(2, name="s2_pool"),
        L.Conv2D(16, 5, kernel_initializer=positive, name="c3_conv"),
        L.AveragePooling2D(2, name="s4_pool"),
    ],
    name="linear_lenet",
)
linear_table = receptive_field(linear_lenet)
measured = {name: empirical_receptive_field(linear_lenet, name) for name in lenet_layers}
comparison = pd.DataFrame(
    {
        "theory": [int(linear_table.loc[n, "field_rows"]) for n in lenet_layers],
        "measured": [measured[n].size[0] for n in lenet_layers],
        "unit": [measured[n].unit for n in lenet_layers],
        "measured box (top, left, bottom, right)": [measured[n].bounds for n in lenet_layers],
    },
    index=list(lenet_layers),
)
comparison

# %% [markdown]
# **Check.** Here nothing hides a pixel, so the gradient must find the whole
# theoretical field, centred where the start and the jump say.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
for name in lenet_layers:
    row, result = linear_table.loc[name], measured[name]
    assert result.size == (row.field_rows, row.field_cols), name
    top, left, bottom, right = result.bounds
    assert (top + bottom) / 2 == row.start_rows + result.unit[0] * row.jump_rows, name
    assert (left + right) / 2 == row.start_cols + result.unit[1] * row.jump_cols, name
print(f"Check: on {', '.join(lenet_layers)}, the measured box has the theoretical size (rows and columns) "
      "and is centred at start + u * jump for the unit u.")

# %% [markdown]
# > **Lecture vs. course: the receptive field through pooling.** The lecture
# > notes state rule 1 for convolutions: a filter adds $H - 1$ rows. But they give
# > pooling another rule: it *multiplies* the rows and columns of the field by the
# > stride. For LeNet-5 that gives 5, 10, 14, 28, so a unit of `s4_pool` would see
# > the whole digit. The gradient sides with the course's rules (5, 6, 14, 16), as
# > the next cell shows.
# >
# > The reason: a 2x2 pooling unit reads two neighbouring units of the layer below.
# > Their fields are shifted by the jump $j_{in}$ and overlap. Together they cover
# > $r_{in} + j_{in}$ pixels, not $2 r_{in}$. What the stride does multiply is the
# > jump (rule 2). The two rules agree only when $r_{in} = j_{in}$, when the fields
# > below do not overlap: for a pooling applied straight to the image, for example.
# >
# > The notes also add $H - 1$ for a convolution after a pooling, where rule 1 adds
# > $(H - 1)\,j_{in}$. In LeNet-5, the two errors happen to meet again at 14.

# %%
# NBVAL_CHECK_OUTPUT
def field_by_the_notes(layers):
    """The lecture notes' rules: a convolution adds H - 1, a pooling multiplies the field by its stride."""
    field, fields = 1, []
    for name, (kernel, stride) in layers.items():
        field = field * stride if name.endswith("pool") else field + kernel - 1
        fields.append(field)
    return fields


rules_compared = pd.DataFrame(
    {
        "lecture notes' rules": field_by_the_notes(lenet_layers),
        "course's rules": rule_fields,
        "measured (gradient)": [measured[name].size[0] for name in lenet_layers],
    },
    index=list(lenet_layers),
)
print(rules_compared.to_string())
assert rules_compared["lecture notes' rules"].tolist() == [5, 10, 14, 28]
assert (rules_compared["measured (gradient)"] == rules_compared["course's rules"]).all()
assert (rules_compared["measured (gradient)"] != rules_compared["lecture notes' rules"]).any()

# %%
result = measured["s4_pool"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
top, left, bottom, right = result.bounds
show_receptive_field(
    digit,
    result.size,
    center=((top + bottom) / 2, (left + right) / 2),
    ax=axes[0],
    title=f"s4_pool unit {result.unit}: field {result.size[0]}x{result.size[1]} on a digit",
)
image = axes[1].imshow(result.gradient, cmap="viridis")
axes[1].set_title("|d unit / d pixel| (linear LeNet-5)")
axes[1].set_xlabel("column (pixels)")
axes[1].set_ylabel("row (pixels)")
fig.colorbar(image, ax=axes[1], label="absolute gradient")
plt.show()

# %% [markdown]
# The gradient is not flat. Pixels in the middle of the field reach the unit
# through many more paths than pixels at its border, so they weigh more.
#
# ### The real networks: the *effective* receptive field
#
# Now the course's LeNet-5 as it is built for training (ReLU, max pooling, random
# initial weights), and VGG16 (the same, 224x224 input). The box of non-zero
# gradients can only be as large as the theory or smaller. How the gradient
# spreads inside it is what Luo et al. (2016) call the *effective receptive field*.
# We measure LeNet-5 at a real digit and VGG16 at random noise.

# %%
lenet_measured = empirical_receptive_field(lenet, "s4_pool", inputs=digit[..., None] / 255.0)
vgg_measured = empirical_receptive_field(vgg, "block5_pool")
effective = pd.DataFrame(
    {
        "theory": [lenet_table.loc["s4_pool", "field_rows"], vgg_table.loc["block5_pool", "field_rows"]],
        "measured box": [lenet_measured.size, vgg_measured.size],
    },
    index=["LeNet-5 s4_pool (a digit)", "VGG16 block5_pool (noise)"],
)
effective


# %%
def central_share(gradient, bounds):
    """Share of the gradient inside the central half (rows and columns) of the box."""
    top, left, bottom, right = bounds
    rows, cols = bottom - top + 1, right - left + 1
    inner = gradient[top + rows // 4 : top + rows // 4 + rows // 2, left + cols // 4 : left + cols // 4 + cols // 2]
    return inner.sum() / gradient.sum(), (rows // 2) * (cols // 2) / (rows * cols)


vgg_share, vgg_area = central_share(vgg_measured.gradient, vgg_measured.bounds)
fig, ax = plt.subplots(figsize=(5.2, 4.4))
image = ax.imshow(vgg_measured.gradient, cmap="viridis")
ax.set_title(f"VGG16 block5_pool, unit {vgg_measured.unit}: |gradient|")
ax.set_xlabel("column (pixels)")
ax.set_ylabel("row (pixels)")
fig.colorbar(image, ax=ax, label="absolute gradient")
plt.show()
print(f"the central {vgg_area:.0%} of the box holds {vgg_share:.0%} of VGG16's gradient")

# %% [markdown]
# **Check.** A measured box can only be smaller than the theory. Here enough
# paths stay open that it is exactly as large. The central share of the gradient
# depends on the weights and the input.

# %% tags=["hide-input"]
for result, name, layer in ((lenet_measured, "LeNet-5", "s4_pool"), (vgg_measured, "VGG16", "block5_pool")):
    table = lenet_table if name == "LeNet-5" else vgg_table
    assert result.size[0] <= table.loc[layer, "field_rows"] and result.size[1] <= table.loc[layer, "field_cols"]
    assert result.size == (table.loc[layer, "field_rows"], table.loc[layer, "field_cols"])
assert vgg_share > vgg_area
print(f"Check: the measured boxes are as large as the theory, LeNet-5 {lenet_measured.size} and VGG16 "
      f"{vgg_measured.size}; VGG16's gradient gathers in the middle (central share {vgg_share:.2f} > {vgg_area:.2f}).")

# %% [markdown]
# With a single channel, the box itself shrinks. A 3x3 convolution followed by a
# 2x2 max pooling sees 3 + 1 = 4 pixels in theory. But the pooling passes the
# gradient to the largest of its four inputs only. So the measured box is one 3x3
# patch, wherever that maximum lies.

# %%
# NBVAL_CHECK_OUTPUT
conv_max = keras.Sequential(
    [keras.Input((16, 16, 1)), L.Conv2D(1, 3, kernel_initializer=positive, name="conv"), L.MaxPooling2D(2, name="pool")],
    name="conv_max",
)
theory_box = tuple(int(v) for v in receptive_field(conv_max).loc["pool", ["field_rows", "field_cols"]])
max_box = empirical_receptive_field(conv_max, "pool").size
assert theory_box == (4, 4) and max_box == (3, 3)
print(f"conv 3x3 + max pooling 2x2: theory {theory_box}, measured {max_box}")

# %% [markdown]
# ## 4. Three 3x3 convolutions or one 7x7?
#
# VGG16 uses only 3x3 kernels. Why not fewer layers with larger kernels? By rule 1,
# three stacked 3x3 convolutions (stride 1) see $1 + 2 + 2 + 2 = 7$ pixels, as much
# as one 7x7 convolution. The stack has two advantages:
#
# - fewer weights: with $C$ channels in and out, they cost
#   $3 \cdot (3 \cdot 3 \cdot C \cdot C) = 27C^2$ against
#   $7 \cdot 7 \cdot C \cdot C = 49C^2$ (plus $3C$ and $C$ biases), 45% fewer;
# - more non-linearities: a stack of three layers applies three instead of one.

# %%
def three_3x3(channels, size=32, activation="relu", kernel_initializer="glorot_uniform"):
    convs = [
        L.Conv2D(channels, 3, activation=activation, kernel_initializer=kernel_initializer, name=f"conv3x3_{i}")
        for i in range(1, 4)
    ]
    return keras.Sequential([keras.Input((size, size, channels))] + convs, name="three_3x3")


def one_7x7(channels, size=32, activation="relu", kernel_initializer="glorot_uniform"):
    conv = L.Conv2D(channels, 7, activation=activation, kernel_initializer=kernel_initializer, name="conv7x7")
    return keras.Sequential([keras.Input((size, size, channels)), conv], name="one_7x7")


stack, single = three_3x3(4), one_7x7(4)
fields = {m.name: receptive_field(m).iloc[-1] for m in (stack, single)}
pd.DataFrame(fields).T[["output_shape", "field_rows", "field_cols", "jump_rows"]]

# %% [markdown]
# **Check.** The gradient is measured on copies with positive weights and the
# ReLUs replaced by the identity, so that nothing hides a pixel.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
for model in (stack, single):
    row = fields[model.name]
    assert (row.field_rows, row.field_cols) == (7, 7), model.name
    assert row.output_shape == (26, 26, 4), model.name
    build = three_3x3 if model.name == "three_3x3" else one_7x7
    linear_copy = build(4, activation=None, kernel_initializer=positive)
    measured_box = empirical_receptive_field(linear_copy, model.layers[-1].name).size
    assert measured_box == (7, 7), model.name
print("Check: three 3x3 convolutions and one 7x7 convolution both see 7x7 pixels, in theory and measured, "
      "and both turn 32x32 inputs into 26x26 outputs.")

# %% [markdown]
# Now the parameters, counted by Keras for several numbers of channels $C$:

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for channels in (1, 3, 16, 64, 256):
    rows.append(
        {
            "C": channels,
            "three 3x3": three_3x3(channels).count_params(),
            "one 7x7": one_7x7(channels).count_params(),
            "27 C^2 + 3 C": 27 * channels**2 + 3 * channels,
            "49 C^2 + C": 49 * channels**2 + channels,
        }
    )
params = pd.DataFrame(rows).set_index("C")
params["ratio"] = (params["three 3x3"] / params["one 7x7"]).round(3)
params

# %% [markdown]
# **Check.** The biases move the table's ratio a little away from $27/49$, most
# for small $C$.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert (params["three 3x3"] == params["27 C^2 + 3 C"]).all()
assert (params["one 7x7"] == params["49 C^2 + C"]).all()
assert (params["three 3x3"] < params["one 7x7"]).all()
for channels in params.index:
    weights_only = [
        sum(int(np.prod(layer.kernel.shape)) for layer in model.layers)
        for model in (three_3x3(channels), one_7x7(channels))
    ]
    assert weights_only == [27 * channels**2, 49 * channels**2]
    assert weights_only[0] / weights_only[1] == 27 / 49


def count_relus(model):
    return sum(layer.get_config().get("activation") == "relu" for layer in model.layers)


relus = {model.name: count_relus(model) for model in (stack, single)}
assert relus == {"three_3x3": 3, "one_7x7": 1}
assert round(1 - 27 / 49, 2) == 0.45
print(f"Check: Keras's counts equal 27 C^2 + 3 C and 49 C^2 + C; without the biases the ratio is exactly "
      f"27/49 = {27 / 49:.3f} ({1 - 27 / 49:.0%} fewer weights); the stack has {relus['three_3x3']} ReLUs, "
      f"the single layer {relus['one_7x7']}.")

# %% [markdown]
# ## 5. Build your own stack: the receptive-field explorer
#
# The two rules need no model. `course_lib.widgets.receptive_field_stack` applies
# them to a list of layers. The explorer below (`ReceptiveFieldExplorer`)
# recomputes them at every change of its controls. It starts from LeNet-5's feature
# extractor on the digit of section 2. You can change:
#
# - the number of layers;
# - each layer's kind (convolution or pooling), kernel, stride and padding.
#
# Then watch:
#
# - the table: output size, field, jump and start of every layer;
# - the field of the chosen unit of the last layer (red), among the field centres
#   of all its units (orange dots, one jump apart).
#
# Try a stride of 2 in the first layer. Every jump after it doubles, and so does
# everything each later kernel adds to the field.
#
# **The widget needs a live Jupyter kernel** (run the notebook locally or in
# Colab). On GitHub or on a static web page it does not appear, and the figure
# after it shows its starting point instead.

# %%
lenet_stack = [
    {"kind": "conv", "kernel": 5, "padding": "same"},
    {"kind": "pool", "kernel": 2},
    {"kind": "conv", "kernel": 5},
    {"kind": "pool", "kernel": 2},
]
field_explorer = ReceptiveFieldExplorer(digit, layers=lenet_stack)
field_explorer

# %%
# The same picture without a kernel: LeNet-5's stack, its central unit.
stack_rows = receptive_field_stack(lenet_stack, input_size=28)
plot_receptive_field_stack(digit, stack_rows)
plt.show()
columns = ["kind", "kernel", "stride", "padding", "output_size", "field", "jump", "start"]
pd.DataFrame(stack_rows).set_index("layer")[columns].astype({"kernel": "Int64", "stride": "Int64"})

# %% [markdown]
# **Check.** A stride of 2 in the first layer doubles every jump after it. The
# last field becomes $1 + 4 + 1 \cdot 2 + 4 \cdot 4 + 1 \cdot 4 = 27$ pixels
# instead of 16.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
for row, name in zip(stack_rows[1:], lenet_layers):
    expected = lenet_table.loc[name]
    assert (row.field, row.jump, row.start) == (expected.field_rows, expected.jump_rows, expected.start_rows), name
    assert row.output_size == expected.output_shape[0], name
assert field_explorer.rows == stack_rows
field_explorer.strides[0].value = 2  # driving the widget from code
assert [row.jump for row in field_explorer.rows] == [1, 2, 4, 4, 8]
assert field_explorer.rows[-1].field == 1 + 4 + 1 * 2 + 4 * 4 + 1 * 4 == 27
field_explorer.strides[0].value = 1  # back where the figure above is
print(f"Check: without a model, receptive_field_stack gives LeNet-5's field, jump, start and output size on "
      f"{', '.join(lenet_layers)}; with a first stride of 2, the explorer's jumps become 1, 2, 4, 4, 8 "
      "and its last field 27.")

# %% [markdown]
# ## Summary
#
# - The receptive field of a unit is the patch of input pixels it depends on. Two
#   rules give it for any stack of layers. A kernel of $H \times W$ adds
#   $(H - 1)$ rows and $(W - 1)$ columns times the current jump. A stride
#   multiplies the jump.
# - `receptive_field(model)` applies them to a whole Keras model: LeNet-5's last
#   pooling sees 16x16 pixels, VGG16's `block5_pool` 212x212, as published.
# - The gradient of a unit with respect to the input is zero outside its field.
#   With positive weights and linear layers, the measured box equals the theory.
#   In a real network with ReLUs and max pooling, it can be smaller, and the
#   gradient concentrates in the middle (the *effective* receptive field).
# - Three 3x3 convolutions see as much as one 7x7, with $27C^2$ instead of $49C^2$
#   weights and three non-linearities instead of one. That is why VGG and its
#   successors stack small kernels.
# - `receptive_field_stack` applies the rules to a list of layers without a model.
#   `ReceptiveFieldExplorer` lets you change the layers and watch every field and
#   jump after them change.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★★ **Dilated convolutions.** Stack three 3x3 convolutions with dilation rates 1,
#    2 and 4. What is the receptive field, by hand and with `receptive_field`? How
#    many weights does it take to reach it without dilation? *Hint:* a dilated
#    kernel spans $d(k - 1) + 1$ pixels.
# 2. ★★ **Stride instead of pooling.** Replace each 2x2 pooling of LeNet-5 by a stride
#    of 2 in the convolution before it. Which fields and jumps change? *Hint:*
#    build the model with `keras.Sequential` and compare the two tables row by row.
# 3. ★ **Small images.** Build VGG16 for 32x32 CIFAR-10 images
#    (`include_top=False, input_shape=(32, 32, 3)`). At which layer does the field
#    exceed the image, and what does a unit of `block5_pool` see then? *Hint:* the
#    field does not depend on the input size; the padding does the rest.
# 4. ★★ **The effective field of a trained network.** Train LeNet-5 for one epoch on
#    MNIST and measure `empirical_receptive_field` of `s4_pool` on a few digits.
#    How does the gradient map compare with the untrained network's? *Hint:* pass
#    the digit with `inputs=`, and plot `result.gradient`.
# 5. ★★ **Where does the centre lie?** For a 3x3 convolution with stride 2 and "same"
#    padding, compute the start on a 9x9 and on a 10x10 input, and check both with
#    `empirical_receptive_field(..., unit=(0, 0))`. *Hint:* Keras puts the odd
#    padding zero after the input.
# 6. ★★ **AlexNet's field by the rules (pen and paper).** Along each axis,
#    AlexNet's feature extractor is an 11x11 convolution with stride 4, a 3x3
#    max pooling with stride 2, a 5x5 convolution, a 3x3 max pooling with stride
#    2, three 3x3 convolutions and a last 3x3 max pooling with stride 2. All
#    convolutions after the first have stride 1. Write the field and the jump
#    after each layer, as in section 1. How many pixels does a unit of the last
#    pooling layer see? How many pixels apart are the fields of neighbouring
#    units?
#
#    Check with `field_by_the_rules`, then with `receptive_field` on a
#    `keras.Sequential` of these layers for 227x227x3 images. *Hint:* start from
#    $r = 1$, $j = 1$. Rule 1 uses the jump *before* the layer, and a pooling
#    window adds to the field like a kernel of its size.
