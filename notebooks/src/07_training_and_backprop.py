# %% [markdown]
# # 07 · Training and backpropagation
#
# A CNN learns its kernels by gradient descent: run the images forward, measure the
# loss, compute the gradient of the loss with respect to every weight, and step
# against it. This notebook opens the box:
#
# - it computes the gradients of a convolution and of max pooling from scratch;
# - it checks them against automatic differentiation and against finite
#   differences;
# - it rebuilds `model.fit` as a short training loop that gives the same numbers.
#
# **Learning objectives.** After this notebook you can
#
# 1. write the gradient-descent update and say what automatic differentiation
#    computes for it;
# 2. derive the backward pass of a convolution (input, kernel and bias gradients) and
#    of max pooling (the gradient goes to the arg-max);
# 3. check any gradient with a numerical (finite-difference) gradient and a relative
#    error;
# 4. chain the backward passes of conv, ReLU, pooling and dense layers by hand and
#    match `tf.GradientTape`;
# 5. write a custom training loop that reproduces `model.fit` exactly.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# **Parameters.** The CPU settings below keep the notebook within about two minutes
# on a 2-core laptop. The comments give larger settings for a GPU.

# %%
TRAIN_PER_CLASS = 100  # MNIST training images per class (GPU: 1000)
BATCH_SIZE = 50  # must divide the number of training images (GPU: 100)
EPOCHS = 3  # (GPU: 10)
LEARNING_RATE = 0.1  # plain SGD, no momentum

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.signal
import tensorflow as tf

from course_lib import data, ops
from course_lib.autodiff import value_and_gradient
from course_lib.gradcheck import normwise_relative_error, numerical_gradient, relative_error

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Gradient descent and automatic differentiation
#
# Training minimises a loss $L(\theta)$, the average over a batch of a per-example
# error such as the cross-entropy, with respect to all weights $\theta$ (kernels,
# biases, dense weights). **Gradient descent** repeats
#
# $$\theta \leftarrow \theta - \eta \, \nabla_\theta L(\theta)$$
#
# with a learning rate $\eta$. *Stochastic* gradient descent (SGD) uses a new batch of
# examples at every step. The network is a composition of layers,
# $L = \ell(f_n(\dots f_2(f_1(x))))$, so the chain rule gives the gradient layer by
# layer, from the loss back to the input: this is **backpropagation**. Each layer only
# needs a *backward* function. Given $\partial L / \partial \text{output}$ (the
# upstream gradient, `dout`), it returns $\partial L / \partial \text{input}$ and
# $\partial L / \partial \text{weights}$.
#
# **Automatic differentiation** (TensorFlow's `GradientTape`, `jax.grad`, PyTorch's
# `autograd`) records the forward operations and runs their backward functions in
# reverse order. That is exactly backpropagation, for any program. We now write two
# backward functions by hand and check them against it.
#
# ## 2. The gradient of a convolution
#
# A conv layer computes $y[n, p, q, f] = b[f] + \sum_{i, j, c} x[n, p s + i, q s + j, c]\, K[i, j, c, f]$
# (on the padded input, stride $s$). Every weight appears in many outputs, so its
# gradient sums over them:
#
# - $\partial L/\partial b[f] = \sum_{n,p,q} \text{dout}[n,p,q,f]$;
# - $\partial L/\partial K[i,j,c,f] = \sum_{n,p,q} x[n, ps+i, qs+j, c]\; \text{dout}[n,p,q,f]$:
#   a correlation of the input with `dout`;
# - $\partial L/\partial x[n, r, t, c]$ collects $\text{dout}[n,p,q,f]\,K[i,j,c,f]$ from
#   every output that read pixel $(r, t)$: at stride 1 this is a **full convolution** of
#   `dout` with the kernel.
#
# `ops.conv2d_backward` implements these three sums without pixel loops. We check it
# twice:
#
# - against TensorFlow's autodiff through a Keras `Conv2D`, in float64, so that
#   rounding does not hide a mistake;
# - against a **numerical gradient**, the central difference
#   $\big(L(\theta + h e_k) - L(\theta - h e_k)\big) / 2h$ for every weight $k$.
#   It needs no calculus at all, only two forward passes per weight.
#   `course_lib.gradcheck.numerical_gradient` loops over the weights (read it with
#   `numerical_gradient??`).
#
# The loss is $L = \sum y \odot \text{dout}$ for a random `dout`, whose gradient
# with respect to $y$ is `dout`.
#
# Two gradients are compared with **CS231n's relative error**,
# `relative_error(a, b)` $= \max_k \dfrac{|a_k - b_k|}{\max(|a_k| + |b_k|,\ \varepsilon)}$,
# with $\varepsilon = 10^{-12}$ so that two zeros agree. Every entry is measured against
# its own size, and the worst entry counts, so a wrong entry shows however small it is.

# %%
def conv_gradients(padding, strides):
    """conv2d_backward vs autodiff vs numerical gradients; returns the relative errors."""
    x = rng.normal(size=(2, 7, 7, 3))
    kernel = rng.normal(size=(3, 3, 3, 4))
    bias = rng.normal(size=4)
    dout = rng.normal(size=ops.conv2d_forward(x, kernel, bias, padding, strides).shape)
    dx, dkernel, dbias = ops.conv2d_backward(dout, x, kernel, padding, strides)

    layer = keras.layers.Conv2D(4, 3, strides=strides, padding=padding, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    _, dx_auto = value_and_gradient(lambda t: keras.ops.sum(layer(t) * dout), x)
    _, dkernel_auto = value_and_gradient(
        lambda k: keras.ops.sum(keras.ops.conv(x, k, strides=strides, padding=padding) * dout), kernel)

    def loss(x_, kernel_, bias_):
        return np.sum(ops.conv2d_forward(x_, kernel_, bias_, padding, strides) * dout)

    dx_num = numerical_gradient(lambda t: loss(t, kernel, bias), x.copy())
    dkernel_num = numerical_gradient(lambda k: loss(x, k, bias), kernel.copy())
    dbias_num = numerical_gradient(lambda b: loss(x, kernel, b), bias.copy())
    return {
        "dx vs autodiff": relative_error(dx, dx_auto), "dx vs numerical": relative_error(dx, dx_num),
        "dkernel vs autodiff": relative_error(dkernel, dkernel_auto),
        "dkernel vs numerical": relative_error(dkernel, dkernel_num),
        "dbias vs numerical": relative_error(dbias, dbias_num),
    }


conv_errors = pd.DataFrame(
    {f"{padding}, strides {strides}": conv_gradients(padding, strides)
     for padding, strides in [("valid", 1), ("same", 1), ("same", 2)]}
)
print(conv_errors.to_string(float_format="{:.1e}".format))

# %% [markdown]
# **Check.** Autodiff may differ from the hand-written gradients by rounding
# only; the numerical gradient also by its finite-difference error. CS231n's rule
# of thumb says to be happy below $10^{-7}$; above $10^{-4}$ there is usually a
# bug.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
autodiff_rows = conv_errors.index.str.contains("autodiff")
assert (conv_errors[autodiff_rows] < 1e-12).all().all()
assert (conv_errors[~autodiff_rows] < 1e-7).all().all()
x_one, kernel_one = rng.normal(size=(1, 8, 8, 1)), rng.normal(size=(3, 3, 1, 1))
dout_one = rng.normal(size=(1, 6, 6, 1))
dx_one, _, _ = ops.conv2d_backward(dout_one, x_one, kernel_one)
full_convolution = scipy.signal.convolve2d(dout_one[0, :, :, 0], kernel_one[:, :, 0, 0], mode="full")
assert relative_error(dx_one[0, :, :, 0], full_convolution) < 1e-12
print("Check: in float64, conv2d_backward matches autodiff (relative error below 1e-12) and the numerical "
      "gradient (below 1e-7); for one channel and one filter at stride 1, dx is the full convolution "
      "of dout with the kernel (SciPy's convolve2d).")

# %% [markdown]
# ## 3. The gradient of max pooling
#
# Max pooling outputs the largest entry of each window. A small change of any other
# entry does not change the maximum, so its derivative is 0; the maximal entry passes
# its change through unchanged, derivative 1. The backward pass therefore **routes
# each output's gradient to the arg-max of its window**, and sends 0 everywhere
# else. When windows overlap (stride smaller than the window), a pixel that is the
# maximum of several windows receives the sum of their gradients.
#
# **Ties.** If several entries share the maximum, the function is not differentiable
# there. TensorFlow, JAX and PyTorch all give the whole gradient to the *first*
# maximal entry of the window in row-major order (top row first, left to right).
# `ops.max_pool2d_backward` does the same. Here we check it on TensorFlow.

# %%
x_pool = rng.permutation(36).reshape(1, 6, 6, 1).astype(np.float64)  # no ties
pooled = ops.max_pool2d_forward(x_pool, pool_size=2)
dout_pool = np.arange(1.0, pooled.size + 1).reshape(pooled.shape)  # 1, 2, ..., 9
dx_pool = ops.max_pool2d_backward(dout_pool, x_pool, pool_size=2)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
panels = [(x_pool, "input x (6x6), 2x2 windows"), (dout_pool, "upstream gradient dout (3x3)"),
          (dx_pool, "dx: dout routed to each arg-max")]
for ax, (array, title) in zip(axes, panels):
    ax.imshow(array[0, :, :, 0], cmap="Blues")
    for (r, c), value in np.ndenumerate(array[0, :, :, 0]):
        ax.text(c, r, f"{value:g}", ha="center", va="center", fontsize=9)
    if array.shape[1] == 6:
        for k in range(1, 3):
            ax.axhline(2 * k - 0.5, color="red")
            ax.axvline(2 * k - 0.5, color="red")
    ax.set_title(title)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
fig.suptitle("Max-pooling backward: each window's gradient goes to its largest entry")
plt.show()

# %% [markdown]
# Now the checks:
#
# - against autodiff of `keras.layers.MaxPooling2D` (float64) and the numerical
#   gradient, for non-overlapping and overlapping windows;
# - on inputs without ties: a random permutation, so every window has one maximum;
# - the tie rule, on a window of four equal values.

# %%
pool_rows = []
for pool_size, strides in [(2, None), (3, 2), (2, 1)]:
    x = rng.permutation(2 * 8 * 8 * 3).reshape(2, 8, 8, 3).astype(np.float64)
    dout = rng.normal(size=ops.max_pool2d_forward(x, pool_size, strides).shape)
    dx = ops.max_pool2d_backward(dout, x, pool_size, strides)
    layer = keras.layers.MaxPooling2D(pool_size, strides=strides, dtype="float64")
    _, dx_auto = value_and_gradient(lambda t: keras.ops.sum(layer(t) * dout), x)
    dx_num = numerical_gradient(
        lambda t: np.sum(ops.max_pool2d_forward(t, pool_size, strides) * dout), x.copy(), h=1e-3)
    pool_rows.append({"pool_size": pool_size, "strides": strides or pool_size,
                      "vs autodiff": relative_error(dx, dx_auto), "vs numerical": relative_error(dx, dx_num),
                      "non-zeros in dx": int((dx != 0).sum()), "windows": dout.size})
pool_errors = pd.DataFrame(pool_rows)
print(pool_errors.to_string(index=False, float_format="{:.1e}".format))

tie = np.ones((1, 2, 2, 1))
tie_mine = ops.max_pool2d_backward(np.ones((1, 1, 1, 1)), tie)
_, tie_auto = value_and_gradient(lambda t: keras.ops.sum(keras.layers.MaxPooling2D(2)(t)), tie)
print("tie, from scratch:", tie_mine[0, :, :, 0].tolist(), "| TensorFlow:", tie_auto[0, :, :, 0].tolist())

# %% [markdown]
# **Check.** Max pooling is linear near a tie-free input, so the numerical
# gradient differs only by the rounding of the finite differences. Each window
# sends its gradient to one pixel. With overlapping windows, some pixels win
# several windows, so `dx` has fewer non-zeros than there are windows.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert (pool_errors["vs autodiff"] < 1e-12).all()
assert (pool_errors["vs numerical"] < 1e-7).all()
no_overlap = pool_errors["strides"] >= pool_errors["pool_size"]
assert (pool_errors.loc[no_overlap, "non-zeros in dx"] == pool_errors.loc[no_overlap, "windows"]).all()
assert (pool_errors.loc[~no_overlap, "non-zeros in dx"] < pool_errors.loc[~no_overlap, "windows"]).all()
assert np.array_equal(tie_mine, tie_auto) and tie_mine[0, 0, 0, 0] == 1 and tie_mine.sum() == 1
for (p, q), value in np.ndenumerate(dout_pool[0, :, :, 0]):  # the picture: one entry per window
    window_x, window_dx = x_pool[0, 2 * p:2 * p + 2, 2 * q:2 * q + 2, 0], dx_pool[0, 2 * p:2 * p + 2, 2 * q:2 * q + 2, 0]
    assert window_dx[np.unravel_index(window_x.argmax(), (2, 2))] == value == window_dx.sum()
nonzeros = {overlap: ", ".join(f"{int(row['non-zeros in dx'])} of {int(row['windows'])}"
                                 for _, row in pool_errors[no_overlap != overlap].iterrows())
            for overlap in (False, True)}
print("Check: max-pooling gradients match autodiff (relative error below 1e-12) and numerical gradients "
      f"(below 1e-7); dx has as many non-zeros as windows without overlap ({nonzeros[False]}), fewer with "
      f"overlap ({nonzeros[True]}); on a tie, both give everything to the top-left entry.")

# %% [markdown]
# ## 4. Backpropagation through a whole CNN, by hand
#
# We chain the backward passes through a small network on a batch of MNIST digits:
# conv 3x3 (8 filters) → ReLU → max pool 2x2 → flatten → dense (10 logits) →
# softmax cross-entropy. Backwards, starting from the loss:
#
# 1. cross-entropy of the softmax: $\partial L / \partial z = (\text{softmax}(z) - \text{onehot}(y)) / N$;
# 2. dense layer $z = a W + c$: $\partial L/\partial W = a^\top \, \partial L/\partial z$,
#    $\partial L/\partial c = \sum_n \partial L/\partial z$, $\partial L/\partial a = \partial L/\partial z\, W^\top$;
# 3. flatten: reshape the gradient back to the pooled volume (Keras flattens in
#    row-major order, `reshape` in NumPy);
# 4. max pooling: `ops.max_pool2d_backward`;
# 5. ReLU: multiply by 1 where the conv output was positive, 0 elsewhere;
# 6. convolution: `ops.conv2d_backward`.
#
# The same network in Keras gives the reference gradients with `tf.GradientTape`.

# %%
(x_train_full, y_train_full), (x_test_full, y_test_full) = data.load_mnist()
x_train, y_train = data.subset(x_train_full, y_train_full, per_class=TRAIN_PER_CLASS, seed=0)
x_test, y_test = data.subset(x_test_full, y_test_full, per_class=50, seed=0)
x_train = (x_train[..., None] / 255.0).astype("float32")
x_test = (x_test[..., None] / 255.0).astype("float32")

tiny = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(10, name="dense"),
])
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
x_batch, y_batch = x_train[:32], y_train[:32]
with tf.GradientTape() as tape:
    tape_loss = loss_fn(y_batch, tiny(x_batch))
layer_and_weight = ["/".join(v.path.split("/")[-2:]) for v in tiny.trainable_variables]  # "conv/kernel"
tape_grads = dict(zip(layer_and_weight, tape.gradient(tape_loss, tiny.trainable_variables)))

# The same forward and backward passes in NumPy (float64).
kernel, conv_bias = (w.astype(np.float64) for w in tiny.get_layer("conv").get_weights())
dense_w, dense_b = (w.astype(np.float64) for w in tiny.get_layer("dense").get_weights())
x64 = x_batch.astype(np.float64)
conv_out = ops.conv2d_forward(x64, kernel, conv_bias)
relu_out = np.maximum(conv_out, 0)
pool_out = ops.max_pool2d_forward(relu_out, 2)
flat = pool_out.reshape(len(x64), -1)
logits = flat @ dense_w + dense_b
shifted = logits - logits.max(axis=1, keepdims=True)
probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
numpy_loss = -np.mean(np.log(probs[np.arange(len(y_batch)), y_batch]))

dlogits = (probs - np.eye(10)[y_batch]) / len(y_batch)
grads = {"dense/kernel": flat.T @ dlogits, "dense/bias": dlogits.sum(axis=0)}
dpool = (dlogits @ dense_w.T).reshape(pool_out.shape)
drelu = ops.max_pool2d_backward(dpool, relu_out, 2)
dconv = drelu * (conv_out > 0)
_, grads["conv/kernel"], grads["conv/bias"] = ops.conv2d_backward(dconv, x64, kernel)

backprop_errors = pd.Series({name: normwise_relative_error(grads[name], tape_grads[name]) for name in grads},
                            name="normwise relative error vs GradientTape")
print(f"loss: NumPy {numpy_loss:.6f}, Keras {float(tape_loss):.6f}")
print(backprop_errors.to_string(float_format="{:.1e}".format))

# %% [markdown]
# **Check.** Keras computes in float32, whose rounding errors scale with the
# largest entries of a tensor, not with each entry. Entry by entry, CS231n's
# relative error of a tiny gradient entry would be large from rounding alone. We
# compare with the **normwise relative error**,
# `normwise_relative_error(a, b)` $= \max_k |a_k - b_k| \,/\, \max_k (|a_k| + |b_k|)$:
# the largest difference relative to the largest entry.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert abs(numpy_loss - float(tape_loss)) < 1e-5
assert set(grads) == set(tape_grads)
assert (backprop_errors < 1e-5).all()
print(f"Check: the hand-chained gradients of {', '.join(sorted(grads))} match GradientTape "
      "(normwise relative error below 1e-5), and so does the loss.")

# %% [markdown]
# ## 5. A custom training loop against `model.fit`
#
# `model.fit` hides a loop. For each epoch and each batch, it computes the loss under a
# `GradientTape`, takes the gradient with respect to the trainable weights, and lets the
# optimizer apply the update. Writing that loop yourself is how you customise training
# (several losses, gradient clipping, GANs...). To show that nothing else happens, we
# train two copies of the same CNN on the same MNIST subset, with:
#
# - the same initial weights (the second model receives the first one's weights);
# - the same batches in the same order (`shuffle=False`, and a loop over consecutive
#   slices);
# - the same optimizer: plain SGD with the learning rate of the parameters cell.
#
# We turn off XLA compilation in `compile` (`jit_compile=False`) so that both run the
# same TensorFlow kernels. `fit` still wraps its step in a `tf.function` graph.

# %%
def make_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])


keras.utils.set_random_seed(0)
model_fit = make_cnn()
model_loop = make_cnn()
initial_weights = model_fit.get_weights()
model_loop.set_weights(initial_weights)
steps_per_epoch = len(x_train) // BATCH_SIZE
assert steps_per_epoch * BATCH_SIZE == len(x_train), "BATCH_SIZE must divide the training set"


class BatchLosses(keras.callbacks.Callback):
    """Records the loss that fit reports after every batch."""

    def on_train_begin(self, logs=None):
        self.running_means = []

    def on_train_batch_end(self, batch, logs=None):
        self.running_means.append(logs["loss"])


model_fit.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
recorder = BatchLosses()
history = model_fit.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=False,
                        verbose=0, callbacks=[recorder])

# %% [markdown]
# The custom loop: nothing but the tape, the gradient and the optimizer.

# %%
optimizer = keras.optimizers.SGD(LEARNING_RATE)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
loop_losses = []  # loss of every batch, before its update
for epoch in range(EPOCHS):
    for step in range(steps_per_epoch):
        batch = slice(step * BATCH_SIZE, (step + 1) * BATCH_SIZE)
        with tf.GradientTape() as tape:
            loss = loss_fn(y_train[batch], model_loop(x_train[batch], training=True))
        gradients = tape.gradient(loss, model_loop.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model_loop.trainable_variables))
        loop_losses.append(float(loss))
loop_losses = np.array(loop_losses).reshape(EPOCHS, steps_per_epoch)

# %% [markdown]
# After each batch, `fit` reports the *running mean* of the epoch's batch losses. The
# mean over all batches of an epoch is `history.history["loss"]`. We recover each
# batch's loss from the running means ($\ell_b = b\,m_b - (b-1)\,m_{b-1}$) and compare
# everything.

# %%
running = np.array(recorder.running_means).reshape(EPOCHS, steps_per_epoch)
counts = np.arange(1, steps_per_epoch + 1)
fit_losses = running * counts - np.concatenate([np.zeros((EPOCHS, 1)), running[:, :-1] * counts[:-1]], axis=1)
fit_epoch_loss = np.array(history.history["loss"])
loop_epoch_loss = loop_losses.mean(axis=1)
weight_error = max(normwise_relative_error(a, b) for a, b in zip(model_fit.get_weights(), model_loop.get_weights()))
moved = min(normwise_relative_error(a, b) for a, b in zip(model_fit.get_weights(), initial_weights))
test_acc = {name: float(np.mean(np.argmax(m.predict(x_test, verbose=0), axis=1) == y_test))
            for name, m in [("fit", model_fit), ("custom loop", model_loop)]}
print(pd.DataFrame({"fit": fit_epoch_loss, "custom loop": loop_epoch_loss},
                   index=pd.RangeIndex(1, EPOCHS + 1, name="epoch")).to_string(float_format="{:.6f}".format))
print(f"largest relative difference of the final weights: {weight_error:.1e}")
print(f"smallest relative change of a weight tensor during training: {moved:.1e}")
print("test accuracy on 500 images:", {k: f"{v:.3f}" for k, v in test_acc.items()})

# %%
fig, ax = plt.subplots(figsize=(8, 3.8))
step_axis = np.arange(1, EPOCHS * steps_per_epoch + 1)
ax.plot(step_axis, loop_losses.ravel(), label="custom loop (GradientTape)", linewidth=3, alpha=0.5)
ax.plot(step_axis, fit_losses.ravel(), label="model.fit", linestyle="--", color="black")
ax.plot(np.arange(1, EPOCHS + 1) * steps_per_epoch, fit_epoch_loss, "o", color="red",
        label="fit: epoch mean (history)")
ax.set_xlabel("training step (batch)")
ax.set_ylabel("cross-entropy loss (nats)")
ax.set_title(f"Same weights, batches and SGD: the two curves coincide ({len(x_train)} MNIST images)")
ax.legend()
plt.show()

# %% [markdown]
# **Check.** The two runs agree to within $10^{-4}$, not bit for bit. `fit` runs
# its step as a compiled TensorFlow graph and our loop runs eagerly. A few float32
# operations may round differently (around $10^{-7}$ each), and such differences
# grow slowly over the steps. $10^{-4}$ leaves room for that. Yet a single
# differing batch, learning rate or initial weight would break it by orders of
# magnitude.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert normwise_relative_error(fit_losses, loop_losses) < 1e-4
assert normwise_relative_error(fit_epoch_loss, loop_epoch_loss) < 1e-4
assert weight_error < 1e-4
assert moved > 1e-2
assert loop_epoch_loss[-1] < loop_epoch_loss[0]
print(f"Check: over {EPOCHS} epochs x {steps_per_epoch} steps, fit and the custom loop give the same per-batch "
      "losses, epoch means and final weights (normwise relative difference below 1e-4); training moved every "
      "weight tensor by more than 1e-2, and the loss went down.")

# %% [markdown]
# ## Summary
#
# - Training is gradient descent, $\theta \leftarrow \theta - \eta\nabla_\theta L$;
#   backpropagation applies the chain rule layer by layer, and automatic
#   differentiation does it for any program.
# - The conv layer's gradients are sums over the outputs each weight touches. The
#   kernel gradient correlates the input with `dout`; the input gradient is a full
#   convolution of `dout` with the kernel (at stride 1); the bias gradient sums `dout`.
# - Max pooling sends each window's gradient to its arg-max (ties: the first maximal
#   entry, in every backend), and overlapping windows add up.
# - A numerical gradient and CS231n's relative error (entry by entry, the worst entry)
#   check any backward pass; in float64 the relative errors here stay below $10^{-7}$.
#   Computations in float32 are compared normwise, against their largest entry.
# - `model.fit` is a loop of `GradientTape`, `gradient` and `apply_gradients`: with
#   the same weights, batches and optimizer a custom loop reproduces it.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★★ **Average pooling backward.** Write the backward pass of average pooling (each
#    window spreads its gradient evenly over its entries) and check it against
#    autodiff of `keras.layers.AveragePooling2D`. *Hint:* with
#    `ops.max_pool2d_backward` as a model, replace the arg-max by a division by the
#    window size, and use `np.add.at` for overlapping windows.
# 2. ★★★ **Strided input gradient.** At stride 1, `dx` is the full convolution of `dout`
#    with the kernel (section 2). Show that at stride 2 ("valid") it is the full
#    convolution of a *dilated* `dout`, with a zero inserted between neighbouring
#    entries. *Hint:* `dilated = np.zeros((2 * h - 1, 2 * w - 1)); dilated[::2, ::2] = dout`,
#    and pad the result with zeros where the last input rows are read by no window.
# 3. ★ **Break the gradient check.** Introduce a bug in a copy of the hand-written
#    backprop of section 4 (for example forget the ReLU mask) and look at the relative
#    errors. *Hint:* without the bug they stay below $10^{-5}$; which layers move, and
#    by how much?
# 4. ★★ **Momentum.** Replace SGD by `keras.optimizers.SGD(LEARNING_RATE, momentum=0.9)`
#    in both runs of section 5. Does the custom loop still match `fit`? What state does
#    the optimizer keep? *Hint:* `optimizer.variables`.
# 5. ★★ **Shuffling.** Train `model_fit` again with `shuffle=True`. Why do the two runs
#    now differ, and how would you make the loop shuffle the same way? *Hint:* draw the
#    permutation of each epoch yourself with `np.random.default_rng(seed)` and pass the
#    permuted data to `fit` one epoch at a time.
# 6. ★ **Max pooling backward by hand (pen and paper).** Take the 4x4 input
#    `x = [[1, 5, 2, 0], [3, 2, 7, 1], [4, 8, 6, 6], [0, 2, 3, 1]]` and the
#    upstream gradient `dout = [[1, -2], [3, 4]]`. Write `dx` for a 2x2 max
#    pooling with stride 2, then for 3x3 windows with stride 1 (the output is
#    2x2 again, so the same `dout` applies). How many entries of `dx` are
#    non-zero in each case? Check with `ops.max_pool2d_backward`, with `x` and
#    `dout` as arrays of shape (1, rows, columns, 1).
#
#    *Hint:* send each entry of `dout` to the arg-max of its window. In a tie, the
#    first maximal entry in row-major order wins. Where windows overlap, a pixel
#    adds up what it receives.
#
# ## Under the hood
#
# The tie rule of max pooling is checked here on TensorFlow only. The course's
# unit tests of `course_lib.ops` (`tests/lib/test_ops.py`) check it on all three
# backends: TensorFlow, JAX and PyTorch.
