# %% [markdown]
# # 11 · Test-time augmentation
#
# Data augmentation teaches a network that a shifted or mirrored image is still
# the same object. **Test-time augmentation** (TTA) uses the same idea once the
# network is trained: classify several transformed copies (*views*) of each test
# image and average the posterior vectors. Some mistakes depend on a detail that a
# view changes: the exact position of the object, or which way it faces. The other
# views outvote them. The price is paid at every prediction: $n$ views cost $n$
# forward passes.
#
# **Learning objectives.** After this notebook you can
#
# 1. wrap a trained classifier in `course_lib.tta.TTAModel` (or call
#    `predict_tta`) with a fixed list of views or with random views;
# 2. check that TTA is nothing but the average of the model's posteriors over
#    the views;
# 3. measure the gain of TTA over the plain prediction on several disjoint test
#    subsets, and count the images it fixes and breaks;
# 4. measure how the gain and the prediction time grow with the number of views,
#    and choose a number of views.

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
# Nothing trains here: we test the course's pre-trained backbone. The cost is
# prediction only, $n$ forward passes per image for $n$ views. These CPU settings
# keep the notebook to about a minute and a half. On a GPU, sweep more views on
# more images (comments).
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
FOLDS = 5  # disjoint test subsets of the 5,000 source-class test images (1,000 each)
SWEEP_FOLDS = 5  # folds used for the sweep over the number of random views
SWEEP_PER_CLASS = 100  # images per class and fold in the sweep (GPU: 200, the whole fold)
VIEW_COUNTS = (1, 2, 4, 8)  # numbers of random views (GPU: (1, 2, 4, 8, 16, 32))
BATCH_SIZE = 250

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import comparison, data, pretrained
from course_lib.augment import geometric_augmentation
from course_lib.tta import TTAModel, horizontal_flip, identity, predict_tta
from course_lib.viz import show_images

# %% [markdown]
# ## 1. The trained model and the test images
#
# The course backbone with its classifier (`load_backbone(include_top=True)`) is
# a compact ResNet:
#
# - trained on the five CIFAR-10 *source* classes airplane, automobile, bird, cat
#   and deer;
# - with random horizontal flips and translations of up to 10% as training
#   augmentation.
#
# Its recorded test accuracy is in `pretrained.metadata()`. We test it on the 5,000
# CIFAR-10 test images of those classes, which it has never seen.
#
# A result may depend on *which* test images we happen to use. To see how much, we
# split them into `FOLDS` disjoint stratified folds of 1,000 images (200 per
# class). Each fold gives one independent estimate of the gain. Together they
# tell us whether a gain is real or luck.

# %%
model = pretrained.load_backbone(include_top=True)
_, (x_test, y_test) = data.load_cifar10()
(x_source, y_source), _ = pretrained.split_source_target(x_test, y_test)
x_source = x_source.astype("float32")  # the model rescales by 1/255 itself
class_names = pretrained.SOURCE_CLASSES

rng = np.random.default_rng(0)
fold_of = np.empty(len(y_source), int)
for label in range(len(class_names)):
    members = rng.permutation(np.flatnonzero(y_source == label))
    fold_of[members] = np.arange(len(members)) * FOLDS // len(members)
folds = [np.flatnonzero(fold_of == f) for f in range(FOLDS)]

plain = model.predict(x_source, batch_size=BATCH_SIZE, verbose=0)
plain_accuracy = float(np.mean(plain.argmax(axis=1) == y_source))

# %% [markdown]
# **Check.** Five disjoint folds of 1,000 images, 200 per class, cover the
# 5,000 test images; the plain accuracy of the loaded model is the one recorded
# when it was trained.

# %%
# NBVAL_CHECK_OUTPUT
assert sorted(np.concatenate(folds).tolist()) == list(range(5000))
assert all((np.bincount(y_source[f]) == 200).all() for f in folds)
recorded = pretrained.metadata()["source_test_accuracy"]
assert abs(plain_accuracy - recorded) < 1e-3, (plain_accuracy, recorded)
print(f"{len(folds)} folds of {len(folds[0])} images | plain test accuracy {plain_accuracy:.4f}")

# %% [markdown]
# ## 2. TTA is an average of posteriors
#
# `TTAModel(model, augmentations)` is a Keras model: for a batch $x$ and the list
# of views $v_1, \dots, v_n$ it returns
#
# $$\bar p(x) = \frac{1}{n} \sum_{i=1}^{n} p(v_i(x)),$$
#
# the mean of the model's posterior vectors. The default list is
# `[identity, horizontal_flip]`: the image and its mirror image. The identity is
# not added for you: a list without it ignores the unchanged image.
#
# We check this on 250 images by computing the average by hand.

# %%
x_small = x_source[:BATCH_SIZE]
tta = TTAModel(model, [identity, horizontal_flip])
by_tta = tta.predict(x_small, batch_size=BATCH_SIZE, verbose=0)
by_hand = (
    model.predict(x_small, verbose=0) + model.predict(x_small[:, :, ::-1], verbose=0)
) / 2

# %% [markdown]
# **Check.** The TTA output equals the manual average (up to float32 rounding),
# its rows are probability vectors, and it differs from the plain prediction:
# the mirror view matters.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(by_tta, by_hand, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(by_tta.sum(axis=1), 1.0, rtol=1e-5)
assert not np.allclose(by_tta, plain[:BATCH_SIZE], atol=1e-3)
print("TTAModel(model, [identity, horizontal_flip]) == (p(x) + p(mirror(x))) / 2 on", len(x_small), "images")

# %% [markdown]
# ## 3. The gain of the mirror view
#
# A mirrored airplane is still an airplane, and the model saw mirror images in
# training: the two posteriors are two opinions about the same image. We
# predict all 5,000 images with `predict_tta` and the default views, and compare
# with the plain prediction, fold by fold.

# %%
flipped = predict_tta(model, x_source, batch_size=BATCH_SIZE)


def fold_accuracy(posteriors):
    return np.array([np.mean(posteriors[f].argmax(axis=1) == y_source[f]) for f in folds])


flip_table = pd.DataFrame(
    {"plain": fold_accuracy(plain), "TTA, identity + flip": fold_accuracy(flipped)},
    index=pd.Index(range(FOLDS), name="fold"),
)
flip_table["gain"] = flip_table["TTA, identity + flip"] - flip_table["plain"]
flip_summary = flip_table.agg(["mean", "std"])
pd.concat([flip_table, flip_summary]).round(4)

# %% [markdown]
# Is the gain real, or luck of the folds? The folds are five independent test
# sets, so we read the gain with the rule of notebook 01: a clear effect when
# the 95 % interval of the mean gain over the folds excludes zero.
#
# An accuracy also hides two movements: TTA fixes some images the plain model
# got wrong, and breaks some it got right. We count both on the whole test set.

# %%
plain_right = plain.argmax(axis=1) == y_source
tta_right = flipped.argmax(axis=1) == y_source
fixed = int(np.sum(tta_right & ~plain_right))
broken = int(np.sum(~tta_right & plain_right))
flip_gain = comparison.paired_comparison(flip_table["gain"], metric="test accuracy", baseline="plain",
                                         treatment="identity + flip", unit="folds")
print(flip_gain)
print(f"TTA fixes {fixed} images and breaks {broken} (net {fixed - broken:+d} of 5000)")

# %% [markdown]
# **Check.** Averaging with the mirror image raises the accuracy:
#
# - the gain over the five folds is a clear effect;
# - on the whole test set, TTA fixes more images than it breaks.
#
# The gain is modest, about one point of accuracy (between half a point and two
# points). The model already learned to be mirror-invariant in training, so the
# two opinions often agree.

# %% tags=["hide-input"]
gain = flip_table["gain"]
assert flip_gain.clear and flip_gain.mean > 0, flip_gain
assert fixed > broken, (fixed, broken)
assert 0.005 < gain.mean() < 0.02  # about one point
print(f"Check: the mirror view gains {gain.mean():+.4f} over {FOLDS} folds, a clear effect; "
      f"it fixes {fixed} images and breaks {broken}.")

# %% [markdown]
# ## 4. Random views
#
# With `n_samples`, `TTAModel` draws `n_samples` random views from one random
# augmentation layer instead of a fixed list. Which transformations? Those the
# model learned to ignore. The backbone was trained with random horizontal
# flips and translations of up to 10% (reflect padding), so we draw exactly
# these, with `geometric_augmentation(rotation=0, zoom=0)`. Transformations the
# model never saw in training (a large rotation, say) would give images from
# another distribution, and their opinions would be worse.

# %%
demo_layer = geometric_augmentation(rotation=0, zoom=0, seed=0)
image = x_source[3:4]
views = np.concatenate([image] + [keras.ops.convert_to_numpy(demo_layer(image, training=True)) for _ in range(7)])
show_images(views.astype("uint8"), ["original"] + [f"view {i}" for i in range(1, 8)], ncols=8,
            title="One test image and seven random views (flip + translation up to 10%)")
plt.show()

# %% [markdown]
# Random views are drawn anew at every call, from the layer's seed. So two
# `TTAModel`s built on layers with the same seed give the same predictions. The
# output is still the plain average of the model's posteriors over the views, as
# a twin layer with the same seed shows.

# %%
n_check = 3
x_tiny = x_source[:32]
out = keras.ops.convert_to_numpy(
    TTAModel(model, geometric_augmentation(rotation=0, zoom=0, seed=7), n_samples=n_check)(x_tiny)
)
twin = geometric_augmentation(rotation=0, zoom=0, seed=7)
manual = np.mean(
    [keras.ops.convert_to_numpy(model(twin(x_tiny, training=True), training=False)) for _ in range(n_check)],
    axis=0,
)
again = keras.ops.convert_to_numpy(
    TTAModel(model, geometric_augmentation(rotation=0, zoom=0, seed=7), n_samples=n_check)(x_tiny)
)

# %% [markdown]
# **Check.** Three random views: TTA equals the manual average over the twin
# layer's three views, and a second TTA model with the same seed gives the same
# output.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(out, again, rtol=1e-5, atol=1e-6)
print(f"random-view TTA ({n_check} views) == manual average over the same views; same seed, same output")

# %% [markdown]
# ## 5. How many views? Gain against cost
#
# More views average away more of the model's sensitivity to position, but each
# costs one more forward pass. We sweep the number of random views $n$ over
# `VIEW_COUNTS`, on `SWEEP_FOLDS` folds (500 images each, to keep the sweep
# short). Two things vary from one repetition to the next, and the spread
# includes both:
#
# - **which test images**: a different fold each time;
# - **which random views**: each `TTAModel`'s layer keeps drawing new views from
#   its seed, so every fold gets other views.
#
# For the cost, we measure the time of every batch of `predict` and keep the
# *fastest* batch. The first fold of each $n$ also compiles the TTA model, so it
# is left out. The plain model, measured the same way, is the reference. The
# seconds depend on the machine: compare the ratios.

# %%
SWEEP_BATCH = 100
sweep_folds = [data.subset(f, y_source[f], SWEEP_PER_CLASS, seed=i)[0] for i, f in enumerate(folds[:SWEEP_FOLDS])]


class BatchTimer(keras.callbacks.Callback):
    """Records the wall-clock time of every prediction batch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_predict_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_predict_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


rows, batch_seconds = [], {}
for n in (0,) + VIEW_COUNTS:  # n = 0: the plain model, no TTA
    predictor = model if n == 0 else TTAModel(model, geometric_augmentation(rotation=0, zoom=0, seed=n), n_samples=n)
    batch_seconds[n] = []
    for i, fold in enumerate(sweep_folds):
        timer = BatchTimer()
        posteriors = predictor.predict(x_source[fold], batch_size=SWEEP_BATCH, verbose=0, callbacks=[timer])
        if i > 0:  # fold 0 includes the compilation
            batch_seconds[n] += timer.seconds
        accuracy = np.mean(posteriors.argmax(axis=1) == y_source[fold])
        rows.append({"views": n, "fold": i, "accuracy": accuracy, "gain": accuracy - np.mean(plain_right[fold])})
sweep = pd.DataFrame(rows)
sweep_summary = sweep.groupby("views").agg(
    accuracy=("accuracy", "mean"), gain=("gain", "mean"), gain_std=("gain", "std"),
)
sweep_summary["s per 1000 images"] = [min(batch_seconds[n]) / SWEEP_BATCH * 1000 for n in sweep_summary.index]
sweep_summary["time vs plain"] = sweep_summary["s per 1000 images"] / sweep_summary.loc[0, "s per 1000 images"]
sweep_summary.round(4)

# %%
fig, (ax_gain, ax_time) = plt.subplots(1, 2, figsize=(10, 3.6))
tta_rows = sweep_summary.drop(index=0)
ax_gain.errorbar(tta_rows.index, tta_rows["gain"] * 100, yerr=tta_rows["gain_std"] * 100, marker="o", capsize=4,
                 label="random views")
ax_gain.axhline(0, color="gray", linewidth=1)
ax_gain.axhline(gain.mean() * 100, color="C1", linestyle="--", label="identity + flip (2 fixed views)")
ax_gain.set_xscale("log", base=2)
ax_gain.set_xticks(list(VIEW_COUNTS), [str(n) for n in VIEW_COUNTS])
ax_gain.set_xlabel("number of views n")
ax_gain.set_ylabel("gain over plain (accuracy points, %)")
ax_gain.set_title(f"Gain, mean ± std over {SWEEP_FOLDS} folds")
ax_gain.legend(fontsize="small")
seconds = sweep_summary["s per 1000 images"]
ax_time.plot(sweep_summary.index, seconds, marker="o", label="measured (fastest batch)")
ax_time.plot(sweep_summary.index, seconds.loc[0] * np.maximum(sweep_summary.index, 1), "k:",
             label="n x plain")
ax_time.set_xlabel("number of views n (0: plain model)")
ax_time.set_ylabel("prediction time (s per 1000 images)")
ax_time.set_title("Cost")
ax_time.legend(fontsize="small")
for ax in (ax_gain, ax_time):
    ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# A single random view is *not* TTA. It replaces the test image by one random
# transformation of it, and it does not help: here it even costs a little
# accuracy on every fold. With more views the mean gain is positive.
#
# Between 2 and 8 views the curve is noisy. 500 images per fold is small, and a
# gain of one point is 5 images out of 500. What we can say is that with 8 views
# the gain is positive on every fold. Theory says the rest:
#
# - the average of $n$ random opinions settles as $1/\sqrt{n}$, so each extra
#   view helps less than the one before;
# - the cost grows about in proportion to $n$, and here a little more slowly.
#   `TTAModel` runs its $n$ views inside one compiled prediction step. The fixed
#   cost of a step (the `predict` loop, moving the batch in and out) is paid
#   once, not $n$ times.
#
# The ratios are printed below; the dotted line is $n$ plain predictions.
#
# **Check.**
#
# - With the most views, the gain is positive on every fold, a clear effect.
# - It is larger than the gain of a single random view, which gains nothing (its
#   mean gain is not positive).
# - Every number of views above one has a positive mean gain.
# - Prediction time grows with the number of views: the most views cost at least
#   half their number of plain predictions.

# %%
per_fold = sweep.pivot(index="fold", columns="views", values="gain")
n_max = max(VIEW_COUNTS)
most_views = comparison.paired_comparison(per_fold[n_max], metric="test accuracy", baseline="plain",
                                          treatment=f"{n_max} random views", unit="folds")
assert (per_fold[n_max] > 0).all() and most_views.clear, most_views
assert per_fold[n_max].mean() > per_fold[1].mean(), per_fold
assert per_fold[1].mean() <= 0, per_fold
assert (per_fold[list(VIEW_COUNTS[1:])].mean() > 0).all(), per_fold  # more than one view: positive mean gain
assert sweep_summary.loc[n_max, "time vs plain"] > n_max / 2, sweep_summary
print(most_views)
print(f"1 view: mean gain {per_fold[1].mean():+.4f}")
print("prediction time relative to the plain model, by number of views:",
      ", ".join(f"{n}: {ratio:.2f}x" for n, ratio in sweep_summary["time vs plain"].items() if n > 0))

# %% [markdown]
# **Choosing $n$.** TTA multiplies the cost of every prediction by $n$, for the
# life of the model. Training augmentation costs only at training time. Two
# well-chosen fixed views (the image and its mirror) already buy about one
# point here, at twice the cost. Whether more views pay depends on what a point
# of accuracy is worth against $n$ times the inference bill.
#
# ## Summary
#
# - TTA classifies several views of each test image and averages the posteriors:
#   `TTAModel(model, [identity, horizontal_flip])` equals the hand-made average.
# - Views should be transformations the model learned to ignore (here the flips
#   and translations of its training augmentation), and the list should contain
#   the identity.
# - On the course backbone, the mirror view raises the test accuracy by about one
#   point: a clear effect over five disjoint folds. TTA fixes more images than
#   it breaks.
# - A single random view gains nothing; eight random views gain on every fold,
#   a clear effect, while the prediction time grows in proportion to the number of
#   views (at least).
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions, with what to compare: [solutions/part2.md](solutions/part2.md); try each
# exercise first.
#
# 1. ★ **Wrong views.** Use views the model never saw in training: a vertical flip,
#    or rotations of 30 degrees (`geometric_augmentation(flip=None, rotation=0.08,
#    translation=0, zoom=0)`). Does TTA still help? *Hint:* `lambda b:
#    keras.ops.flip(b, axis=1)` is a vertical flip.
# 2. ★★ **Fixed crops.** Write a list of five fixed views: the image and the image
#    shifted by 3 pixels up, down, left and right (reflect padding), and compare
#    with five random views. *Hint:* `np.pad(b, ((0, 0), (3, 3), (3, 3), (0, 0)),
#    mode="reflect")`, then slice.
# 3. ★ **Calibration.** Is the TTA model more or less confident than the plain
#    model? Compare the mean of the largest posterior on correct and on wrong
#    answers. *Hint:* `posteriors.max(axis=1)`.
# 4. ★★ **Votes instead of averages.** Replace the mean of the posteriors by a
#    majority vote over the views' predicted classes (by hand). Which is better
#    with two views, and why? *Hint:* with two views that disagree, a vote needs a
#    tie-break.
# 5. ★★ **A weaker model.** Train a small CNN on 100 images per class with flip
#    augmentation and measure its TTA gain. Is it larger than the backbone's?
#    *Hint:* models that learned less invariance often gain more from TTA.
#
# ## Under the hood
#
# - **Timing.** A small callback (`BatchTimer`) records the wall-clock time of
#   every prediction batch. We keep the fastest batch: on a shared machine, other
#   programs can only slow a batch down, never speed it up, so the minimum is
#   the most repeatable measure.
# - **A loose check on time.** The measured times are noisy on a shared CPU, so
#   the check of section 5 asks only that the most views cost at least half
#   their number of plain predictions.
