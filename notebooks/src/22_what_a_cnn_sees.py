# %% [markdown]
# # 22 · What a CNN sees
#
# A trained network classifies well, but on what? This notebook looks inside the
# course's recorded CIFAR-10 networks (`course_lib.zoo`): the filters of the
# first layer, the feature maps through the depth, the patterns that excite a
# deep unit, and four ways to ask which pixels a decision depends on: the class
# activation map, Grad-CAM, occlusion and saliency.
#
# Each method is checked. Two of them must agree exactly where theory says so.
# The regions they point at must matter when hidden. Their maps must change
# when the network's weights are randomised. Last comes the latent space: where
# the network puts each image, drawn in two dimensions.
#
# **Learning objectives.** After this notebook you can
#
# 1. show a network's first-layer filters and its feature maps through the
#    depth, and find an input that excites a unit by gradient ascent;
# 2. compute class activation maps (CAM) for a conv -> GAP -> dense network,
#    the lecture's interpretability argument for global average pooling, and
#    Grad-CAM for any convolutional network (`course_lib.interpret`);
# 3. measure what a region is worth by occluding it, and read a saliency map;
# 4. test an explanation: Grad-CAM equals the CAM on a GAP network, hiding the
#    CAM's peak costs more than hiding a random patch, and a network with
#    randomised weights gives different maps (Adebayo et al., 2018);
# 5. draw the latent space with PCA and t-SNE, and relate it to retrieval
#    (notebook 13).

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
# Nothing is trained here; the maps and checks below take about two minutes on a
# 2-core CPU. On a GPU, use more images for the checks.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
SHOW = 6  # test images drawn in the figures
CHECK_IMAGES = 200  # test images for the occlusion and randomisation checks (GPU: 2000)
ASCENT_STEPS = 60  # gradient-ascent steps per visualised unit
LATENT_IMAGES = 1000  # test images in the latent-space plots (GPU: 5000)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import KNeighborsClassifier

from course_lib import comparison, data, experiment, interpret, zoo
from course_lib.autodiff import value_and_gradient
from course_lib.viz import overlay_map, plot_feature_maps, plot_filters, show_images

(_, _), (x_test, y_test) = data.load_cifar10()
y_test = y_test.reshape(-1)
names = data.class_names("cifar10")
resnet = zoo.load("resnet20")  # conv -> GAP -> dense: the CAM applies
network = resnet.layers[-1]  # the nested network, after the standardisation layer
standardize = resnet.layers[1]
probabilities = resnet.predict(x_test, batch_size=500, verbose=0)
correct = probabilities.argmax(axis=1) == y_test
print(f"ResNet-20 from the zoo: test accuracy {correct.mean():.4f} (recorded {zoo.record('resnet20')['test_accuracy']:.4f})")

# %% [markdown]
# ## 1. First-layer filters and feature maps
#
# The first layer's filters act on the standardised pixels directly, so they
# can be drawn as small colour images (each scaled to its own range). Many are
# oriented edges or colour-opponent blobs, as in every trained CNN since
# AlexNet's first layer.

# %%
kernel = network.get_layer("conv1_conv").get_weights()[0]
plot_filters(kernel, title=f"ResNet-20's first layer: {kernel.shape[-1]} filters of 3x3x3")
plt.show()

# %% [markdown]
# Deeper layers see larger regions (their receptive fields, notebook 06) and
# respond to more specific patterns; their maps shrink as the resolution
# halves. One test image through the depth (the first 16 maps of each stage):

# %%
stages = ["conv1_relu", "stage1_block3", "stage2_block3", "stage3_block3"]
probe = keras.Model(network.input, [network.get_layer(name).output for name in stages])
image = x_test[np.flatnonzero(correct)[0]]
activations = [keras.ops.convert_to_numpy(a) for a in probe(standardize(image[None].astype("float32")))]
show_images(image[None], [y_test[np.flatnonzero(correct)[0]]], class_names=names, title="the image")
plt.show()
for name, maps in zip(stages, activations):
    plot_feature_maps(maps[0], max_maps=16, ncols=8, title=f"{name}: {maps.shape[1]}x{maps.shape[2]}x{maps.shape[3]}")
    plt.show()

# %% [markdown]
# **Check.** The maps halve in size at stages 2 and 3 (32, 32, 16, 8) while
# their number doubles (16, 16, 32, 64).

# %%
# NBVAL_CHECK_OUTPUT
shapes = [tuple(a.shape[1:]) for a in activations]
assert shapes == [(32, 32, 16), (32, 32, 16), (16, 16, 32), (8, 8, 64)]
print(shapes)

# %% [markdown]
# ## 2. What excites a unit: gradient ascent on the input
#
# Instead of asking which images excite a unit, we can *construct* one: start
# from a grey image with a little noise and follow the gradient of the unit's
# mean activation with respect to the pixels (Erhan et al., 2009; Simonyan et
# al., 2014), normalising each step and keeping the image in range. The
# gradient comes from the backend's automatic differentiation
# (`course_lib.autodiff`). Units of the last stage produce textures that
# repeat the pattern they detect.

# %%
def excite(layer_name, channel, steps=ASCENT_STEPS, step_size=0.05, seed=0):
    """An input (standardised units) that maximises the mean activation of one channel."""
    sub = keras.Model(network.input, network.get_layer(layer_name).output)
    x = np.random.default_rng(seed).normal(0, 0.1, (1, 32, 32, 3))
    history = []
    for _ in range(steps):
        value, gradient = value_and_gradient(lambda t: keras.ops.mean(sub(t)[..., channel]), x)
        x = np.clip(x + step_size * gradient / (np.abs(gradient).mean() + 1e-8), -2.5, 2.5)
        history.append(float(value))
    return x[0], history


def to_pixels(x):
    """Standardised units back to a displayable image in [0, 1]."""
    mean = np.asarray(zoo.record("resnet20")["standardization"]["mean"])
    std = np.sqrt(zoo.record("resnet20")["standardization"]["variance"])
    return np.clip((x * std + mean) / 255, 0, 1)


channels = [0, 7, 21, 42]
excited = [excite("stage3_block3", c) for c in channels]
fig, axes = plt.subplots(1, len(channels), figsize=(2.6 * len(channels), 2.8))
for ax, channel, (x, history) in zip(axes, channels, excited):
    ax.imshow(to_pixels(x))
    ax.set_title(f"stage 3, map {channel}\nactivation {history[0]:.2f} → {history[-1]:.2f}", fontsize=9)
    ax.axis("off")
fig.suptitle("Inputs built by gradient ascent to excite one map of the last stage")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Check.** Gradient ascent raises each unit's activation far above where it
# started.

# %%
assert all(history[-1] > history[0] + 1.0 for _, history in excited), [h[::20] for _, h in excited]

# %% [markdown]
# ## 3. Class activation maps: the interpretability of global average pooling
#
# ResNet-20 ends with convolutions, **global average pooling** (GAP) and a dense
# classifier, the layout NiN and GoogLeNet introduced (notebooks 16 and 17). The
# lecture notes argue that GAP makes a network more interpretable, because it
# ties each output to the maps directly. Zhou et al. (2016) made that precise:
# the score of class $c$ is
#
# $$S_c = \sum_k w_{k,c} \frac{1}{HW}\sum_{i,j} A_{i,j,k} + b_c
#       = \frac{1}{HW}\sum_{i,j} \underbrace{\sum_k w_{k,c} A_{i,j,k}}_{\text{CAM}_c(i,j)} + b_c,$$
#
# so the **class activation map** $\text{CAM}_c$ says how much each position
# contributes to the score. `interpret.class_activation_map` computes it at the
# last maps' 8x8 resolution; `viz.overlay_map` stretches it over the image.
#
# The six maps below share one colour scale, so their strengths can be
# compared. A CAM has a sign, so the colour map is diverging: red where a
# position adds to the class score, blue where it subtracts, white at zero.
# Maps without a sign get a uniform scale from zero (viridis).

# %%
def overlay_row(axes, indices, maps, titles, label, signed=False):
    """Draws maps over their images with one colour scale and one colour bar for the row."""
    limit = float(np.abs(maps).max())
    cmap, low = ("RdBu_r", -limit) if signed else ("viridis", 0.0)  # signed: white at 0
    for ax, index, heat, title in zip(axes, indices, maps, titles):
        overlay_map(x_test[index], heat, ax=ax, title=title, cmap=cmap, vmin=low, vmax=limit, alpha=0.6,
                    colorbar=False)
    axes[0].figure.colorbar(axes[0].images[-1], ax=axes, label=label, shrink=0.9)


shown = np.flatnonzero(correct)[:SHOW]
cams = interpret.class_activation_map(resnet, x_test[shown], y_test[shown])
fig, axes = plt.subplots(1, SHOW, figsize=(2.6 * SHOW, 2.9), layout="constrained")
overlay_row(axes, shown, cams, [f"{names[y_test[i]]}: CAM" for i in shown], "CAM (class-score units)", signed=True)
fig.suptitle("Class activation maps of ResNet-20 for the true class (correctly classified test images)")
plt.show()

# %% [markdown]
# **Check.** The CAM's mean plus the classifier's bias is the class score before
# the softmax, and the softmax of the scores is the network's output.

# %%
dense = network.get_layer("predictions")
all_cams = interpret.class_activation_map(resnet, np.repeat(x_test[shown[:1]], 10, axis=0), np.arange(10))
scores = all_cams.mean(axis=(1, 2)) + dense.get_weights()[1]
np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(scores)), probabilities[shown[0]],
                           rtol=1e-4, atol=1e-6)
print("softmax(mean CAM + bias) == the model's probabilities")

# %% [markdown]
# ## 4. Grad-CAM: any convolutional network
#
# The CAM needs GAP right before the classifier. Grad-CAM (Selvaraju et al.,
# 2017) drops that requirement: it weights a layer's maps by the *mean gradient*
# of the class score with respect to them, $\alpha_k = \frac{1}{HW}\sum_{i,j}
# \partial S_c / \partial A_{i,j,k}$, sums and keeps the positive part. On a
# conv -> GAP -> dense network, $\partial S_c / \partial A_{i,j,k} = w_{k,c} /
# (HW)$ at every position, so Grad-CAM is the ReLU of the CAM divided by $HW$.
# We check it on ResNet-20, then apply Grad-CAM to the recorded VGG16, which
# ends with flattening and dense layers, at its 4x4 block-4 maps.

# %%
gradcams = interpret.grad_cam(resnet, x_test[shown], y_test[shown])
vgg = zoo.load("vgg16")
vgg_maps = interpret.grad_cam(vgg, x_test[shown], y_test[shown], layer_name="block4_conv3_relu")
fig, axes = plt.subplots(2, SHOW, figsize=(2.6 * SHOW, 5.6), layout="constrained")
overlay_row(axes[0], shown, gradcams, [f"{names[y_test[i]]}: ResNet-20" for i in shown], "Grad-CAM, ResNet-20")
overlay_row(axes[1], shown, vgg_maps, ["VGG16, block 4"] * SHOW, "Grad-CAM, VGG16")
fig.suptitle("Grad-CAM for the true class (one colour scale per network)")
plt.show()

# %% [markdown]
# **Check.** On ResNet-20, Grad-CAM times $HW = 64$ equals the ReLU of the CAM.

# %%
np.testing.assert_allclose(gradcams * 64, np.maximum(cams, 0), rtol=1e-3, atol=1e-5)
print("Grad-CAM == ReLU(CAM) / 64 on ResNet-20")

# %% [markdown]
# ## 5. Occlusion and saliency
#
# Two model-agnostic views. **Occlusion** (Zeiler and Fergus, 2014) hides an
# 8x8 patch with the image's mean colour at every position (stride 4) and
# records how much the class probability drops: a direct measure of what the
# region is worth. It costs one forward pass per position. **Saliency**
# (Simonyan et al., 2014) is the size of the class score's gradient with
# respect to each pixel: which pixels would change the score most if they
# changed a little. It costs one backward pass.
#
# The drop in probability has a sign: red where hiding the patch lowers the
# probability, blue where it raises it. Each row shares one colour scale.

# %%
occlusions = interpret.occlusion_map(resnet, x_test[shown], y_test[shown], patch_size=8, stride=4)
saliencies = interpret.saliency_map(resnet, x_test[shown], y_test[shown])
fig, axes = plt.subplots(2, SHOW, figsize=(2.6 * SHOW, 5.6), layout="constrained")
overlay_row(axes[0], shown, occlusions, [f"{names[y_test[i]]}: occlusion" for i in shown],
            "drop in probability", signed=True)
overlay_row(axes[1], shown, saliencies, ["saliency"] * SHOW, "|d score / d pixel|")
fig.suptitle("Occlusion (drop in probability when an 8x8 patch is hidden) and saliency (input gradient)")
plt.show()

# %% [markdown]
# On one scale, some occlusion maps are nearly white: hiding one patch hardly
# matters there. For each image, the table gives the probability of its class,
# the largest drop and the largest rise that hiding one patch causes, and how
# far the largest drop lies from the CAM's peak.

# %%
# Centres in pixels: occlusion patch i covers rows 4i to 4i + 7 (stride 4, size 8); CAM cell i rows 4i to 4i + 3.
drop_peaks = np.array([np.unravel_index(m.argmax(), m.shape) for m in occlusions]) * 4 + 3.5
cam_peaks = np.array([np.unravel_index(m.argmax(), m.shape) for m in cams]) * 4 + 1.5
peaks = pd.DataFrame({
    "image": [names[y_test[i]] for i in shown],
    "probability": probabilities[shown, y_test[shown]],
    "largest drop": occlusions.max(axis=(1, 2)),
    "largest rise": -occlusions.min(axis=(1, 2)),
    "drop's peak (row, col)": [f"({r:.1f}, {c:.1f})" for r, c in drop_peaks],
    "pixels to the CAM's peak": np.linalg.norm(drop_peaks - cam_peaks, axis=1),
})
peaks.round(2)

# %% [markdown]
# **Occlusion and the CAM answer different questions.**
#
# - The CAM splits the class *score* of the unchanged image into 8x8
#   contributions. It is exact for this network, but coarse: each cell sees a
#   large part of the image (its receptive field, notebook 06), and the figure
#   stretches 64 values over 1,024 pixels.
# - Occlusion measures the change in *probability* when a patch becomes a flat
#   square of the image's mean colour. That is a different image: the square
#   removes evidence, and it can add some of its own.
#
# So they can disagree, for four reasons.
#
# 1. **The occluder is small next to the object.** A patch hides a sixteenth of
#    the image; the rest of the object still shows the class. For three of the
#    six images, no patch lowers the probability by 0.1 or more (the table):
#    their maps are nearly white. Scaled to its own range, such a map would
#    look as sure as the frog's, and its peak would point at noise.
# 2. **The square is itself an input.** On every image, some patches *raise*
#    the probability (the blue cells; the table's largest rise). The deer's
#    largest drop comes from a patch at the top edge, mostly dark background,
#    far from the CAM's peak. Occlusion alone cannot say whether the network
#    uses that background, or reacts to a flat square on a dark ground.
# 3. **Probabilities saturate.** Near a probability of 1, the softmax turns
#    large changes of the score into small changes of the probability. The CAM
#    is read in score units, occlusion in probability.
# 4. **The maps explain this network, not the class.** ResNet-20 classifies
#    86 % of the test images correctly. Where its evidence lies off the object,
#    that may be how it works, right or wrong; six images cannot tell.
#
# The two maps agree best where hiding a patch costs most: the frog's and the
# ship's drops, the two largest, lie within a patch's width (8 pixels) of the
# CAM's peak. What to take from this:
#
# - read a map with its colour bar: a peak means something only if its value
#   is large;
# - use the two together: the CAM shows where the score comes from, for free;
#   occlusion measures what hiding a region costs, and depends on the patch's
#   size and fill (exercise 2);
# - judge agreement on many images, not on six: section 6 does it on
#   `CHECK_IMAGES` images.
#
# **Check.** The table supports the claims above.

# %% tags=["hide-input"]
assert list(peaks["image"]) == ["airplane", "frog", "airplane", "ship", "truck", "deer"], list(peaks["image"])
weak = peaks["largest drop"] < 0.1
assert weak.sum() == 3 and (peaks["largest rise"] > 0).all(), peaks
assert list(peaks["largest drop"].nlargest(2).index) == [1, 3], peaks  # frog, ship
assert (peaks["pixels to the CAM's peak"][[1, 3]] < 8).all(), peaks
assert drop_peaks[5, 0] == 3.5 and peaks["pixels to the CAM's peak"][5] > 8, peaks  # deer: top row of patches
assert abs(correct.mean() - 0.86) < 0.005, correct.mean()
deer_distance = peaks["pixels to the CAM's peak"][5]
print(f"Check: {weak.sum()} of {SHOW} occlusion maps stay under a drop of 0.1; every map has a patch that raises "
      f"the probability; the deer's largest drop is {deer_distance:.0f} pixels from the CAM's peak")

# %% [markdown]
# ## 6. Are the maps telling the truth?
#
# An explanation is a claim about the network; it must be checked like any
# other. Two tests.
#
# **Hiding the CAM's peak.** If the CAM shows where the evidence is, hiding the
# 8x8 patch around its peak must cost the class more probability than hiding a
# patch at a random place. We measure both on `CHECK_IMAGES` correctly
# classified test images.

# %%
def hide(images, tops, lefts, size=8):
    hidden = images.astype("float32").copy()
    for image, top, left in zip(hidden, tops, lefts):
        image[top:top + size, left:left + size] = image.mean(axis=(0, 1))
    return hidden


check = np.flatnonzero(correct)[:CHECK_IMAGES]
check_cams = interpret.upsample_to(interpret.class_activation_map(resnet, x_test[check], y_test[check]), (32, 32))
peak = np.array([np.unravel_index(np.argmax(cam), cam.shape) for cam in check_cams])
tops, lefts = (np.clip(peak[:, k] - 4, 0, 24) for k in (0, 1))
random_place = np.random.default_rng(0).integers(0, 25, (len(check), 2))
base = probabilities[check, y_test[check]]
drops = pd.DataFrame({
    "CAM's peak hidden": base - resnet.predict(hide(x_test[check], tops, lefts), verbose=0)[np.arange(len(check)), y_test[check]],
    "random patch hidden": base - resnet.predict(hide(x_test[check], *random_place.T), verbose=0)[np.arange(len(check)), y_test[check]],
})
wins = (drops["CAM's peak hidden"] > drops["random patch hidden"]).mean()
peak_effect = comparison.paired_comparison(drops["CAM's peak hidden"] - drops["random patch hidden"],
                                           metric="probability lost", baseline="random patch hidden",
                                           treatment="CAM's peak hidden", unit="images")
drops.describe().loc[["mean", "50%"]].round(3)

# %% [markdown]
# **Check.** Hiding the CAM's peak costs more probability on average, and on
# most images, than hiding a random patch. Image by image, the 95 % interval
# of the difference excludes zero (notebook 01's rule, with images in place of
# seeds): a clear effect.

# %% tags=["hide-input"]
assert drops.iloc[:, 0].mean() > 2 * drops.iloc[:, 1].mean(), drops.mean()
assert wins > 0.6 and peak_effect.clear and peak_effect.mean > 0, (wins, peak_effect)
print(f"Check: hiding the CAM's peak costs more on {wins:.0%} of {len(check)} images; mean drop "
      f"{drops.iloc[:, 0].mean():.3f} against {drops.iloc[:, 1].mean():.3f}, a difference of "
      f"{peak_effect.mean:+.3f} (95 % interval {peak_effect.low:+.3f} to {peak_effect.high:+.3f}): {peak_effect.verdict}.")

# %% [markdown]
# **Randomised weights** (Adebayo et al., 2018). A method whose maps look the
# same for a trained network and for one with random weights explains nothing
# about what the network learned; it may only be an edge detector. We
# re-initialise the weights of the last stage and of the classifier (fresh
# random values, as before training) and compare each method's maps, image by
# image, with the Spearman rank correlation of their pixels: near 1 means the
# same map, near 0 unrelated maps.

# %%
def randomized_copy(model, prefixes, seed=0):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    fresh = keras.models.clone_model(model)  # clone_model draws new initial weights
    inner, fresh_inner = copy.layers[-1], fresh.layers[-1]
    for layer, fresh_layer in zip(inner.layers, fresh_inner.layers):
        if layer.name.startswith(prefixes):
            layer.set_weights(fresh_layer.get_weights())
    return copy


keras.utils.set_random_seed(0)
random_top = randomized_copy(resnet, ("stage3", "predictions"))
sample = check[:50]
methods = {
    "Grad-CAM": lambda m: interpret.upsample_to(interpret.grad_cam(m, x_test[sample], y_test[sample]), (32, 32)),
    "saliency": lambda m: interpret.saliency_map(m, x_test[sample], y_test[sample]),
}


def rank_correlations(a, b):
    """Spearman correlation of each pair of maps; NaN where a map is constant (no ranking)."""
    return np.array([stats.spearmanr(p.ravel(), q.ravel()).statistic if np.ptp(p) > 0 and np.ptp(q) > 0 else np.nan
                     for p, q in zip(a, b)])


similarity = pd.DataFrame({name: rank_correlations(method(resnet), method(random_top)) for name, method in methods.items()})
print("constant maps left out (Grad-CAM zero everywhere):", similarity.isna().sum().to_dict())
similarity.describe().loc[["count", "mean", "std"]].round(3)

# %% [markdown]
# Randomising the last stage and the classifier changes both kinds of map:
# the rank correlations between the maps of the trained network and those of
# the randomised one are low (the table's means). Both methods therefore
# depend on what the top of the network learned; they pass this sanity check.
# (A Grad-CAM map can be zero everywhere, when the ReLU removes every
# position; such a map has no ranking and is left out, as counted above.)
#
# Adebayo et al. found that some popular methods, guided backpropagation among
# them, fail it: their maps hardly change when the weights are randomised,
# because they mostly reproduce the image's edges.
#
# **Check.** For both methods, the mean rank correlation between the trained
# and the randomised network's maps is below 0.5.

# %%
assert (similarity.mean() < 0.5).all(), similarity.mean()
print(similarity.mean().round(3).to_string())

# %% [markdown]
# ## 7. The latent space
#
# The features before the classifier (ResNet-20's 64 GAP values) place every
# image at a point of a 64-dimensional **latent space**; the lecture notes
# observe that distances there follow perceptual similarity, which is what
# latent-space retrieval (notebook 13) uses. We draw `LATENT_IMAGES` test images
# in two dimensions, twice: with PCA (a linear projection on the two directions
# of largest variance) and with t-SNE (a non-linear map that keeps near
# neighbours near), each point coloured by its true class, a few with their
# thumbnail.

# %%
encoder = keras.Model(network.input, network.get_layer("avg_pool").output)
latent_subset = np.random.default_rng(0).permutation(len(x_test))[:LATENT_IMAGES]
latent = keras.ops.convert_to_numpy(encoder(standardize(x_test[latent_subset].astype("float32"))))
labels = y_test[latent_subset]
projections = {
    "PCA": PCA(n_components=2, random_state=0).fit_transform(latent),
    "t-SNE": TSNE(n_components=2, perplexity=30, init="pca", random_state=0).fit_transform(latent),
}
fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
for ax, (name, points) in zip(axes, projections.items()):
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6)
    for i in range(0, LATENT_IMAGES, LATENT_IMAGES // 12):
        box = ax.inset_axes([*(points[i] - points.min(0)) / np.ptp(points, 0) * 0.9, 0.07, 0.07])
        box.imshow(x_test[latent_subset[i]])
        box.axis("off")
    ax.set_title(f"{name} of ResNet-20's latent space ({LATENT_IMAGES:,} test images)")
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
handles = [plt.Line2D([], [], marker="o", linestyle="", color=plt.cm.tab10(k / 9), label=n) for k, n in enumerate(names)]
fig.legend(handles=handles, loc="lower center", ncol=10, fontsize="small")
fig.tight_layout(rect=(0, 0.06, 1, 1))
plt.show()

# %% [markdown]
# **Check.** Near neighbours in the latent space share their class far more
# often than near neighbours in pixel space: the class of the nearest of the
# other images (leave-one-out 1-NN) is right for most images in the latent
# space, much less often in pixel space, measured on the same images.

# %%
def nearest_neighbour_accuracy(features):
    neighbours = KNeighborsClassifier(n_neighbors=2).fit(features, labels)
    _, index = neighbours.kneighbors(features)
    return float(np.mean(labels[index[:, 1]] == labels))


latent_accuracy = nearest_neighbour_accuracy(latent)
pixel_accuracy = nearest_neighbour_accuracy(x_test[latent_subset].reshape(LATENT_IMAGES, -1).astype("float32"))
assert latent_accuracy > pixel_accuracy + 0.3, (latent_accuracy, pixel_accuracy)
print(f"1-NN class agreement: latent space {latent_accuracy:.1%}, pixel space {pixel_accuracy:.1%}")

# %% [markdown]
# ## Summary
#
# - First-layer filters are oriented edges and colour blobs; deeper maps are
#   smaller, more numerous and more specific; gradient ascent builds inputs that
#   excite a deep unit.
# - With GAP before the classifier, the class score is the mean of the class
#   activation map plus a bias: the CAM shows where the score comes from, the
#   lecture's interpretability argument made exact.
# - Grad-CAM works for any convolutional network and equals the ReLU of the CAM
#   (divided by the number of positions) on a GAP network.
# - Occlusion measures what hiding a region costs; saliency shows the input
#   gradient. Occlusion and the CAM answer different questions and can
#   disagree: read each map with its colour bar, on one scale per row.
# - Explanations must be tested: hiding the CAM's peak costs more than hiding a
#   random patch; Grad-CAM's maps change when the top of the network is
#   randomised.
# - In the latent space, nearest neighbours share their class far more often
#   than in pixel space.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★ **Wrong answers.** Draw the CAM of the predicted class and of the true
#    class for misclassified test images. What did the network look at?
#    *Hint:* `np.flatnonzero(~correct)`.
# 2. ★★ **Occlusion size.** Repeat the occlusion maps with 4x4 and 12x12
#    patches. How does the map change, and what does it cost? *Hint:* count the
#    positions.
# 3. ★★ **Grad-CAM through the depth.** Compute Grad-CAM at `stage1_block3`,
#    `stage2_block3` and `stage3_block3` of ResNet-20. Which layer gives the most
#    useful maps? *Hint:* `layer_name=...`.
# 4. ★★ **NiN's class maps.** NiN ends with one map per class and GAP, without
#    a dense layer: its class maps *are* CAMs. Train `nin(width=0.25,
#    batch_norm=True)` on a CIFAR-10 subset and draw them for a few images.
#    *Hint:* `experiment.run`; the maps are the output of its last MLPConv block.
# 5. ★★★ **Randomise from the top down.** Re-initialise the layers cumulatively,
#    from the classifier down to the first convolution, and plot the rank
#    correlation of Grad-CAM and saliency maps against how many layers were
#    randomised (Adebayo et al., Figure 2). *Hint:* extend `randomized_copy`.
