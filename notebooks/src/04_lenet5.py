# %% [markdown]
# # 04 · LeNet-5
#
# LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) read the digits on bank cheques
# in the 1990s. It already has everything a modern CNN has:
#
# - convolutions that share their weights;
# - subsampling;
# - a stack of layers that grows in depth as it shrinks in space;
# - a classifier on top.
#
# All of it is trained end to end by backpropagation.
#
# **Learning objectives.** After this notebook you can
#
# 1. build LeNet-5 with `course_lib.models.lenet5` and read its layers, output
#    shapes and parameter counts;
# 2. compute where the parameters sit (the fully connected layers) and where the
#    computation sits (the convolutions);
# 3. train it on the full MNIST training set to at least 99% test accuracy on a CPU;
# 4. read training curves, a confusion matrix and the misclassified digits.

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
# These settings train for about half a minute on an idle 2-core CPU. On a GPU,
# try the larger settings in the comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
EPOCHS = 10  # (GPU: 30)
BATCH_SIZE = 128  # (GPU: 128)
LEARNING_RATE = 2e-3  # Adam's initial step size, decayed to 0 along a cosine

# %% [markdown]
# ## 1. The architecture
#
# LeNet-5 alternates convolutions (C) and subsamplings (S), then classifies with
# fully connected layers (F). The paper's names give each layer's kind and position:
#
# - **C1**: 6 filters of 5x5 over the image;
# - **S2**: 2x2 subsampling with stride 2, which halves the rows and columns;
# - **C3**: 16 filters of 5x5 over the 6 maps of S2;
# - **S4**: 2x2 subsampling again;
# - **C5**: 120 units, each connected to all 5x5x16 values of S4 (the paper calls
#   it a convolution, but its 5x5 filters cover the whole input, so it is a dense
#   layer on the flattened S4);
# - **F6**: 84 units, then the 10 outputs.
#
# The paper's input is a 32x32 image: the 28x28 digit in a border of 2 zero
# pixels. `lenet5` takes MNIST's 28x28 images directly and pads them inside C1.
# For a 5x5 filter, "same" padding adds exactly that 2-pixel border. The model
# uses ReLU and max pooling, which train faster than the paper's scaled tanh and
# trainable average subsampling (see its docstring).
#
# The diagram draws `lenet5()` from left to right: watch the maps shrink from
# 28x28 to 5x5 while their number grows from 6 to 16.

# %%
from course_lib import diagrams

diagrams.show(diagrams.lenet5())  # lenet5() with its defaults: the model built below

# %% [markdown]
# `course_lib.analysis.layer_table` lists, for each layer:
#
# - its type;
# - the window and stride of the convolutions and poolings;
# - the output shape and the parameters;
# - the multiply-adds for one image (`macs`);
# - the receptive field: the patch of the input one output unit depends on
#   (notebook 06 computes it).

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn.model_selection import train_test_split

from course_lib import data
from course_lib.analysis import layer_table
from course_lib.models import lenet5
from course_lib.viz import plot_confusion_matrix, plot_history, show_images, show_misclassified

model = lenet5(input_shape=(28, 28, 1), classes=10)


table = layer_table(model)
table

# %% [markdown]
# **Check.** Each count follows from the layer's shape:
#
# - a convolution with N_F filters of H x W over K input channels has
#   N_F(H W K + 1) parameters (one bias per filter);
# - a dense layer with n inputs and m units has (n + 1) m.
#
# The total is 61,706, the classic figure for LeNet-5 with dense C5 and F6.

# %%
# NBVAL_CHECK_OUTPUT
expected = {
    "c1_conv": 6 * (5 * 5 * 1 + 1),
    "c3_conv": 16 * (5 * 5 * 6 + 1),
    "c5_dense": (5 * 5 * 16 + 1) * 120,
    "f6_dense": (120 + 1) * 84,
    "predictions": (84 + 1) * 10,
}
for name, count in expected.items():
    assert table.loc[name, "parameters"] == count, name
assert table["parameters"].sum() == model.count_params() == sum(expected.values()) == 61706
assert table.loc["s4_pool", "output_shape"] == (5, 5, 16)
print({name: count for name, count in expected.items()}, "total", model.count_params())

# %% [markdown]
# > **Lecture vs. course: LeNet-5 as published.** The lecture presents LeNet-5
# > as LeCun et al. (1998) built it. The course trains the modern variant above.
# > Three differences change the parameter count:
# >
# > - **C3 is sparse.** In the paper, a C3 map reads only some maps of S2 (its
# >   Table I): six maps read 3, nine read 4 and one reads all 6. The paper's
# >   reason: fewer connections, and maps forced to extract different features.
# >
# > - **S2 and S4 are trainable.** Each subsampling map sums its 2x2 window,
# >   multiplies by one trainable coefficient, adds a trainable bias and applies
# >   the sigmoid: 2 parameters per map. Max pooling has none.
# >
# > - **The output is a layer of Euclidean RBF units**, one per class. Each
# >   scores the squared distance of F6's 84 values to a fixed 84-value
# >   prototype: a stylised 7x12 bitmap of its digit, chosen by hand and not
# >   trained. The course ends with a softmax `Dense` layer instead.
# >
# > The next cell counts the published network from Table I. It finds the
# > paper's "60,000 trainable free parameters"; the variant has 1,706 more.

# %%
# NBVAL_CHECK_OUTPUT
# Table I of LeCun et al. (1998): which S2 maps (rows) each C3 map (columns) reads.
TABLE_I = np.array([
    [1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1],
    [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1],
    [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1],
    [0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1],
    [0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1],
    [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1],
])
inputs_per_map = TABLE_I.sum(axis=0)
published = {
    "C1": 6 * (5 * 5 * 1 + 1),
    "S2": 6 * 2,  # a coefficient and a bias per map
    "C3": int((5 * 5 * inputs_per_map + 1).sum()),
    "S4": 16 * 2,
    "C5": 120 * (5 * 5 * 16 + 1),
    "F6": 84 * (120 + 1),
}
counts = pd.DataFrame({
    "published (trainable)": published,
    "course's variant": {"C1": expected["c1_conv"], "S2": 0, "C3": expected["c3_conv"], "S4": 0,
                         "C5": expected["c5_dense"], "F6": expected["f6_dense"]},
})
counts.loc["output"] = [0, expected["predictions"]]  # 10 x 84 fixed RBF prototypes vs a softmax Dense layer
counts.loc["total"] = counts.sum()
print(counts.to_string())
assert sorted(inputs_per_map.tolist()) == [3] * 6 + [4] * 9 + [6]
assert published["C3"] == 1516 and counts.loc["total", "published (trainable)"] == 60000
assert counts.loc["total", "course's variant"] == model.count_params() == 61706

# %% [markdown]
# ## 2. Where the parameters sit, and where the work is done
#
# A convolution shares one small filter over all positions of its input, so it has
# few parameters however large the image. A dense layer has one weight per pair of
# input and output values. In LeNet-5, therefore:
#
# - the fully connected part (C5, F6 and the output layer) holds almost all the
#   weights;
# - the convolutions, which apply their filters at every position, do most of the
#   multiplications.

# %%
dense_part = ["c5_dense", "f6_dense", "predictions"]
conv_part = ["c1_conv", "c3_conv"]
parameter_share = table.loc[dense_part, "parameters"].sum() / table["parameters"].sum()
compute_share = table.loc[conv_part, "macs"].sum() / table["macs"].sum()

weighted = table[table["parameters"] > 0]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
colours = ["tab:blue" if name in conv_part else "tab:orange" for name in weighted.index]
axes[0].bar(weighted.index, weighted["parameters"], color=colours)
axes[0].set_ylabel("parameters")
axes[0].set_title(f"Parameters: {parameter_share:.1%} in the dense layers (orange)")
axes[1].bar(weighted.index, weighted["macs"], color=colours)
axes[1].set_ylabel("multiply-adds per image")
axes[1].set_title(f"Computation: {compute_share:.1%} in the convolutions (blue)")
for ax in axes:
    ax.set_xlabel("layer")
    ax.tick_params(axis="x", rotation=30)
plt.show()

# %% [markdown]
# **Check.** More than 90% of the parameters sit in the fully connected part, and
# more than half of the multiply-adds in the two convolutions.

# %%
# NBVAL_CHECK_OUTPUT
assert parameter_share > 0.9
assert compute_share > 0.5
print(f"dense layers: {parameter_share:.1%} of the parameters")
print(f"convolutions: {compute_share:.1%} of the multiply-adds")

# %% [markdown]
# ## 3. The data: all of MNIST
#
# MNIST has 60,000 training digits and 10,000 test digits. We use them in three
# parts:
#
# - a **validation set** of 5,000 training digits, held out and stratified with
#   scikit-learn's `train_test_split` (each digit keeps its share);
# - the other 55,000 training digits, to train on while we watch the validation
#   accuracy;
# - the test set, used once, at the end.
#
# Any choice made by looking at the test set (the number of epochs, the learning
# rate) would make the test accuracy an optimistic estimate. We scale the pixels
# to [0, 1] and add the channel axis that `Conv2D` expects.

# %%
(x_train, y_train), (x_test, y_test) = data.load_mnist()
x_train = x_train[..., None].astype("float32") / 255
x_test = x_test[..., None].astype("float32") / 255
y_all = y_train
x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=5000, stratify=y_all, random_state=0)
show_images(x_test[:16], y_test[:16], title="Test digits and their labels")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
assert x_train.shape == (55000, 28, 28, 1) and x_val.shape == (5000, 28, 28, 1)
assert x_test.shape == (10000, 28, 28, 1)
assert np.abs(np.bincount(y_val) / 5000 - np.bincount(y_all) / 60000).max() < 1e-3  # stratified
assert 0.0 <= x_train.min() and x_train.max() <= 1.0
print(x_train.shape, x_val.shape, x_test.shape)

# %% [markdown]
# ## 4. Training
#
# We minimise the cross-entropy with Adam. Its step size starts at
# `LEARNING_RATE` and decays to zero along a cosine over the run: large steps
# first, small ones to settle at the end. (The paper used a second-order variant
# of stochastic gradient descent, the stochastic diagonal Levenberg-Marquardt
# method.)
#
# The validation set goes to `fit` as `validation_data`: Keras scores it after
# every epoch, without training on it.

# %%
steps = EPOCHS * int(np.ceil(len(x_train) / BATCH_SIZE))
schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
model.compile(
    optimizer=keras.optimizers.Adam(schedule),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
start = time.perf_counter()
history = model.fit(
    x_train,
    y_train,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    validation_data=(x_val, y_val),
    verbose=0,
)
train_seconds = time.perf_counter() - start
print(f"{EPOCHS} epochs in {train_seconds:.0f} s ({train_seconds / EPOCHS:.1f} s per epoch)")

# %%
plot_history(history, title="LeNet-5 on MNIST (validation: 5,000 held-out training digits)")
plt.show()

# %% [markdown]
# **Check.** LeNet-5 reaches at least 99.0% test accuracy, the level of the paper
# (0.95% error for LeNet-5 trained on the original images).

# %%
probabilities = model.predict(x_test, batch_size=1000, verbose=0)
y_pred = probabilities.argmax(axis=1)
test_accuracy = float(np.mean(y_pred == y_test))
assert test_accuracy >= 0.99, test_accuracy
print(f"validation accuracy {history.history['val_accuracy'][-1]:.2%} | "
      f"test accuracy {test_accuracy:.2%}, error {1 - test_accuracy:.2%} (paper: 0.95%)")

# %% [markdown]
# ## 5. What it gets wrong
#
# A confusion matrix counts, for every true class (row), how often each class was
# predicted (column). The diagonal holds the correct answers, about a thousand
# per digit; the error cells hold far fewer. On one colour scale every error
# would look white. So the diagonal is drawn in grey, with its counts, and the
# colours show the errors only. We print the most frequent confusion too.

# %%
plot_confusion_matrix(y_test, y_pred, class_names=data.class_names("mnist"), mask_diagonal=True,
                      title="LeNet-5 on the MNIST test set (colours: errors only)")
plt.show()

counts = pd.crosstab(pd.Series(y_test, name="true"), pd.Series(y_pred, name="predicted"))
errors = counts.where(~np.eye(10, dtype=bool)).stack().sort_values(ascending=False)
(true_digit, predicted_digit), worst = errors.index[0], int(errors.iloc[0])
print(f"most frequent error: {worst} images of {true_digit} read as {predicted_digit}")

# %% [markdown]
# Many of the misclassified digits are hard for people too: broken strokes, unusual
# slants, digits written like another digit.

# %%
show_misclassified(x_test, y_test, y_pred, max_images=24, ncols=8)
plt.show()

# %% [markdown]
# **Check.** The off-diagonal counts add up to the number of errors, and the
# misclassified images are exactly those where the prediction differs from the
# label.

# %%
n_errors = int(np.sum(y_pred != y_test))
assert errors.sum() == n_errors == round((1 - test_accuracy) * len(y_test))
assert worst == errors.max()
print(f"{n_errors} errors out of {len(y_test)}")

# %% [markdown]
# ## Summary
#
# - LeNet-5 alternates 5x5 convolutions and 2x2 subsampling (C1, S2, C3, S4), then
#   classifies with dense layers (C5, F6, output): 61,706 parameters on 28x28
#   digits padded to the paper's 32x32.
# - More than 90% of its parameters sit in the fully connected part, but most of
#   its multiply-adds are in the convolutions, which apply few shared weights at
#   every position.
# - Trained on the full MNIST training set for a few epochs on a CPU, it reaches
#   99% test accuracy, the paper's level.
# - The confusion matrix and the misclassified digits show where the remaining
#   errors are, many of them on ambiguous digits.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★ **The paper's activations.** Train `lenet5(activation="tanh")` with the same
#    settings. Does it reach 99%? *Hint:* compare the training curves with
#    `plot_history`.
# 2. ★★ **Choosing the epochs on the validation set.** Train for 20 epochs with a
#    constant learning rate, keep the model of the epoch with the best validation
#    accuracy, then evaluate it once on the test set. *Hint:*
#    `keras.callbacks.ModelCheckpoint(path, monitor="val_accuracy",
#    save_best_only=True)`.
# 3. ★★ **Fewer dense weights.** Replace `c5_dense` by a global average pooling of
#    S4 (`lenet5(include_top=False, pooling="avg")` followed by a `Dense(10)`). How
#    many parameters remain, and what accuracy do you get? *Hint:*
#    `keras.Sequential([base, keras.layers.Dense(10, activation="softmax")])`.
# 4. ★ **Paper-sized input.** Pad the images to 32x32 with `np.pad` and build
#    `lenet5(input_shape=(32, 32, 1))`. Check that it has the same number of
#    parameters and the same output shapes after C1. *Hint:* `pad_width=((0, 0),
#    (2, 2), (2, 2), (0, 0))`.
# 5. ★★ **Your own digit.** Draw a digit, scale it to 28x28 with
#    `skimage.transform.resize`, and ask the model. *Hint:* MNIST digits are white
#    on black and centred by their centre of mass.
# 6. ★★ **The paper's C3 (pen and paper).** In the paper, a C3 map does not read
#    all six maps of S2: six C3 maps read 3 of them each, nine read 4, and one
#    reads all six. The box of section 1 counts its parameters. How many
#    multiply-adds per image does it compute, against the 240,000 of `c3_conv`
#    in the table of section 1, and is the saving the same fraction as for the
#    parameters? *Hint:* a C3 map that reads $m$ maps applies a filter of
#    5x5x$m$ weights at all 10x10 positions.
#
# ## Under the hood
#
# The CPU settings of the parameters cell are the ones the course's automated
# run of this notebook uses.
