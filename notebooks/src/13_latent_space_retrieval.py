# %% [markdown]
# # 13 · Latent-space retrieval
#
# An image search engine answers a query image with the images of its database
# that look most like it. "Look like" needs a distance. The simplest one compares
# the raw pixels; a better one compares what a trained CNN *sees*: the feature
# vector of its last convolutional layer, a point in its **latent space**. Here we
# build both engines with `course_lib.retrieval.LatentIndex`, look at their answers
# and measure them with precision@k.
#
# **Learning objectives.** After this notebook you can
#
# 1. build an image index with `LatentIndex(encoder, metric)`, `add` images and
#    `search` the k nearest neighbours of queries;
# 2. turn the course backbone into an encoder (feature maps, then global average
#    pooling) and explain why its latent space suits retrieval better than pixels;
# 3. measure a search engine with precision@k over several random draws, on
#    classes the backbone has never seen and on classes it was trained on;
# 4. compare the euclidean and the cosine distance;
# 5. check a search result against a brute-force NumPy search.

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
# Nothing trains here: the backbone is the course's pre-trained one, and the
# search is exact. These sizes keep the notebook to a few seconds; larger ones
# (in the comments) give tighter estimates of precision@k.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
INDEXED_PER_CLASS = 200  # database images per class (GPU or patience: 800)
QUERIES_PER_CLASS = 50  # query images per class, never in the database (GPU: 200)
DRAWS = (0, 1, 2)  # seeds of the random database/query splits
K_MAX = 20  # neighbours retrieved per query

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import comparison, data, pretrained
from course_lib.retrieval import LatentIndex, precision_at_k

# %% [markdown]
# ## 1. Two encoders: pixels and the backbone's features
#
# `LatentIndex` stores one vector per image and searches them with
# scikit-learn's exact `NearestNeighbors`. What the vectors are is up to the
# **encoder**:
#
# - `encoder=None`: the raw pixels, flattened, $32 \times 32 \times 3 = 3072$
#   numbers per image. Two images are close if their pixels are close, colour by
#   colour, position by position.
# - the course backbone (`pretrained.load_backbone()`, a compact ResNet trained on
#   the CIFAR-10 classes airplane, automobile, bird, cat and deer) maps an image to
#   $8 \times 8 \times 128$ feature maps. Global average pooling turns them into
#   128 numbers: how strongly each of the 128 learned detectors fires, *anywhere*
#   in the image. Moving the object or changing the background changes the pixels
#   a lot and this vector little.
#
# The backbone takes raw `uint8` images (its first layer rescales them to
# [0, 1]), so both encoders see the same arrays.

# %%
features = pretrained.load_backbone()  # (None, 8, 8, 128), without the classifier
encoder = keras.Sequential([features, keras.layers.GlobalAveragePooling2D(name="gap")], name="latent_encoder")
print("feature maps:", features.output_shape, "| latent vector:", encoder.output_shape)

# %% [markdown]
# ## 2. A database and queries the backbone has never seen
#
# Retrieval is only measured honestly on images the encoder was not trained on.
# We use the CIFAR-10 **test** set only, and split it in two groups of classes:
#
# - the **target classes** (dog, frog, horse, ship, truck), which the backbone has
#   never seen, not even in training: do its features carry over to new classes?
#   This is the main experiment, the situation of a search engine over new content.
# - the **source classes** (airplane ... deer), whose training images taught the
#   backbone; their test images are new to it, but their classes are not. We
#   expect these to be easier.
#
# For each group and each seed in `DRAWS`, we draw `INDEXED_PER_CLASS +
# QUERIES_PER_CLASS` test images per class and split them into a database and a
# disjoint set of queries, both stratified. A query's label is never used by the
# search, only to score its answer: a retrieved image is *relevant* if it has the
# query's class.

# %%
_, (x_test, y_test) = data.load_cifar10()
groups = dict(zip(("target", "source"), pretrained.split_source_target(x_test, y_test)[::-1]))
group_classes = {"target": pretrained.TARGET_CLASSES, "source": pretrained.SOURCE_CLASSES}


def database_and_queries(group, seed):
    """A stratified database and disjoint stratified queries from a group's test images."""
    x, y = groups[group]
    drawn, _ = data.subset(np.arange(len(y)), y, INDEXED_PER_CLASS + QUERIES_PER_CLASS, seed=seed)
    indexed, _ = data.subset(drawn, y[drawn], INDEXED_PER_CLASS, seed=seed)
    queries = np.setdiff1d(drawn, indexed)
    return (x[indexed], y[indexed]), (x[queries], y[queries])


(x_db, y_db), (x_query, y_query) = database_and_queries("target", seed=DRAWS[0])
pixel_index = LatentIndex(encoder=None, metric="euclidean")
pixel_index.add(x_db, labels=y_db)
latent_index = LatentIndex(encoder=encoder, metric="euclidean")
latent_index.add(x_db, labels=y_db)

# %% [markdown]
# **Check.** Retrieval is measured honestly only if no query is also in the
# database.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
n_classes = len(pretrained.TARGET_CLASSES)
assert len(pixel_index) == len(latent_index) == INDEXED_PER_CLASS * n_classes == 1000
assert pixel_index.features.shape == (1000, 32 * 32 * 3)
assert latent_index.features.shape == (1000, 128)
assert (np.bincount(y_db) == INDEXED_PER_CLASS).all() and (np.bincount(y_query) == QUERIES_PER_CLASS).all()
database_rows = {row.tobytes() for row in x_db}
assert not any(q.tobytes() in database_rows for q in x_query)
print(f"Check: both indexes hold the same {len(x_db):,} database images ({INDEXED_PER_CLASS} per target class), "
      f"as {pixel_index.features.shape[1]} pixel values or {latent_index.features.shape[1]} latent features each; "
      f"none of the {len(x_query)} queries ({QUERIES_PER_CLASS} per class) is among them.")

# %% [markdown]
# ## 3. What each engine returns
#
# One query per target class, and its 8 nearest neighbours in each space. The
# first image of each row is the query; the titles give each image's class, and
# a red frame marks a neighbour of another class than the query's.

# %%
K_SHOW = 8
classes = pretrained.TARGET_CLASSES
shown = np.array([np.flatnonzero(y_query == c)[0] for c in range(n_classes)])


def show_search(index, space):
    indices, _ = index.search(x_query[shown], k=K_SHOW)
    fig, axes = plt.subplots(len(shown), K_SHOW + 1, figsize=(1.3 * (K_SHOW + 1), 1.45 * len(shown)),
                             layout="constrained")
    for row, (query, found) in enumerate(zip(shown, indices)):
        axes[row, 0].imshow(x_query[query])
        axes[row, 0].set_title(f"query: {classes[y_query[query]]}", fontsize="small", fontweight="bold")
        for ax, image, label in zip(axes[row, 1:], x_db[found], y_db[found]):
            ax.imshow(image)
            same = label == y_query[query]
            ax.set_title(classes[label], fontsize="small", color="black" if same else "tab:red")
            for spine in ax.spines.values():
                spine.set_edgecolor("tab:green" if same else "tab:red")
                spine.set_linewidth(2.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{space} space: each query (first column) and its {K_SHOW} nearest neighbours "
                 "(green frame: same class, red: another class)")
    plt.show()
    return indices


shown_pixel = show_search(pixel_index, "Pixel")
shown_latent = show_search(latent_index, "Latent")

# %%
# NBVAL_CHECK_OUTPUT
same_class = pd.DataFrame(
    {space: [int((y_db[found] == y_query[query]).sum()) for query, found in zip(shown, indices)]
     for space, indices in (("pixel", shown_pixel), ("latent", shown_latent))},
    index=[classes[y_query[query]] for query in shown],
)
weakest = same_class["latent"].idxmin()
row = same_class.index.get_loc(weakest)
others = pd.Series([classes[label] for label in y_db[shown_latent[row]] if label != y_query[shown[row]]])
print(f"neighbours of the query's class, of {K_SHOW}:")
print(same_class.to_string())
print(f"weakest latent row: the {weakest} query, with", ", ".join(f"{n} {c}" for c, n in others.value_counts().items()))
assert weakest == "ship" and others.value_counts().idxmax() == "horse"
assert same_class.loc["ship", "pixel"] > same_class.loc["ship", "latent"]

# %% [markdown]
# In pixel space, the neighbours share the query's **colours and layout**: a
# light image with a pale background returns light images with pale
# backgrounds, whatever they show; a small dark object on a light background
# returns small dark objects on light backgrounds. In latent space the
# neighbours share the query's **content** more often, although the backbone
# never learned any of these five classes: the edges, textures and parts it
# learned for airplanes, cars, birds, cats and deer are also good at describing
# dogs, horses and trucks.
#
# Not always, and the failures teach as much. The ship query's latent
# neighbours are mostly horses (the counts above), and pixel space does better
# on it.
#
# The backbone describes every image with the features that told its own five
# classes apart. Two images that are alike in those terms (a similar outline, a
# similar texture) end up close, whatever they show. Nothing in its training
# ever had to separate a ship from a horse. For this query, the
# colours and the layout that pixel space compares happen to be
# the better clue. One query per class proves little either way: the next
# section measures precision over every query.
#
# ## 4. Precision@k
#
# For a query, precision@k is the fraction of its k nearest neighbours that
# have its class; `precision_at_k` averages it over the queries. With five
# balanced classes, picking neighbours at random scores 0.2 at every k.

# %%
def precision_curve(index, x_query, y_query):
    indices, _ = index.search(x_query, k=K_MAX)
    retrieved = index.labels[indices]
    return [precision_at_k(y_query, retrieved, k) for k in range(1, K_MAX + 1)]


encoders = {"pixel": None, "latent": encoder}
curves = {}  # (group, space, metric, seed) -> precision@1..K_MAX
for group in groups:
    for seed in DRAWS:
        (x_db_s, y_db_s), (x_q_s, y_q_s) = database_and_queries(group, seed)
        for space, space_encoder in encoders.items():
            for metric in ("euclidean", "cosine"):
                index = LatentIndex(space_encoder, metric=metric)
                index.add(x_db_s, labels=y_db_s)
                curves[group, space, metric, seed] = precision_curve(index, x_q_s, y_q_s)

ks = np.arange(1, K_MAX + 1)
all_curves = pd.DataFrame(curves, index=pd.Index(ks, name="k")).T
all_curves.index.names = ["classes", "space", "metric", "seed"]
mean_curves = all_curves.groupby(level=["classes", "space", "metric"]).mean()
spread_curves = all_curves.groupby(level=["classes", "space", "metric"]).std()

table = pd.concat(
    {f"P@{k} mean": mean_curves[k] for k in (1, 5, 10, 20)}
    | {f"P@{k} std": spread_curves[k] for k in (1, 5, 10, 20)},
    axis=1,
)[[f"P@{k} {s}" for k in (1, 5, 10, 20) for s in ("mean", "std")]]
table.round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
styles = {("pixel", "euclidean"): "C0--", ("pixel", "cosine"): "C0:",
          ("latent", "euclidean"): "C1-", ("latent", "cosine"): "C1-."}
for ax, group in zip(axes, groups):
    for (space, metric), style in styles.items():
        mean = mean_curves.loc[(group, space, metric)]
        spread = spread_curves.loc[(group, space, metric)]
        ax.plot(ks, mean, style, label=f"{space}, {metric}")
        ax.fill_between(ks, mean - spread, mean + spread, color=style[:2], alpha=0.15)
    ax.axhline(1 / n_classes, color="gray", linewidth=1, label="random neighbours")
    ax.set_title(f"{group} classes ({', '.join(group_classes[group])})", fontsize="small")
    ax.set_xlabel("k (neighbours retrieved)")
    ax.set_xticks([1, 5, 10, 15, 20])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("precision@k")
axes[1].legend(fontsize="small")
fig.suptitle(f"Precision@k, mean over {len(DRAWS)} database/query draws (band: ± 1 std)")
plt.show()

# %% [markdown]
# Latent space wins at every k, in both groups, with both distances, by a margin
# far larger than the spread between draws. Precision falls slowly as k grows
# (the twentieth neighbour is further away than the first).
#
# In latent space the source classes, whose training images taught the
# backbone, are easier than the target classes, as expected. But even on
# classes it has never seen, the backbone's latent space is a much better
# search space than the pixels. (In
# pixel space the order of the two groups is reversed: pixel similarity follows
# colours and backgrounds, which do not care which classes the backbone learned.)
#
# In latent space the source classes score higher than the target classes, and
# the advantage over pixels is smaller on the target classes. In pixel space
# the target classes score higher. Pixel space is not useless: it
# stays above the 0.2 of random neighbours at every k, probably because
# backgrounds correlate with classes (sky and water for ships, roads for trucks).
#
# **Check.** The draws differ, so the latent advantage counts only if it is
# clear over them: its 95 % interval excludes zero (notebook 01's rule, with
# draws in place of seeds).

# %%
advantage = (
    all_curves.xs("latent", level="space") - all_curves.xs("pixel", level="space")
)  # rows: (classes, metric, seed)
by_setting = advantage[10].groupby(level=["classes", "metric"])
advantage_at_10 = {
    setting: comparison.paired_comparison(values, metric="precision@10", baseline=f"pixel ({', '.join(setting)})",
                                          treatment="latent", unit="draws")
    for setting, values in by_setting
}
for result in advantage_at_10.values():
    print(result)

# %% tags=["hide-input"]
for k in (1, 5, 10, 20):
    assert (advantage[k] > 0).all(), advantage[k]
assert all(result.clear and result.mean > 0 for result in advantage_at_10.values()), advantage_at_10
latent_at_10 = mean_curves[10].xs("latent", level="space")
assert (latent_at_10["source"] > latent_at_10["target"]).all(), latent_at_10
assert (by_setting.mean()["target"] < by_setting.mean()["source"]).all()
pixel_at_10 = mean_curves[10].xs("pixel", level="space")
assert (pixel_at_10["target"] > pixel_at_10["source"]).all(), pixel_at_10
assert (mean_curves.xs("pixel", level="space") > 1 / n_classes).all(axis=None)
print("Check: for each group and each distance, latent space beats pixel space at k = 1, 5, 10 and 20 in every "
      "draw, a clear effect at k = 10; the source classes score higher than the target "
      "classes in latent space, lower in pixel space, and gain more from latent space; pixel space stays above "
      "the 0.2 of random neighbours at every k.")

# %% [markdown]
# ## 5. Euclidean or cosine?
#
# The euclidean distance compares vectors as points; the cosine distance,
# $1 - \frac{u \cdot v}{\|u\|\,\|v\|}$, compares only their **directions**. In
# pixel space the length of the vector is mostly the image's brightness and
# contrast; in latent space it is how strongly the detectors fire overall. If
# that length says little about the class, cosine, which ignores it, should do
# as well or better.
#
# On these data, the two distances give nearly the same precision@10 in latent
# space, much closer than latent and pixel space. The choice of *space* matters
# far more than the choice of *distance*.

# %%
metric_gap = mean_curves[10].xs("latent", level="space").unstack("metric")
metric_gap["cosine - euclidean"] = metric_gap["cosine"] - metric_gap["euclidean"]
metric_gap.round(3)

# %% tags=["hide-input"]
assert (metric_gap["cosine - euclidean"].abs() < 0.05).all(), metric_gap
assert (metric_gap["cosine - euclidean"].abs() < by_setting.mean().min() / 3).all()
print("Check: in latent space, cosine and euclidean precision@10 differ by less than 0.05 in both groups, "
      "less than a third of the smallest mean advantage of latent over pixel space.")

# %% [markdown]
# ## 6. The search is exact: a brute-force check
#
# `LatentIndex` encodes, then asks scikit-learn for the nearest vectors. For one
# query, we do the same by hand with NumPy: encode the query, compute its distance
# to every indexed vector, sort. Both must give the same neighbours in the same
# order, at the same distances, for both metrics.

# %%
query = x_query[:1]
brute_force = {}
for metric in ("euclidean", "cosine"):
    index = LatentIndex(encoder, metric=metric)
    index.add(x_db, labels=y_db)
    found, distances = index.search(query, k=K_MAX)
    vectors = index.features
    q = keras.ops.convert_to_numpy(encoder(query)).reshape(-1)
    if metric == "euclidean":
        d = np.sqrt(((vectors - q) ** 2).sum(axis=1))
    else:
        d = 1 - vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    order = np.argsort(d, kind="stable")[:K_MAX]
    brute_force[metric] = (found[0], order, distances[0], d[order])

# %% [markdown]
# **Check.** An exact search must return what the brute force returns; only the
# distances may differ, by float32 rounding.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
for metric, (found, order, distances, expected) in brute_force.items():
    np.testing.assert_array_equal(found, order)
    np.testing.assert_allclose(distances, expected, rtol=1e-4, atol=1e-5)
print(f"Check: for the euclidean and the cosine distance, LatentIndex.search returns the {K_MAX} nearest "
      "neighbours of a brute-force NumPy search, in the same order, at the same distances.")

# %% [markdown]
# ## Summary
#
# - An image search engine is an encoder plus a nearest-neighbour search:
#   `LatentIndex(encoder, metric)`, `add(images, labels)`, `search(queries, k)`.
# - Pixel distances find images with the same colours and layout; distances
#   between the backbone's globally pooled features find images with the same
#   content.
# - Measured with precision@k on held-out CIFAR-10 test images, over three random
#   database/query draws, latent space beats pixel space at every k, on the five
#   classes the backbone was trained on and, by a smaller but still wide margin,
#   on five classes it has never seen.
# - Euclidean and cosine distances give nearly the same precision in latent space:
#   the space matters more than the distance.
# - The search is exact: it equals a brute-force NumPy search.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions, with what to compare: [solutions/part2.md](solutions/part2.md); try each
# exercise first.
#
# 1. ★ **Which layer?** Use the output of stage 2 (`"stage2_block2"`) instead of
#    stage 3 as the latent space, again with global average pooling. Is precision@10
#    higher or lower on the target classes? *Hint:*
#    `keras.Model(features.input, features.get_layer("stage2_block2").output)`.
# 2. ★ **Pooling matters.** Replace global average pooling by flattening the 8x8x128
#    maps (8,192 numbers). What happens to precision, and why? *Hint:*
#    `keras.layers.Flatten()`; think of what a shift of the object does to each.
# 3. ★★ **Where it fails.** Find the target-class queries whose 10 latent-space
#    neighbours contain none of their class, and show them with their neighbours.
#    Which classes get confused? *Hint:* `(index.labels[indices] == y_query[:, None]).sum(axis=1) == 0`.
# 4. ★ **Mirror images.** Query the latent index with horizontally flipped queries.
#    Does precision@10 change? And in pixel space? *Hint:* `x_query[:, :, ::-1]`.
# 5. ★★ **Ten classes.** Index all ten classes together (both groups) and measure
#    precision@k. Are source-class queries confused with target classes? *Hint:*
#    build a confusion table of query class vs retrieved class.
