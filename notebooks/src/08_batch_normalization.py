# %% [markdown]
# # 08 · Batch normalization and training dynamics
#
# Every modern architecture of this course normalises its activations with
# BatchNormalization (Ioffe and Szegedy, 2015). Several later notebooks depend
# on how it behaves: transfer learning keeps it in inference mode (notebook 12),
# the residual networks rely on it (notebooks 18 and 20), and a short training
# can be undone by it. This notebook opens it up: the forward and
# backward passes from scratch, the difference between training and inference,
# the moving statistics and their trap, and what the normalisation buys.
#
# **Learning objectives.** After this notebook you can
#
# 1. compute BatchNormalization's forward and backward passes in NumPy and check
#    them against Keras, autodiff and numerical gradients;
# 2. tell training mode (the batch's statistics) from inference mode (the moving
#    statistics), and compute how fast the moving statistics forget their start;
# 3. measure the short-training trap (validation accuracy far below the
#    training accuracy of a network that has learned) and two fixes: a momentum
#    suited to the run, and statistics re-estimated after training;
# 4. show what BatchNormalization buys a plain deep network, with a
#    learning-rate range test you can reuse on any model.
#
# > **Lecture vs course.** The lecture notes do not cover BatchNormalization.
# > They mention AlexNet's "norm layers (not used anymore)": that was local
# > response normalisation, a different layer, which later networks dropped.
# > BatchNormalization came in 2015 and stayed. The course teaches it because
# > every later architecture here (GoogLeNet's CIFAR version, ResNet, MobileNet,
# > DenseNet) depends on it, and because it explains two traps of transfer
# > learning and short runs.

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
# Section 4 trains small networks on MNIST and section 5 on CIFAR-10; these CPU settings
# keep the notebook to about two and a half minutes. On a GPU, try the larger
# settings in the comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
TRAP_PER_CLASS = 200  # MNIST training images per class for the short training
TRAP_EPOCHS = 3  # a deliberately short run: 96 steps (the trap is about short runs, on a GPU too)
TRAP_BATCH = 64
SEEDS = (0, 1, 2)  # the learning-rate range tests of section 5
TRAP_SEEDS = (0, 1)  # the live trap; the recorded study has five seeds
RANGE_STEPS = 80  # steps of each learning-rate range test (GPU: 300)
PLAIN_DEPTH = 12  # convolutions of the plain deep network of section 5 (GPU: 20)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import comparison, diagrams, experiment, ops, studies
from course_lib.autodiff import value_and_gradient
from course_lib.batchnorm import KERAS_MOMENTUM, momentum_for_steps
from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.models import resnet_cifar
from course_lib.viz import plot_learning_curves

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The forward pass, in training mode
#
# For each channel $c$, BatchNormalization takes the mean and the variance of the
# channel's values over the batch (and, for images, over the rows and columns),
# normalises them, and then applies a learned scale $\gamma_c$ and offset
# $\beta_c$:
#
# $$\mu_c = \tfrac{1}{m}\sum x_c, \quad \sigma_c^2 = \tfrac{1}{m}\sum (x_c - \mu_c)^2,
# \quad \hat x_c = \frac{x_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \quad
# y_c = \gamma_c \hat x_c + \beta_c.$$
#
# Whatever the scale of its input, each channel leaves with mean $\beta_c$ and
# standard deviation $|\gamma_c|$, both learned. `ops.batchnorm_forward` computes
# it in NumPy; we compare it with `keras.layers.BatchNormalization` called in
# training mode on the same batch, with the same $\gamma$ and $\beta$.

# %%
x = (rng.normal(size=(16, 5, 5, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -3.0]).astype("float32")
gamma = rng.uniform(0.5, 2.0, 3).astype("float32")
beta = rng.normal(size=3).astype("float32")
layer = keras.layers.BatchNormalization(momentum=0.9)
layer.build(x.shape)
layer.set_weights([gamma, beta, np.zeros(3, "float32"), np.ones(3, "float32")])

out, cache = ops.batchnorm_forward(x, gamma, beta, epsilon=layer.epsilon)
keras_out = keras.ops.convert_to_numpy(layer(x, training=True))
channels = pd.DataFrame({
    "input mean": x.mean(axis=(0, 1, 2)), "input std": x.std(axis=(0, 1, 2)),
    "output mean": out.mean(axis=(0, 1, 2)), "output std": out.std(axis=(0, 1, 2)),
    "beta": beta, "gamma": gamma,
}, index=pd.Index(range(3), name="channel"))
print(f"largest difference, ours vs Keras (training mode): {np.abs(out - keras_out).max():.1e}")
channels.round(3)

# %% [markdown]
# **Check.** Our forward pass equals Keras's in training mode (to float32
# rounding), and every channel leaves with mean $\beta_c$, whatever its input
# scale (1, 10 and 0.1 here). Its standard deviation is
# $\gamma_c \sigma_c / \sqrt{\sigma_c^2 + \epsilon}$: $\gamma_c$ itself, unless the
# channel's variance is as small as $\epsilon$ (Keras's default is $10^{-3}$).
# Channel 2, of standard deviation 0.1, shows that difference.

# %%
# NBVAL_CHECK_OUTPUT
assert np.abs(out - keras_out).max() < 1e-4
np.testing.assert_allclose(channels["output mean"], beta, atol=1e-4)
input_variance = channels["input std"] ** 2
np.testing.assert_allclose(channels["output std"], gamma * np.sqrt(input_variance / (input_variance + layer.epsilon)),
                           rtol=1e-3)
np.testing.assert_allclose(channels["output std"][:2], gamma[:2], rtol=1e-2)
print("training mode: ours == Keras; each channel leaves with mean beta and std gamma")

# %% [markdown]
# ## 2. The backward pass
#
# The mean and the variance depend on every value of the batch, so each output
# depends on every input of its channel. The chain rule through them gives, with
# $m$ values per channel and $d\hat x = \text{dout} \cdot \gamma$,
#
# $$\frac{\partial L}{\partial x} = \frac{1}{m\sqrt{\sigma^2 + \epsilon}}\Big(m\, d\hat x
# - \sum d\hat x - \hat x \sum d\hat x\, \hat x\Big), \quad
# \frac{\partial L}{\partial \gamma} = \sum \text{dout}\, \hat x, \quad
# \frac{\partial L}{\partial \beta} = \sum \text{dout}.$$
#
# `ops.batchnorm_backward` implements it. We check it in float64 against the
# backend's automatic differentiation and against numerical (finite-difference)
# gradients, with the relative error of CS231n.

# %%
x64 = x.astype("float64")
dout = rng.normal(size=x.shape)
_, cache64 = ops.batchnorm_forward(x64, gamma.astype("float64"), beta.astype("float64"))
dx, dgamma, dbeta = ops.batchnorm_backward(dout, cache64)


def forward_loss(t, g=gamma.astype("float64"), b=beta.astype("float64")):
    return np.sum(ops.batchnorm_forward(t, g, b)[0] * dout)


def keras_loss(t):
    axes = (0, 1, 2)
    normalised = (t - keras.ops.mean(t, axis=axes)) / keras.ops.sqrt(keras.ops.var(t, axis=axes) + 1e-3)
    g, b, d = (keras.ops.convert_to_tensor(v, t.dtype) for v in (gamma, beta, dout))
    return keras.ops.sum((g * normalised + b) * d)


_, dx_autodiff = value_and_gradient(keras_loss, x64)
errors = pd.Series({
    "dx vs autodiff": relative_error(dx, dx_autodiff),
    "dx vs numerical": relative_error(dx, numerical_gradient(forward_loss, x64.copy())),
    "dgamma vs numerical": relative_error(
        dgamma, numerical_gradient(lambda g: forward_loss(x64, g=g), gamma.astype("float64"))),
    "dbeta vs numerical": relative_error(
        dbeta, numerical_gradient(lambda b: forward_loss(x64, b=b), beta.astype("float64"))),
}, name="relative error")
print(errors.to_string(float_format="{:.1e}".format))

# %% [markdown]
# **Check.** All relative errors are far below the CS231n threshold of
# $10^{-4}$. And the gradient with respect to $x$ sums to zero in each channel:
# adding a constant to a channel changes nothing, since the mean absorbs it.

# %%
# NBVAL_CHECK_OUTPUT
assert errors.max() < 1e-6, errors
np.testing.assert_allclose(dx.sum(axis=(0, 1, 2)), 0, atol=1e-9)
print("backward pass == autodiff == numerical gradients; dx sums to 0 per channel")

# %% [markdown]
# ## 3. Inference mode and the moving statistics
#
# A trained network must classify one image at a time, the same way whatever
# else is in the batch. So in **inference mode** BatchNormalization does not use
# the batch's statistics but **moving statistics**, averages kept during
# training. After every training step:
#
# $$\mu_{\text{moving}} \leftarrow m\, \mu_{\text{moving}} + (1 - m)\, \mu_{\text{batch}}, \qquad
# \sigma^2_{\text{moving}} \leftarrow m\, \sigma^2_{\text{moving}} + (1 - m)\, \sigma^2_{\text{batch}},$$
#
# starting from 0 and 1, with a **momentum** $m$ of 0.99 by default in Keras.
# Inference is then a fixed affine map per channel (`ops.batchnorm_inference`).
#
# The diagram puts the two modes side by side, with Keras's defaults. On the
# left, training normalises with the batch's own statistics. On the right,
# inference uses the stored moving statistics. The dashed box in the middle
# links them: every training step moves the moving statistics 1 % of the way
# towards the batch's.

# %%
diagrams.show(diagrams.batch_norm_modes(momentum=KERAS_MOMENTUM, epsilon=layer.epsilon))

# %% [markdown]
# We check the update and the inference against the Keras layer we called
# above (momentum 0.9, one training step).

# %%
moving_mean, moving_variance = ops.update_moving_statistics(
    np.zeros(3), np.ones(3), cache["mean"], cache["variance"], momentum=0.9)
inference = ops.batchnorm_inference(x, gamma, beta, moving_mean, moving_variance, epsilon=layer.epsilon)
keras_inference = keras.ops.convert_to_numpy(layer(x, training=False))
print(f"moving mean after one step:     {np.round(moving_mean, 3)} (batch mean {np.round(cache['mean'], 3)})")
print(f"relative error of inference mode, ours vs Keras: {relative_error(inference, keras_inference):.1e}")

# %% [markdown]
# After $n$ steps the starting values (mean 0, variance 1) still weigh $m^n$ in
# the moving statistics. With Keras's 0.99 that is 37 % after 100 steps, and
# most of them after a few dozen: a network trained for a few dozen steps is
# evaluated with statistics that are mostly its initial ones.
# `momentum_for_steps(n)` gives the largest momentum that leaves at most 1 % of
# them after $n$ steps (the course's recipe uses it, capped at 0.99).

# %%
steps = np.arange(1, 1001)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for momentum in (0.9, 0.99, 0.999):
    ax.plot(steps, momentum**steps, label=f"momentum {momentum}")
ax.axhline(0.01, color="gray", linestyle=":", label="1 %")
ax.set_xscale("log")
ax.set_xlabel("training steps (log scale)")
ax.set_ylabel("weight of the initial statistics")
ax.set_title("How fast the moving statistics forget their start")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize="small")
plt.show()
forgetting = pd.Series({n: momentum_for_steps(n) for n in (12, 64, 200, 459, 5000)}, name="momentum_for_steps(n)")
forgetting

# %% [markdown]
# **Check.** One Keras update moves the moving mean a tenth of the way to the
# batch mean (momentum 0.9). Inference with the moving statistics equals
# Keras's. $0.99^{100} \approx 0.37$. `momentum_for_steps` leaves exactly 1 %
# after $n$ steps, and Keras's 0.99 from 459 steps on.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(moving_mean, 0.1 * cache["mean"], rtol=1e-6)
np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean), moving_mean, rtol=1e-5, atol=1e-7)
assert relative_error(inference, keras_inference) < 1e-5
assert round(KERAS_MOMENTUM**100, 2) == 0.37
assert all(abs(m**n - 0.01) < 1e-9 for n, m in forgetting.items() if n < 459)
assert forgetting[459] == forgetting[5000] == KERAS_MOMENTUM
print(forgetting.round(4).to_string())

# %% [markdown]
# ## 4. The short-training trap, and two fixes
#
# Now the trap, measured on a network that has clearly learned. A ResNet-8
# (`resnet_cifar(8)`: seven convolutions with BatchNormalization) trains on
# 2,000 MNIST digits for `TRAP_EPOCHS` epochs: a few dozen steps, enough to pass
# 90 % training accuracy. It trains with the course's recipe in three versions:
#
# - **Keras's momentum (0.99)**: the layers as Keras builds them;
# - **momentum for the run**: `momentum_for_steps(total steps)`, the recipe's
#   default;
# - **re-estimated after training**: momentum 0.99 during training, then
#   `recompute_batchnorm_statistics` replaces the moving statistics by the
#   average batch statistics over the training images, weights fixed.
#
# Only the moving statistics differ. Seed by seed, the three share their
# weights: same initial weights, same batches, and training mode never reads
# the moving statistics.

# %%
splits = experiment.load_splits("mnist", validation_size=2000, train_per_class=TRAP_PER_CLASS,
                                test_per_class=100)
splits = experiment.Splits(*[(x[..., None], y) for x, y in splits])  # one grey channel
recipe = experiment.Recipe(epochs=TRAP_EPOCHS, batch_size=TRAP_BATCH, warmup_epochs=0.5, flip=False, translate=2)
run_steps = TRAP_EPOCHS * -(-len(splits.train[0]) // TRAP_BATCH)
variants = {
    "Keras's momentum (0.99)": recipe.replace(batchnorm_momentum=KERAS_MOMENTUM),
    "momentum for the run": recipe,
    "re-estimated after training": recipe.replace(batchnorm_momentum=KERAS_MOMENTUM, recompute_batchnorm=True),
}
trap = {name: experiment.run(lambda: resnet_cifar(8, input_shape=(28, 28, 1)), splits, variant, seeds=TRAP_SEEDS,
                             name=name)
        for name, variant in variants.items()}
print(f"{run_steps} training steps: with momentum 0.99 the initial statistics keep "
      f"{KERAS_MOMENTUM ** run_steps:.0%} of the moving averages; momentum_for_steps gives "
      f"{momentum_for_steps(run_steps):.3f}")
experiment.summarize(trap, metrics=("train_accuracy", "val_accuracy")).round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
for ax, (name, result) in zip(axes, trap.items()):
    plot_learning_curves(result.histories, ax=ax, title=name)
fig.suptitle(f"ResNet-8, {len(splits.train[0]):,} MNIST digits, {run_steps} steps, {len(TRAP_SEEDS)} seeds")
fig.tight_layout()
plt.show()

# %% [markdown]
# The training accuracy is the same in the three versions: it is measured in
# training mode, with each batch's statistics. With Keras's momentum the
# validation accuracy lags far behind it. The network is judged with moving
# statistics that still hold much of their starting values. A momentum suited
# to the run, or statistics re-estimated after it, close the gap without
# changing a single weight.
#
# The recorded study `batchnorm_trap` ran the same three versions with five
# seeds (`python scripts/train_study.py batchnorm_trap`). We compare each fix
# with Keras's momentum, seed by seed, on the validation images (notebook 01
# explains the 95 % interval).

# %%
study = studies.load("batchnorm_trap")
final = studies.final(study)
validation = final["validation_accuracy"].unstack("variant")
fixes = {name: comparison.paired_comparison(validation[name] - validation["keras-momentum"],
                                            baseline="Keras's momentum", treatment=name)
         for name in ("momentum-for-the-run", "re-estimated")}
for result in fixes.values():
    print(result)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
comparison.plot_paired(100 * validation[["keras-momentum", "momentum-for-the-run", "re-estimated"]], ax=ax,
                       ylabel="validation accuracy (%)", title="batchnorm_trap: every seed, three versions")
plt.show()
lag = final.xs("keras-momentum", level="variant")
final[["train_accuracy", "validation_accuracy"]].groupby("variant", sort=False).mean().round(3)

# %% [markdown]
# Every recorded network has learned: over 90 % training accuracy on every
# seed. Yet with Keras's momentum its validation accuracy falls far short, and
# by a different amount on each seed: how far depends on where the weights
# ended up. Both fixes are a clear effect: their intervals lie well above zero.

# %% tags=["hide-input"]
assert (final["train_accuracy"] > 0.9).all(), final["train_accuracy"]
for result in fixes.values():
    assert result.clear and result.mean > 0, result
assert (lag["train_accuracy"] > lag["validation_accuracy"]).all(), lag
live = {name: result.scores for name, result in trap.items()}
assert (live["Keras's momentum (0.99)"]["val_accuracy"] < live["momentum for the run"]["val_accuracy"]).all()
print("Check: every recorded network passes 90 % training accuracy; both fixes raise the validation accuracy "
      "over Keras's momentum, a clear effect; and the live runs show the same lag on every seed.")

# %% [markdown]
# **A third case: frozen backbones.** When a pre-trained network is reused as a
# frozen feature extractor, its BatchNormalization layers must stay in
# inference mode, with the statistics of the data it was trained on. In
# training mode they would normalise with the statistics of each small batch
# of the new data, and drift towards them. Notebook 12 measures it on the
# course's backbone (section 3) and shows how `build_transfer_model` keeps them
# in inference mode for good.
#
# ## 5. What BatchNormalization buys: the learning-rate range test
#
# Why put up with these subtleties? Because a network whose layers are
# normalised trains over a much wider range of learning rates, and at depths
# where an unnormalised plain network hardly trains. A **learning-rate range
# test** shows it in a few dozen steps (`experiment.learning_rate_range_test`,
# Smith, 2017): one short run in which the learning rate grows geometrically
# from $10^{-4}$ to 10, recording the loss of each batch. The loss stays flat
# while the rate is too small, falls where the rate trains, and explodes where
# it is too large. The width of the falling part is the range of usable rates.
#
# We test a plain network (no shortcuts) of `PLAIN_DEPTH` 3x3 convolutions
# with ReLU, with and without BatchNormalization after each convolution. It has
# 32 filters per layer, and the resolution halves after a third and two thirds
# of the layers. Global average pooling and a dense classifier close it. A
# shallow network of 3 convolutions is the control. The data: 1,000 CIFAR-10
# training images.

# %%
def plain_network(depth, batch_norm, width=32):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for i in range(depth):
        strides = 2 if i in (depth // 3, 2 * depth // 3) and depth > 3 else 1
        x = keras.layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


cifar = experiment.load_splits("cifar10", validation_size=1000, train_per_class=100, test_per_class=100)
range_tests, rows = {}, []
for depth in (3, PLAIN_DEPTH):
    for batch_norm in (False, True):
        label = f"{depth} convolutions, {'with' if batch_norm else 'without'} BN"
        for seed in SEEDS:
            keras.utils.set_random_seed(seed)
            table = experiment.learning_rate_range_test(plain_network(depth, batch_norm), *cifar.train,
                                                        min_lr=1e-4, max_lr=10.0, steps=RANGE_STEPS, seed=seed)
            range_tests[label, seed] = table
            smoothed = table["smoothed_loss"]
            start = smoothed.iloc[:5].mean()
            rows.append({"network": label, "seed": seed, "loss at the start": start,
                         "lowest loss": smoothed.min(), "fall": start - smoothed.min(),
                         "rate at the lowest loss": table["learning_rate"][smoothed.idxmin()],
                         "exploded before 10": len(table) < RANGE_STEPS})
range_runs = pd.DataFrame(rows)
range_summary = range_runs.groupby("network", sort=False).agg(
    fall_mean=("fall", "mean"), fall_std=("fall", "std"), lowest_loss=("lowest loss", "mean"),
    median_best_rate=("rate at the lowest loss", "median"), runs_exploded=("exploded before 10", "sum"))
range_summary.round(3)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
for label in range_summary.index:
    table = range_tests[label, SEEDS[0]]
    style = "-" if "with BN" in label else "--"
    ax.plot(table["learning_rate"], table["smoothed_loss"], style, label=label)
ax.set_xscale("log")
ax.set_ylim(1.8, 3.2)
ax.axhline(np.log(10), color="gray", linestyle=":", linewidth=1)
ax.set_xlabel("learning rate (log scale)")
ax.set_ylabel("training loss (smoothed cross-entropy)")
ax.set_title(f"Learning-rate range test, seed {SEEDS[0]}: {RANGE_STEPS} steps from 1e-4 to 10 (dotted: ln 10)")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Read the table and the curves together. Without BatchNormalization, the
# 12-layer plain network does not learn at any rate of the range. Its loss
# stays at $\ln 10 \approx 2.30$, the loss of a uniform guess over ten
# classes, until the rates grow large enough to disturb it. With
# BatchNormalization after each convolution, the same network's loss falls
# over a wide band of rates, and no run explodes up to a rate of 10.
#
# At 3 layers the unnormalised network does learn a little. But
# BatchNormalization makes its loss fall more than twice as far. The
# unnormalised runs are the only ones that can explode before the end of the
# range (the last column counts them). Normalised layers keep the scale of the activations and of the
# gradients under control whatever the weights do, which is what lets large
# learning rates and deep stacks train.
#
# **Check.** On every seed, the loss falls further with BatchNormalization than
# without, at both depths (more than twice as far at 3 layers). The 12-layer
# network without it does not learn: its loss falls by less than 0.01. No run
# with BatchNormalization explodes.

# %%
falls = range_runs.pivot(index="seed", columns="network", values="fall")
for depth in (3, PLAIN_DEPTH):
    with_bn, without_bn = falls[f"{depth} convolutions, with BN"], falls[f"{depth} convolutions, without BN"]
    assert (with_bn > 2 * without_bn).all(), falls
assert (falls[f"{PLAIN_DEPTH} convolutions, without BN"] < 0.01).all(), falls
assert not range_runs.loc[range_runs["network"].str.contains("with BN"), "exploded before 10"].any(), range_runs
print(falls.round(3).to_string())

# %% [markdown]
# ## Summary
#
# - BatchNormalization normalises each channel with the batch's mean and
#   variance in training, then applies a learned scale and offset. Its backward
#   pass carries the gradient through the batch statistics
#   (`ops.batchnorm_forward`, `ops.batchnorm_backward`, checked against Keras,
#   autodiff and numerical gradients).
# - In inference mode it uses moving statistics, updated with a momentum (0.99
#   in Keras) from a start of 0 and 1; after $n$ steps the start still weighs
#   $m^n$.
# - A short training evaluated with those statistics lags far behind its
#   training accuracy, even when the network has learned (over 90 % training
#   accuracy in 96 steps). A momentum suited to the run (`momentum_for_steps`,
#   the recipe's default) or re-estimated statistics
#   (`recompute_batchnorm_statistics`) fix it without changing a weight: a
#   clear effect over five seeds of the recorded study.
# - Frozen backbones keep their BatchNormalization in inference mode (notebook
#   12).
# - In a learning-rate range test (`learning_rate_range_test`), a 12-layer plain
#   network does not learn at any rate without BatchNormalization. With it, the
#   network learns over a wide band of rates. At 3 layers it makes the loss fall
#   further and keeps large rates from exploding.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★ **By hand (pen and paper).** For one channel with values 1, 2, 3, 6 in
#    the batch, $\gamma = 2$, $\beta = 1$ and $\epsilon = 0$, compute the
#    outputs in training mode. *Hint:* mean 3, variance 3.5.
# 2. ★ **The forgetting curve (pen and paper).** How many steps does momentum
#    0.9 need to leave 1 % of the initial statistics? And 0.999? *Hint:* solve
#    $m^n = 0.01$.
# 3. ★★ **Batch size.** Repeat section 4 with batches of 8 and of 128 (same
#    epochs). Which one suffers more from the trap, and why? *Hint:* count the
#    steps.
# 4. ★★ **The range test in practice.** Run `learning_rate_range_test` on
#    `resnet_cifar(20)` and pick a learning rate from the curve; train with it
#    for 5 epochs and compare with the recipe's 0.1. *Hint:* choose a rate about
#    ten times below the minimum of the curve.
# 5. ★★★ **Batch statistics at test time.** Evaluate a trained ResNet-8 in
#    training mode (`model(x, training=True)`) on test batches of 2, 16 and
#    256 images. How does the accuracy depend on the batch size, and why is that
#    a reason for inference mode? *Hint:* with 2 images the batch mean is
#    almost one of them.
