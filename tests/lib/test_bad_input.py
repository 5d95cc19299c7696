"""Bad input to course_lib's public API raises an error that names the problem.

A sweep over the public functions and classes (the grading modules and the
experiment harness's training functions excepted): wrong shapes, dtypes,
ranges, NaN, empty arrays and wrong strings. Each case once returned a wrong
result without a word, failed deep inside a backend with a message that did
not name the argument, or already raised the course's message: every case
pins the message that names the argument (`course_lib._checks`'s style).
The first five are the calls of issue 32.

Where NaN in gives NaN out for an element-wise computation (`ops.correlate2d`,
`mixup_batch`'s images, `gradcheck.relative_error`), that is NumPy's convention
and no error: the result says what happened. NaN that would be folded into a
model (standardisation, BatchNormalization statistics, whitening filters,
explanations, a retrieval index) raises.
"""

import sys

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib import _checks as C
from course_lib import (
    _optional,
    analysis,
    augment,
    autodiff,
    batchnorm,
    data,
    experiment,
    gradcheck,
    initializers,
    interpret,
    layers,
    lookahead,
    mixup,
    models,
    ops,
    pretrained,
    receptive_field,
    retrieval,
    runtime,
    speedrun,
    transfer,
    tta,
    viz,
    widgets,
    zoo,
)
from course_lib.distributed import multiprocess, scaling

NAN_IMAGES = np.full((2, 8, 8, 1), np.nan, "float32")
X = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
Y = np.array([0, 1, 0, 1, 0, 1])
ONE_HOT = np.eye(2, dtype="float32")[Y]
FINITE = r"must hold finite numbers; received \d+ NaN"
SOFTMAX_OF_ONE = r"`classes=1` with classifier_activation='softmax' always outputs 1\.0"


def _sequential():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(2, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, activation="softmax", name="dense"),
    ])


def _functional():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="dense")(x))


def _index_search(metric="euclidean", images=None, queries=None, k=1):
    index = retrieval.LatentIndex(metric=metric)
    index.add(np.ones((4, 3)) if images is None else images, np.arange(4))
    return index.search(np.ones((1, 3)) if queries is None else queries, k)


# (id, call, exception, regular expression the message must match)
CASES = [
    # The five silent calls of issue 32.
    ("experiment.with_standardization/NaN images", lambda: experiment.with_standardization(_functional(), NAN_IMAGES),
     ValueError, "`x_train` " + FINITE),
    ("models.resnet_cifar/classes=1 softmax", lambda: models.resnet_cifar(20, classes=1), ValueError, SOFTMAX_OF_ONE),
    ("pretrained.backbone_model/2x2 input", lambda: pretrained.backbone_model(input_shape=(2, 2, 3)),
     ValueError, r"`input_shape` must be at least \(8, 8, channels\)"),
    ("mixup.mixup_batch/rows sum to 3", lambda: mixup.mixup_batch(X, ONE_HOT * 3),
     ValueError, r"Each row of `labels` must be a probability distribution .* row 0 sums to 3"),
    ("viz.overlay_map/empty heat map", lambda: viz.overlay_map(np.zeros((8, 8)), np.zeros((0, 0))),
     ValueError, r"`heat_map` must not be empty; received heat_map of shape \(0, 0\)"),
    # experiment's standardisation
    ("experiment.channel_statistics/empty", lambda: experiment.channel_statistics(np.zeros((0, 8, 8, 3))),
     ValueError, r"`x` must not be empty"),
    ("experiment.channel_statistics/strings", lambda: experiment.channel_statistics(np.full((1, 2, 2, 1), "a")),
     TypeError, r"`x` must hold real numbers; received x of dtype <U1"),
    ("experiment.channel_statistics/3-D", lambda: experiment.channel_statistics(np.zeros((8, 8, 3))),
     ValueError, r"`x` must have shape \(N, rows, cols, channels\); received x of shape \(8, 8, 3\)"),
    ("experiment.standardization/infinity", lambda: experiment.standardization(np.full((1, 2, 2, 1), np.inf)),
     ValueError, r"`x` must hold finite numbers; received 0 NaN and 4 infinite"),
    ("experiment.with_standardization/channels", lambda: experiment.with_standardization(
        _functional(), np.zeros((2, 8, 8, 3))), ValueError, r"`x_train` must have the network's 1 channels"),
    # model builders
    ("models.lenet5/classes=1 softmax", lambda: models.lenet5(classes=1), ValueError, SOFTMAX_OF_ONE),
    ("models.lenet5/2-D input_shape", lambda: models.lenet5(input_shape=(28, 28)),
     ValueError, r"`input_shape` must be a tuple of three positive ints"),
    ("models.lenet5/channels first", lambda: models.lenet5(input_shape=(1, 28, 28)),
     ValueError, r"`input_shape` must be at least \(12, 12, channels\)"),
    ("models.resnet_cifar/depth 21", lambda: models.resnet_cifar(21), ValueError, r"`depth` must be an int of the form 6n \+ 2"),
    ("models.resnet/stride_on", lambda: models.resnet(18, input_shape=(32, 32, 3), stride_on="2x2"),
     ValueError, r"`stride_on` must be '1x1' or '3x3'"),
    ("models.resnet9_cifar/activation", lambda: models.resnet9_cifar(classifier_activation="softmaks"),
     ValueError, r"`classifier_activation` must be None, the name of a Keras activation"),
    ("models.resnet_cifar/pooling with top", lambda: models.resnet_cifar(20, pooling="avg"),
     ValueError, r"`pooling` only applies to the feature extractor"),
    ("models.vgg16_cifar/dropout 1", lambda: models.vgg16_cifar(dropout=1.0), ValueError, r"`dropout` must be a number in \[0, 1\)"),
    ("models.vgg16_cifar/dense_units 0", lambda: models.vgg16_cifar(dense_units=0), ValueError, r"`dense_units` must be a positive int"),
    ("models.alexnet_cifar/dropout -0.1", lambda: models.alexnet_cifar(dropout=-0.1), ValueError,
     r"`dropout` must be a number in \[0, 1\)"),
    ("models.nin/dropout 1", lambda: models.nin(dropout=1.0), ValueError, r"`dropout` must be a number in \[0, 1\)"),
    ("models.nin/width -1", lambda: models.nin(width=-1.0), ValueError, r"`width` must be a positive number"),
    ("models.googlenet_cifar/dropout 1", lambda: models.googlenet_cifar(dropout=1.0), ValueError, r"`dropout` must be"),
    ("models.googlenet_cifar/aux_heads 'yes'", lambda: models.googlenet_cifar(aux_heads="yes"),
     TypeError, r"`aux_heads` must be True or False"),
    ("models.mobilenet_cifar/dropout 1", lambda: models.mobilenet_cifar(dropout=1.0), ValueError, r"`dropout` must be"),
    ("models.mobilenet_cifar/alpha NaN", lambda: models.mobilenet_cifar(alpha=float("nan")), ValueError, r"`alpha` must be a positive"),
    ("models.airbench94/dirac 'yes'", lambda: models.airbench94(dirac="yes"), TypeError, r"`dirac` must be True or False"),
    ("models.airbench94/widths", lambda: models.airbench94(widths=(64,)), ValueError, r"`widths` must be a sequence of 3"),
    ("models.densenet_cifar/growth 0", lambda: models.densenet_cifar(growth_rate=0), ValueError, r"`growth_rate` must be a positive int"),
    # pretrained
    ("pretrained.backbone_model/classes=1", lambda: pretrained.backbone_model(classes=1), ValueError, SOFTMAX_OF_ONE),
    ("pretrained.backbone_model/classes 0", lambda: pretrained.backbone_model(classes=0), ValueError, r"`classes` must be a positive int"),
    ("pretrained.backbone_model/2-D input", lambda: pretrained.backbone_model(input_shape=(32, 32)),
     ValueError, r"`input_shape` must be a tuple of three"),
    ("pretrained.split_source_target/label 12", lambda: pretrained.split_source_target(
        np.zeros((2, 2, 2, 3)), np.array([3, 12])), ValueError, r"`y` must hold labels in \[0, 10\)"),
    ("pretrained.split_source_target/float labels", lambda: pretrained.split_source_target(
        np.zeros((2, 2, 2, 3)), np.array([0.5, 7.0])), TypeError, r"`y` must hold integer class labels"),
    # mixup
    ("mixup.mixup_batch/negative labels", lambda: mixup.mixup_batch(X, ONE_HOT * 2 - 0.5),
     ValueError, r"row 0 holds -0\.5"),
    ("mixup.mixup_batch/NaN labels", lambda: mixup.mixup_batch(X, ONE_HOT * np.nan), ValueError, "`labels` " + FINITE),
    ("mixup.mixup_batch/empty", lambda: mixup.mixup_batch(X[:0], ONE_HOT[:0]), ValueError, r"`images` must hold at least one sample"),
    ("mixup.mixup_batch/int labels", lambda: mixup.mixup_batch(X, Y), TypeError, r"keras\.utils\.to_categorical"),
    ("mixup.MixUpBatches/rows sum to 3", lambda: mixup.MixUpBatches(X, ONE_HOT * 3), ValueError, r"row 0 sums to 3"),
    ("mixup.MixUpBatches/empty", lambda: mixup.MixUpBatches(X[:0], ONE_HOT[:0]), ValueError, r"at least one sample"),
    ("mixup.MixUp/NumPy rows sum to 3", lambda: mixup.MixUp(seed=0)((X, ONE_HOT * 3)), ValueError, r"row 0 sums to 3"),
    # viz
    ("viz.overlay_map/NaN heat map", lambda: viz.overlay_map(np.zeros((8, 8)), np.full((2, 2), np.nan)),
     ValueError, "`heat_map` " + FINITE),
    ("viz.overlay_map/alpha 2", lambda: viz.overlay_map(np.zeros((8, 8)), np.ones((2, 2)), alpha=2.0),
     ValueError, r"`alpha` must be a number in \[0, 1\]"),
    ("viz.overlay_map/4-D image", lambda: viz.overlay_map(np.zeros((1, 8, 8, 1)), np.ones((2, 2))),
     ValueError, r"`image` must have shape \(rows, cols\) or \(rows, cols, channels\)"),
    ("viz.show_images/empty", lambda: viz.show_images(np.zeros((0, 8, 8, 1))), ValueError, r"`images` must hold at least one"),
    ("viz.show_images/strings", lambda: viz.show_images(np.full((2, 2, 2), "a")), TypeError, r"`images` must be numeric"),
    ("viz.plot_confusion_matrix/normalize", lambda: viz.plot_confusion_matrix([0, 1], [0, 1], normalize="rows"),
     ValueError, r"`normalize` must be one of"),
    ("viz.plot_filters/2-D", lambda: viz.plot_filters(np.zeros((3, 3))), ValueError, r"`kernel` must have shape"),
    # interpret
    ("interpret.grad_cam/empty", lambda: interpret.grad_cam(_functional(), X[:0], 0, "conv"),
     ValueError, r"`images` must not be empty"),
    ("interpret.grad_cam/NaN", lambda: interpret.grad_cam(_functional(), NAN_IMAGES, 0, "conv"), ValueError, "`images` " + FINITE),
    ("interpret.saliency_map/NaN", lambda: interpret.saliency_map(_functional(), NAN_IMAGES, 0), ValueError, "`images` " + FINITE),
    ("interpret.saliency_map/float class", lambda: interpret.saliency_map(_functional(), X, 0.5),
     ValueError, r"`class_index` must be an int or one int per image"),
    ("interpret.grad_cam/class 5", lambda: interpret.grad_cam(_functional(), X, 5, "conv"), ValueError,
     r"`class_index` must be in \[0, 2\)"),
    ("interpret.upsample_to/empty maps", lambda: interpret.upsample_to(np.zeros((1, 0, 0)), (8, 8)), ValueError,
     r"`maps` must not be empty"),
    ("interpret.upsample_to/strings", lambda: interpret.upsample_to(np.full((1, 2, 2), "a"), (8, 8)), TypeError, r"`maps` must hold real"),
    ("interpret.occlusion_map/fill", lambda: interpret.occlusion_map(_functional(), X, 0, fill="white"), ValueError, r"`fill` must be"),
    # analysis, augment, autodiff, batchnorm
    ("analysis.layer_macs/not a layer", lambda: analysis.layer_macs(3), TypeError, r"`layer` must be a Keras layer; received int"),
    ("analysis.measure_throughput/training 'yes'", lambda: analysis.measure_throughput(_functional(), training="yes"),
     TypeError, r"`training` must be True or False"),
    ("augment.RangeGaussianNoise/value_range", lambda: augment.RangeGaussianNoise(0.1, value_range=(1, 0)),
     ValueError, r"`value_range` must be a pair \(low, high\) with low < high"),
    ("augment.AugmentationPipeline/not layers", lambda: augment.AugmentationPipeline([3]),
     TypeError, r"`layers` must be a list of Keras layers"),
    ("augment.balance_with_augmentation/empty", lambda: augment.balance_with_augmentation(X[:0], Y[:0], lambda a: a, 4),
     ValueError, r"`x` and `y` must hold at least one example"),
    ("augment.class_specific_augmentation/key -1", lambda: augment.class_specific_augmentation({-1: None}),
     ValueError, r"`pipelines` keys must be integer class labels \(>= 0\)"),
    ("augment.geometric_augmentation/rotation NaN", lambda: augment.geometric_augmentation(rotation=float("nan")),
     ValueError, r"`rotation` must be a number"),
    ("autodiff.value_and_gradient/int x", lambda: autodiff.value_and_gradient(lambda t: keras.ops.sum(t * t), np.array([1, 2])),
     TypeError, r"`x` must have a float dtype .* received x of dtype int64"),
    ("autodiff.value_and_gradient/strings", lambda: autodiff.value_and_gradient(keras.ops.sum, np.array(["a"])),
     TypeError, r"`x` must have a float dtype"),
    ("autodiff.weight_gradients/lengths", lambda: autodiff.weight_gradients(
        _functional(), keras.losses.CategoricalCrossentropy(), X, ONE_HOT[:2]),
     ValueError, r"`x` and `y` must have the same number of examples"),
    ("batchnorm.momentum_for_steps/maximum 1.5", lambda: batchnorm.momentum_for_steps(10, maximum=1.5),
     ValueError, r"`maximum` must be a number in \(0, 1\)"),
    ("batchnorm.recompute_batchnorm_statistics/NaN", lambda: batchnorm.recompute_batchnorm_statistics(
        keras.Sequential([keras.Input((8, 8, 1)), keras.layers.BatchNormalization()]), NAN_IMAGES),
     ValueError, "`x` " + FINITE),
    # data
    ("data.subset/empty", lambda: data.subset(X[:0], Y[:0], 1), ValueError, r"`x` and `y` must hold at least one example"),
    ("data.subset/one-hot", lambda: data.subset(X, ONE_HOT, 1), ValueError, r"one-hot labels: take their argmax"),
    ("data.sha256_of/chunk 0", lambda: data.sha256_of(__file__, chunk_size=0), ValueError, r"`chunk_size` must be a positive int"),
    ("data.verify_file/unknown file", lambda: data.verify_file("/tmp", "nope.npz"),
     ValueError, r"`folder` and `filename` must name a file of the course's mirror"),
    ("data.load_dataset/name", lambda: data.load_dataset("cifar100"), ValueError, r"`name` must be one of 'mnist'"),
    # gradcheck
    ("gradcheck.relative_error/shapes", lambda: gradcheck.relative_error(np.ones(3), np.ones(4)),
     ValueError, r"`a` and `b` must have the same shape .* \(3,\) and \(4,\)"),
    ("gradcheck.relative_error/empty", lambda: gradcheck.relative_error(np.ones(0), np.ones(0)), ValueError, r"`a` must not be empty"),
    ("gradcheck.normwise_relative_error/strings", lambda: gradcheck.normwise_relative_error(["a"], ["b"]),
     TypeError, r"`a` must hold real numbers"),
    ("gradcheck.numerical_gradient/h 0", lambda: gradcheck.numerical_gradient(np.sum, np.ones(3), h=0),
     ValueError, r"`h` must be a positive number"),
    ("gradcheck.numerical_gradient/h NaN", lambda: gradcheck.numerical_gradient(np.sum, np.ones(3), h=float("nan")),
     ValueError, r"`h` must be a positive number"),
    ("gradcheck.numerical_gradient/f not callable", lambda: gradcheck.numerical_gradient(3, np.ones(3)),
     TypeError, r"`f` must be a function"),
    ("gradcheck.numerical_gradient/f not scalar", lambda: gradcheck.numerical_gradient(lambda a: a * 2, np.ones(3)),
     ValueError, r"`f` must return a scalar; it returned shape \(3,\)"),
    # ops
    ("ops.padding_amounts/padding", lambda: ops.padding_amounts(5, 3, "zero"), ValueError, r"`padding` must be one of"),
    ("ops.padding_amounts/k 0", lambda: ops.padding_amounts(5, 0, "valid"), ValueError, r"`k` must be a positive int"),
    ("ops.correlate2d/strings", lambda: ops.correlate2d(np.full((4, 4), "a"), np.ones((3, 3))), TypeError, r"`image` must hold real"),
    ("ops.correlate2d/empty kernel", lambda: ops.correlate2d(np.zeros((4, 4)), np.ones((0, 0))), ValueError, r"must not be empty"),
    ("ops.batchnorm_forward/epsilon -1", lambda: ops.batchnorm_forward(X, np.ones(1), np.zeros(1), epsilon=-1),
     ValueError, r"`epsilon` must be a non-negative number"),
    ("ops.batchnorm_forward/empty", lambda: ops.batchnorm_forward(X[:0], np.ones(1), np.zeros(1)), ValueError, r"`x` must not be empty"),
    ("ops.batchnorm_inference/negative variance", lambda: ops.batchnorm_inference(
        X, np.ones(1), np.zeros(1), np.zeros(1), -np.ones(1)), ValueError, r"`moving_variance` must be non-negative"),
    ("ops.update_moving_statistics/shapes", lambda: ops.update_moving_statistics(np.zeros(1), np.ones(2), np.zeros(1), np.ones(1)),
     ValueError, r"The four statistics must have the same shape"),
    ("ops.batchnorm_backward/cache", lambda: ops.batchnorm_backward(X, None), TypeError, r"`cache` must be the dict"),
    # receptive_field, retrieval, runtime
    ("receptive_field.empirical_receptive_field/atol -1", lambda: receptive_field.empirical_receptive_field(
        _functional(), "conv", atol=-1.0), ValueError, r"`atol` must be a non-negative number"),
    ("receptive_field.empirical_receptive_field/inputs batch", lambda: receptive_field.empirical_receptive_field(
        _functional(), "conv", inputs=X[:1]), ValueError, r"`inputs` must have shape \(rows, cols, channels\), one image"),
    ("receptive_field.empirical_receptive_field/inputs NaN", lambda: receptive_field.empirical_receptive_field(
        _functional(), "conv", inputs=NAN_IMAGES[0]), ValueError, "`inputs` " + FINITE),
    ("retrieval.LatentIndex/NaN images", lambda: _index_search(images=np.full((4, 3), np.nan)), ValueError, "`images` " + FINITE),
    ("retrieval.LatentIndex/NaN queries", lambda: _index_search(queries=np.full((1, 3), np.nan)), ValueError, "`queries` " + FINITE),
    ("retrieval.LatentIndex/no queries", lambda: _index_search(queries=np.ones((0, 3))), ValueError, r"with Q >= 1"),
    ("retrieval.LatentIndex/strings", lambda: _index_search(images=np.full((4, 3), "a")), TypeError, r"`images` must hold real"),
    ("retrieval.LatentIndex/cosine of zero", lambda: _index_search("cosine", images=np.zeros((4, 3))),
     ValueError, r"zero feature vector.*cosine distance"),
    ("retrieval.precision_at_k/no query", lambda: retrieval.precision_at_k([], np.zeros((0, 2))),
     ValueError, r"`query_labels` must hold at least one query"),
    ("runtime.setup_notebook/deterministic", lambda: runtime.setup_notebook(deterministic="yes", verbose=False),
     TypeError, r"`deterministic` must be True or False"),
    ("runtime.setup_notebook/verbose 2", lambda: runtime.setup_notebook(verbose=2), TypeError, r"`verbose` must be True or False"),
    # transfer, tta, zoo, speedrun
    ("transfer.build_transfer_model/classes=1 softmax", lambda: transfer.build_transfer_model(_functional(), 1),
     ValueError, SOFTMAX_OF_ONE),
    ("transfer.build_transfer_model/pooling", lambda: transfer.build_transfer_model(_functional(), 2, pooling="min"),
     ValueError, r"`pooling` must be one of \('avg', 'max'\)"),
    ("transfer.set_trainable/trainable 'no'", lambda: transfer.set_trainable(_functional(), trainable="no"),
     TypeError, r"`trainable` must be True or False"),
    ("transfer.InferenceMode/not a layer", lambda: transfer.InferenceMode(3), TypeError, r"`layer` must be a Keras layer"),
    ("tta.horizontal_flip/one image", lambda: tta.horizontal_flip(X[0]), ValueError, r"`horizontal_flip` takes a batch"),
    ("tta.shift/one image", lambda: tta.shift(1, 0)(X[0]), ValueError, r"`shift_1_0` takes a batch"),
    ("tta.predict_tta/empty", lambda: tta.predict_tta(_functional(), X[:0], n_samples=2), ValueError, r"`data` must hold at least one"),
    ("tta.predict_tta/one image", lambda: tta.predict_tta(_functional(), X[0], n_samples=2),
     ValueError, r"`data` must be a batch of inputs of shape \(None, 8, 8, 1\)"),
    ("zoo.build_classifier/mean length", lambda: zoo.build_classifier("resnet20", [0.0], [1.0]),
     ValueError, r"`mean` must have shape \(3,\), one value per channel"),
    ("zoo.build_classifier/NaN mean", lambda: zoo.build_classifier("resnet20", [np.nan] * 3, [1.0] * 3), ValueError, "`mean` " + FINITE),
    ("zoo.build_classifier/negative variance", lambda: zoo.build_classifier("resnet20", [0.0] * 3, [-1.0] * 3),
     ValueError, r"`variance` must be non-negative"),
    ("zoo.recorded_predictions/tta 'yes'", lambda: zoo.recorded_predictions("resnet20", tta="yes"), TypeError, r"`tta` must be True"),
    ("zoo.record/name", lambda: zoo.record("resnet21"), ValueError, r"`name` must be one of"),
    ("speedrun.build_network/NaN images", lambda: speedrun.build_network(
        np.full((8, 32, 32, 3), np.nan, "float32"), whitening_images=8), ValueError, "`x_train` " + FINITE),
    ("speedrun.build_network/empty", lambda: speedrun.build_network(np.zeros((0, 32, 32, 3), "float32")),
     ValueError, r"`x_train` must not be empty"),
    ("speedrun.LinearWarmupDecay/warm-up", lambda: speedrun.LinearWarmupDecay(1.0, 10, 20),
     ValueError, r"`warmup_steps` must be smaller than `total_steps`"),
    ("speedrun.SpeedrunRecipe/learning rate NaN", lambda: speedrun.SpeedrunRecipe(learning_rate=float("nan")),
     ValueError, r"`learning_rate` must be a non-negative number"),
    # widgets, scaling, lookahead, initializers, layers: already clear, kept so
    ("widgets.kernel_from_text/ragged", lambda: widgets.kernel_from_text("1 2; 3"), ValueError, r"`text` must hold rows of equal length"),
    ("widgets.kernel_from_text/NaN", lambda: widgets.kernel_from_text("nan 1; 1 1"), ValueError, r"`text` must hold finite numbers"),
    ("widgets.convolution_step/NaN image", lambda: widgets.convolution_step(np.full((5, 5), np.nan), np.ones((3, 3))),
     ValueError, r"`image` must hold finite numbers"),
    ("widgets.convolution_step/empty image", lambda: widgets.convolution_step(np.zeros((0, 0)), np.ones((3, 3))),
     ValueError, r"`image` must be a non-empty 2-D array"),
    ("widgets.convolution_step/padding", lambda: widgets.convolution_step(np.zeros((5, 5)), np.ones((3, 3)), padding="zero"),
     ValueError, r"`padding` must be one of"),
    ("widgets.receptive_field_stack/kernel 0", lambda: widgets.receptive_field_stack([("conv", 0, 1)]),
     ValueError, r"`layers\[0\]` must be a pair \(kernel, stride\)"),
    ("scaling.ring_allreduce_seconds/bandwidth NaN", lambda: scaling.ring_allreduce_seconds(1e6, 4, float("nan")),
     ValueError, r"`bandwidth` must be a positive number"),
    ("scaling.data_parallel_speedup/serial 2", lambda: scaling.data_parallel_speedup(1.0, 1e6, 4, 1e9, serial_fraction=2.0),
     ValueError, r"`serial_fraction` must be a number in \[0, 1\]"),
    ("lookahead.Lookahead/every 0", lambda: lookahead.Lookahead(10, every=0), ValueError, r"`every` must be a positive int"),
    ("initializers.Dirac/even kernel", lambda: initializers.Dirac()((2, 2, 4, 4)), ValueError, r"2-D convolution kernels of odd size"),
    ("layers.ResidualBlock/3-D input", lambda: layers.ResidualBlock(8)(np.zeros((8, 8, 3), "float32")),
     ValueError, r"ResidualBlock expects inputs of shape \(batch, height, width, channels\)"),
    ("layers.TransitionLayer/compression 1.5", lambda: layers.TransitionLayer(compression=1.5),
     ValueError, r"`compression` must be a number in \(0, 1\]"),
    ("layers.PatchWhitening/NaN images", lambda: layers.PatchWhitening().adapt(NAN_IMAGES), ValueError, "`images` " + FINITE),
    ("layers.LocalResponseNormalization/beta NaN", lambda: layers.LocalResponseNormalization(beta=float("nan")),
     ValueError, r"`beta` must be a non-negative number"),
    ("layers.BottleneckBlock/stride_on", lambda: layers.BottleneckBlock(8, stride_on="2x2"), ValueError, r"`stride_on` must be"),
    ("layers.BottleneckBlock/groups", lambda: layers.BottleneckBlock(8, groups=3), ValueError, r"`groups` must divide `filters`"),
    ("layers.DenseBlock/growth 0", lambda: layers.DenseBlock(2, 0), ValueError, r"`growth_rate` must be a positive int"),
    ("layers.ResNeXtBlock/cardinality 0", lambda: layers.ResNeXtBlock(8, cardinality=0), ValueError, r"`cardinality` must be"),
    ("layers.PatchWhitening/epsilon -1", lambda: layers.PatchWhitening(epsilon=-1.0), ValueError, r"`epsilon` must be a positive"),
    # the rest of the public API, already clear: pinned so that it stays so
    ("viz.show_images/labels length", lambda: viz.show_images(X, labels=[0, 1]), ValueError, r"`labels` must have one entry per image"),
    ("viz.plot_history/metric", lambda: viz.plot_history({"loss": [1, 2]}, metrics=("acc",)),
     ValueError, r"`metrics` names 'acc', which `history` does not hold"),
    ("viz.plot_learning_curves/dict", lambda: viz.plot_learning_curves({"loss": [1.0]}), TypeError, r"`history` must be a pandas"),
    ("viz.plot_feature_maps/empty", lambda: viz.plot_feature_maps(np.zeros((1, 3, 3, 0))), TypeError, r"non-empty numeric array"),
    ("viz.show_receptive_field/center", lambda: viz.show_receptive_field(np.zeros((8, 8)), 3, center=(20, 20)),
     ValueError, r"`center` must lie in the image"),
    ("viz.plot_confusion_matrix/float labels", lambda: viz.plot_confusion_matrix([0.5, 1], [0, 1]),
     TypeError, r"`y_true` must hold integer class labels"),
    ("viz.show_misclassified/lengths", lambda: viz.show_misclassified(X, Y, Y[:3]), ValueError, r"must have the same length"),
    ("analysis.count_macs/not a model", lambda: analysis.count_macs("model"), TypeError, r"`model` must be a keras.Model"),
    ("analysis.parameter_table/block_of", lambda: analysis.parameter_table(_functional(), block_of=3), TypeError, r"`block_of` must be"),
    ("analysis.measure_throughput/steps 0", lambda: analysis.measure_throughput(_functional(), steps=0), ValueError, r"`steps` must be"),
    ("augment.geometric_augmentation/flip", lambda: augment.geometric_augmentation(flip="sideways"), ValueError, r"`flip` must be"),
    ("augment.photometric_augmentation/value_range", lambda: augment.photometric_augmentation(value_range=(255, 0)),
     ValueError, r"`value_range` must be a pair"),
    ("augment.photometric_augmentation/brightness 2", lambda: augment.photometric_augmentation(brightness=2.0),
     ValueError, r"`brightness` must be a number in \[0, 1.0\]"),
    ("batchnorm.set_batchnorm_momentum/NaN", lambda: batchnorm.set_batchnorm_momentum(_functional(), float("nan")),
     ValueError, r"`momentum` must be a number in \[0, 1\)"),
    ("batchnorm.batchnorm_layers/string", lambda: batchnorm.batchnorm_layers("m"), TypeError, r"`model` must be a Keras model"),
    ("data.class_names/name", lambda: data.class_names("imagenet"), ValueError, r"`name` must be one of"),
    ("data.find_mirror/name", lambda: data.find_mirror("nope"), ValueError, r"`name` must be one of"),
    ("data.load_digits/test_size 1.5", lambda: data.load_digits(test_size=1.5), ValueError, r"`test_size` must be a number in \(0, 1\)"),
    ("ops.output_size/kernel larger", lambda: ops.output_size(3, 5), ValueError, r"`kernel_size` \(5\) must not exceed"),
    ("ops.convolve2d/1-D kernel", lambda: ops.convolve2d(np.zeros((4, 4)), np.ones(3)), ValueError, r"`kernel` must have rank 2"),
    ("ops.conv2d_forward/channels", lambda: ops.conv2d_forward(np.zeros((1, 4, 4, 2)), np.ones((3, 3, 1, 1))),
     ValueError, r"`x` has 2 channels but `kernel` expects 1"),
    ("ops.conv2d_backward/dout shape", lambda: ops.conv2d_backward(
        np.zeros((1, 3, 3, 2)), np.zeros((1, 4, 4, 1)), np.ones((3, 3, 1, 2))), ValueError, r"`dout` must have the forward"),
    ("ops.pool2d/op string", lambda: ops.pool2d(X, "max"), TypeError, r"`op` must be a callable"),
    ("ops.max_pool2d_forward/3-D", lambda: ops.max_pool2d_forward(X[0]), ValueError, r"`x` must have rank 4"),
    ("ops.max_pool2d_backward/dout shape", lambda: ops.max_pool2d_backward(np.zeros((6, 3, 3, 1)), X),
     ValueError, r"`dout` must have the pooled output's shape"),
    ("ops.conv2d_params/filters 0", lambda: ops.conv2d_params(3, 1, 0), ValueError, r"`filters` must be a positive int"),
    ("ops.conv2d_macs/2-D input", lambda: ops.conv2d_macs((8, 8), 3, 4), ValueError, r"`input_shape` must be a tuple \(H, W, C\)"),
    ("ops.flatten_volume/2-D", lambda: ops.flatten_volume(np.zeros((3, 3))), ValueError, r"`x` must have shape \(H, W, C\)"),
    ("ops.unflatten_volume/size", lambda: ops.unflatten_volume(np.zeros(10), (2, 2, 2)), ValueError, r"`v` must have shape \(8,\)"),
    ("ops.conv_to_dense/channels", lambda: ops.conv_to_dense(np.ones((3, 3, 1, 1)), np.zeros(1), (4, 4, 2)),
     ValueError, r"`input_shape` has 2 channels"),
    ("receptive_field.receptive_field/not a model", lambda: receptive_field.receptive_field("m"), TypeError, r"`model` must be"),
    ("receptive_field.empirical_receptive_field/layer", lambda: receptive_field.empirical_receptive_field(_functional(), "nope"),
     ValueError, r"`layer_name` must name a layer"),
    ("retrieval.LatentIndex/metric", lambda: retrieval.LatentIndex(metric="l1"), ValueError, r"`metric` must be one of"),
    ("retrieval.precision_at_k/k 0", lambda: retrieval.precision_at_k([0], np.zeros((1, 2)), k=0), ValueError, r"`k` must be"),
    ("scaling.scaling_table/links", lambda: scaling.scaling_table(1.0, 1e6, links={}), ValueError, r"`links` must name at least one"),
    ("transfer.set_trainable/layer", lambda: transfer.set_trainable(_functional(), "nope"), ValueError, r"`from_layer` must name"),
    ("transfer.fine_tuning_learning_rate/factor 0", lambda: transfer.fine_tuning_learning_rate(0.1, factor=0),
     ValueError, r"`factor` must be a number >= 1"),
    ("tta.shift/float", lambda: tta.shift(1.5, 0), TypeError, r"`rows` must be an int"),
    ("tta.TTAModel/aggregate", lambda: tta.TTAModel(_functional(), aggregate="sum"), ValueError, r"`aggregate` must be one of"),
    ("tta.TTAModel/view_weights NaN", lambda: tta.TTAModel(_functional(), augmentations=[tta.identity, tta.horizontal_flip],
                                                          view_weights=[1, float("nan")]), ValueError, r"`view_weights` must be"),
    ("zoo.files/name", lambda: zoo.files("resnet21"), ValueError, r"`name` must be one of"),
    ("zoo.load/name", lambda: zoo.load("nope"), ValueError, r"`name` must be one of"),
    ("zoo.encode_predictions/10", lambda: zoo.encode_predictions(np.array([0, 10])), ValueError, r"class indices from 0 to 9"),
    ("speedrun.keras_hyperparameters/momentum 1", lambda: speedrun.keras_hyperparameters(0.1, 1.0, 5e-4, 128),
     ValueError, r"`momentum` must be a number in \[0, 1\)"),
    ("speedrun.fit_whitening/images 0", lambda: speedrun.fit_whitening(_functional(), X, images=0), ValueError, r"`images` must be"),
    ("speedrun.load_ablation/folder", lambda: speedrun.load_ablation("/nonexistent"), FileNotFoundError, r"ablation.json is missing"),
    ("widgets.kernel_to_text/1-D", lambda: widgets.kernel_to_text(np.ones(3)), ValueError, r"`kernel` must be a non-empty 2-D array"),
    ("widgets.receptive_field_stack/input 0", lambda: widgets.receptive_field_stack([("conv", 3, 1)], input_size=0),
     ValueError, r"`input_size` must be None or a positive int"),
    ("lookahead.Lookahead/peak_decay 1.5", lambda: lookahead.Lookahead(10, peak_decay=1.5), ValueError, r"`peak_decay` must be"),
    ("initializers.Dirac/2-D shape", lambda: initializers.Dirac()((3, 3)), ValueError, r"2-D convolution kernels"),
    ("multiprocess.run_processes/no command", lambda: multiprocess.run_processes([], 1.0), ValueError, r"`commands` must be a non-empty"),
    ("multiprocess.run_processes/timeout 0", lambda: multiprocess.run_processes([["true"]], 0), ValueError,
     r"`timeout` must be a positive"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_sweep_covers_every_public_module_in_its_scope():
    covered = {case[0].split(".")[0].split("/")[0] for case in CASES}
    expected = {"analysis", "augment", "autodiff", "batchnorm", "data", "experiment", "gradcheck", "initializers",
                "interpret", "layers", "lookahead", "mixup", "models", "multiprocess", "ops", "pretrained", "receptive_field",
                "retrieval", "runtime", "scaling", "speedrun", "transfer", "tta", "viz", "widgets", "zoo"}
    assert expected <= covered, expected - covered


def test_sharding_says_what_it_needs():
    from course_lib.distributed import sharding

    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match=r"`batch_size` must be a positive int"):
            sharding.data_parallel(0)
    else:
        with pytest.raises(RuntimeError, match=r'needs Keras\'s JAX backend.*pip install "cnn-course\[jax\]"'):
            sharding.data_parallel(8)


# What the checks must still accept. -------------------------------------------


def test_one_output_classifiers_without_a_softmax_still_build():
    assert C.check_classifier(1, "sigmoid") == 1 and C.check_classifier(1, None) == 1
    assert C.check_classifier(2, keras.activations.softmax) == 2
    with pytest.raises(ValueError, match=SOFTMAX_OF_ONE):
        C.check_classifier(1, keras.activations.softmax)  # the function, not only its name
    model = transfer.build_transfer_model(_functional(), 1, classifier_activation="sigmoid")
    assert model.output_shape == (None, 1)


def test_with_standardization_on_finite_images_standardizes_them():
    images = np.random.default_rng(1).integers(0, 256, (16, 8, 8, 1)).astype("uint8")
    identity = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Identity()])
    standardized = keras.ops.convert_to_numpy(experiment.with_standardization(identity, images)(images))
    assert abs(standardized.mean()) < 1e-4 and abs(standardized.std() - 1) < 1e-3


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_the_label_check_accepts_smoothed_labels_in_every_float_dtype(dtype):
    # mixup_batch, MixUpBatches and MixUp on NumPy labels run this check (the cases above).
    ten_classes = np.eye(10, dtype=dtype)[np.arange(20) % 10]
    C.check_distributions((ten_classes * 0.9 + 0.01).astype(dtype))


def test_explanations_work_on_a_sequential_model_as_on_a_functional_one():
    sequential, functional = _sequential(), _functional()
    functional.set_weights(sequential.get_weights())
    for explain in (
        lambda m: interpret.grad_cam(m, X, 1, "conv"),
        lambda m: interpret.class_activation_map(m, X, 1),
        lambda m: interpret.saliency_map(m, X, 1),
    ):
        np.testing.assert_allclose(explain(sequential), explain(functional), rtol=1e-5, atol=1e-6)


def test_overlay_map_still_draws_a_constant_map():
    ax = viz.overlay_map(np.zeros((8, 8), "uint8"), np.zeros((2, 2)))
    assert len(ax.images) == 2


@pytest.mark.parametrize("explorer", ["ConvolutionExplorer", "ReceptiveFieldExplorer"])
def test_a_widget_without_ipywidgets_names_the_extra_to_install(monkeypatch, explorer):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=rf'{explorer} needs .*pip install "cnn-course\[widgets\]"'):
        getattr(widgets, explorer)()


def test_import_optional_refuses_a_package_it_does_not_know():
    with pytest.raises(ValueError, match=r"`module` must be a module of an optional package"):
        _optional.import_optional("numpy")


# Property-based: the shared checks, on arrays hypothesis draws. ---------------

SMALL_FLOATS = hnp.arrays("float64", hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                          elements=st.floats(-1e6, 1e6))


@settings(max_examples=50, deadline=None)
@given(SMALL_FLOATS, st.data())
def test_check_array_refuses_any_non_finite_value_and_accepts_finite_arrays(array, draw):
    assert C.check_array(array, "x", finite=True) is not None
    position = draw.draw(st.tuples(*(st.integers(0, side - 1) for side in array.shape)))
    bad = array.copy()
    bad[position] = draw.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with pytest.raises(ValueError, match=r"`x` must hold finite numbers"):
        C.check_array(bad, "x", finite=True)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays("float64", st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=st.floats(0.01, 10)))
def test_check_distributions_accepts_normalized_rows_and_refuses_scaled_ones(weights):
    distributions = weights / weights.sum(axis=1, keepdims=True)
    C.check_distributions(distributions)
    scaled = distributions.copy()
    scaled[-1] *= 1.5
    with pytest.raises(ValueError, match=rf"row {len(scaled) - 1} sums to 1\.5"):
        C.check_distributions(scaled)
