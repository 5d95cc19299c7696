"""Parity and argument tests of the Part III model builders.

The full-size models are built without weights (nothing is downloaded) and
compared with the published parameter counts and, where Keras has the
application, with `keras.applications` (counts and output shapes).
"""

import keras
import numpy as np
import pytest

from course_lib.analysis import count_macs
from course_lib.models.alexnet import alexnet, alexnet_cifar
from course_lib.models.densenet import densenet, densenet121, densenet_cifar
from course_lib.models.googlenet import AUX_LOSS_WEIGHTS, googlenet, googlenet_cifar
from course_lib.models.mobilenet import mobilenet, mobilenet_cifar
from course_lib.models.nin import nin
from course_lib.models.resnet import resnet, resnet50, resnet_cifar, wide_resnet
from course_lib.models.resnext import resnext, resnext50_32x4d, resnext_cifar
from course_lib.models.vgg import vgg16, vgg16_cifar


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.full_size
@pytest.mark.parametrize(
    "build, count, counted",
    [
        (lambda: alexnet(groups=2), 60_965_224, "all"),
        (lambda: alexnet(groups=1), 62_378_344, "all"),
        (vgg16, 138_357_544, "all"),
        (nin, 966_986, "all"),
        (resnet50, 25_636_712, "all"),
        (lambda: resnet(101), 44_707_176, "all"),  # keras.applications.ResNet101
        (lambda: resnet(152), 60_419_944, "all"),  # keras.applications.ResNet152
        (lambda: resnet(18), 11_689_512, "trainable"),  # torchvision resnet18
        (lambda: resnet(34), 21_797_672, "trainable"),  # torchvision resnet34
        (mobilenet, 4_253_864, "all"),
        (lambda: wide_resnet(28, 10), 36_479_194, "trainable"),
        (resnext50_32x4d, 25_028_904, "trainable"),
        (densenet121, 8_062_504, "all"),
    ],
    ids=["alexnet_g2", "alexnet_g1", "vgg16", "nin", "resnet50", "resnet101", "resnet152",
         "resnet18", "resnet34", "mobilenet", "wrn_28_10", "resnext50", "densenet121"],
)
def test_parameter_counts_equal_the_references(build, count, counted):
    model = build()
    assert (model.count_params() if counted == "all" else trainable_count(model)) == count


def _shapes(model, names):
    return [tuple(model.get_layer(name).output.shape) for name in names]


@pytest.mark.full_size
def test_vgg16_equals_keras_application_layer_by_layer():
    ours, keras_vgg = vgg16(), keras.applications.VGG16(weights=None)
    assert [layer.name for layer in ours.layers[1:]] == [layer.name for layer in keras_vgg.layers[1:]]
    for a, b in zip(ours.layers, keras_vgg.layers):
        assert a.output.shape == b.output.shape and a.count_params() == b.count_params()


@pytest.mark.full_size
def test_resnet50_stage_shapes_equal_keras_application():
    ours, reference = resnet50(), keras.applications.ResNet50(weights=None)
    assert ours.count_params() == reference.count_params()
    blocks = [f"conv{s}_block{b}" for s, n in zip(range(2, 6), (3, 4, 6, 3)) for b in range(1, n + 1)]
    assert _shapes(ours, blocks) == _shapes(reference, [f"{b}_out" for b in blocks])
    assert _shapes(ours, ["pool1_pool", "predictions"]) == _shapes(reference, ["pool1_pool", "predictions"])


@pytest.mark.full_size
def test_mobilenet_block_shapes_equal_keras_application():
    ours, reference = mobilenet(), keras.applications.MobileNet(weights=None)
    assert ours.count_params() == reference.count_params()
    assert _shapes(ours, [f"conv_dw_{i}" for i in range(1, 14)]) == _shapes(
        reference, [f"conv_pw_{i}_relu" for i in range(1, 14)]
    )


@pytest.mark.full_size
def test_densenet121_block_shapes_equal_keras_application():
    ours, reference = densenet121(), keras.applications.DenseNet121(weights=None)
    assert ours.count_params() == reference.count_params()
    last = {2: 6, 3: 12, 4: 24, 5: 16}
    assert _shapes(ours, [f"conv{i}" for i in last]) == _shapes(
        reference, [f"conv{i}_block{n}_concat" for i, n in last.items()]
    )
    assert _shapes(ours, ["pool2", "pool3", "pool4"]) == _shapes(
        reference, ["pool2_pool", "pool3_pool", "pool4_pool"]
    )


@pytest.mark.full_size
def test_macs_equal_the_references():
    assert round(count_macs(vgg16()) / 1e9, 2) == 15.47
    assert round(count_macs(mobilenet()) / 1e6) == 569
    assert round(count_macs(resnet50()) / 1e9, 2) == 3.86
    assert round(count_macs(resnet50(stride_on="3x3")) / 1e9, 2) == 4.09
    assert count_macs(mobilenet()) == count_macs(keras.applications.MobileNet(weights=None))


# Szegedy et al. 2015, Table 1, "params" column (thousands, weights only).
GOOGLENET_TABLE_1 = {
    "conv1": 2.7, "conv2": 112, "inception_3a": 159, "inception_3b": 380,
    "inception_4a": 364, "inception_4b": 437, "inception_4c": 463, "inception_4d": 580,
    "inception_4e": 840, "inception_5a": 1072, "inception_5b": 1388, "predictions": 1000,
}
# Rows where Table 1 disagrees with its own layout: conv1 (7*7*3*64 = 9,408
# weights, not 2.7K) and inception_4c (its filter sizes give 509K, not 463K).
GOOGLENET_TABLE_ERRORS = {"conv1", "inception_4c"}


@pytest.mark.full_size
def test_googlenet_per_layer_counts_against_table_1():
    model = googlenet()

    def weights(layer):
        return sum(int(np.prod(w.shape)) for w in layer.weights if len(w.shape) > 1)

    ours = {layer.name: weights(layer) / 1000 for layer in model.layers if layer.weights}
    ours["conv2"] += ours.pop("conv2_reduce")
    assert set(ours) == set(GOOGLENET_TABLE_1)
    for name, paper in GOOGLENET_TABLE_1.items():
        if name not in GOOGLENET_TABLE_ERRORS:
            assert abs(ours[name] - paper) / paper < 0.05, (name, ours[name], paper)
    assert abs(sum(ours.values()) / sum(GOOGLENET_TABLE_1.values()) - 1) < 0.03
    assert ours["conv1"] == 7 * 7 * 3 * 64 / 1000
    assert round(ours["inception_4c"]) == 509


def test_googlenet_aux_heads_train_and_are_dropped_at_inference():
    train, infer = googlenet(input_shape=(32, 32, 3), classes=3, aux_heads=True, width=0.125,
                             local_response_norm=False)
    assert [out.shape[-1] for out in train.outputs] == [3, 3, 3]
    assert len(infer.outputs) == 1
    shared = {id(w) for w in infer.weights}
    assert shared < {id(w) for w in train.weights}  # inference weights are the training ones
    train.compile(
        optimizer="sgd",
        loss={name: "sparse_categorical_crossentropy" for name in AUX_LOSS_WEIGHTS},
        loss_weights=AUX_LOSS_WEIGHTS,
    )
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    train.fit(x, {name: y for name in AUX_LOSS_WEIGHTS}, epochs=1, verbose=0)
    assert infer.predict(x, verbose=0).shape == (4, 3)


@pytest.mark.parametrize(
    "build",
    [
        lambda **k: alexnet(input_shape=(67, 67, 3), width=0.1, **k),
        lambda **k: vgg16(input_shape=(32, 32, 3), width=0.1, dense_units=16, **k),
        lambda **k: nin(width=0.1, **k),
        lambda **k: googlenet(input_shape=(32, 32, 3), width=0.1, **k),
        lambda **k: resnet(18, input_shape=(32, 32, 3), width=0.1, **k),
        lambda **k: mobilenet(input_shape=(32, 32, 3), alpha=0.25, **k),
        lambda **k: wide_resnet(10, 1, **k),
        lambda **k: resnext((1, 1, 1, 1), 2, 2, input_shape=(32, 32, 3), **k),
        lambda **k: densenet((2, 2), 4, input_shape=(32, 32, 3), **k),
    ],
    ids=["alexnet", "vgg16", "nin", "googlenet", "resnet18", "mobilenet", "wrn", "resnext", "densenet"],
)
def test_small_variants_top_and_feature_extractor(build):
    model = build(classes=7)
    assert model.output_shape == (None, 7)
    x = np.random.default_rng(0).uniform(size=(2,) + model.input_shape[1:]).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    features = build(include_top=False)
    assert len(features.output_shape) == 4
    pooled = build(include_top=False, pooling="avg")
    assert pooled.output_shape == (None, features.output_shape[-1])
    logits = build(classes=7, classifier_activation=None)
    assert logits.output_shape == (None, 7)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: resnet(20), "`depth` must be one of"),
        (lambda: wide_resnet(27, 10), "`depth` must be an int of the form 6n \\+ 4"),
        (lambda: wide_resnet(28, 0), "`width` must be a positive int"),
        (lambda: resnext(cardinality=0), "`cardinality` must be a positive int"),
        (lambda: resnext(blocks=(3, 0, 1)), "`blocks` must be a sequence of positive ints"),
        (lambda: resnet50(input_shape=(16, 16, 3)), "`input_shape` must be at least"),
        (lambda: vgg16(input_shape=(224, 224)), "`input_shape` must be a tuple of three"),
        (lambda: alexnet(input_shape=(64, 64, 3)), "`input_shape` must be at least"),
        (lambda: mobilenet(include_top=True, pooling="avg"), "`pooling` only applies"),
        (lambda: densenet121(classes=0), "`classes` must be a positive int"),
        (lambda: alexnet(groups=3), "`groups` must be 1 or 2"),
        (lambda: vgg16(width=0), "`width` must be a positive number"),
        (lambda: mobilenet(alpha=-1), "`alpha` must be a positive number"),
        (lambda: googlenet(include_top=False, aux_heads=True), "`aux_heads=True` needs"),
        (lambda: densenet(blocks=()), "`blocks` must be a non-empty"),
    ],
)
def test_impossible_configurations_are_rejected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.full_size
@pytest.mark.parametrize(
    "ours, reference, pairs",
    [
        (resnet50, keras.applications.ResNet50,
         {"conv2_block3": "conv2_block3_out", "conv4_block6": "conv4_block6_out",
          "conv5_block3": "conv5_block3_out"}),
        (densenet121, keras.applications.DenseNet121,
         {"conv3": "conv3_block12_concat", "pool4": "pool4_pool", "conv5": "conv5_block16_concat"}),
        (mobilenet, keras.applications.MobileNet,
         {"conv_dw_6": "conv_pw_6_relu", "conv_dw_13": "conv_pw_13_relu"}),
    ],
    ids=["resnet50", "densenet121", "mobilenet"],
)
def test_receptive_fields_of_composite_layers_equal_keras_applications(ours, reference, pairs):
    # Our models are built from composite layers (their paths are followed
    # through `receptive_field_paths`), Keras's from flat graphs.
    from course_lib.receptive_field import receptive_field

    columns = ["field_rows", "field_cols", "jump_rows", "start_rows"]
    a = receptive_field(ours()).loc[list(pairs), columns]
    b = receptive_field(reference(weights=None)).loc[list(pairs.values()), columns]
    np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float))


# He et al. (2016), section 4.2: 0.27M, 0.46M, 0.66M, 0.85M and 1.7M parameters for ResNet-20 to
# -110 (option A shortcuts); the projections of option B add under 1 %. Huang et al. (2017),
# Table 2: DenseNet-BC (k = 12) 100 layers 0.8M, (k = 24) 250 layers 15.3M.
@pytest.mark.full_size
@pytest.mark.parametrize(
    "build, published, tolerance",
    [
        (lambda: resnet_cifar(20), 0.27e6, 0.01),
        (lambda: resnet_cifar(32), 0.46e6, 0.02),
        (lambda: resnet_cifar(44), 0.66e6, 0.01),
        (lambda: resnet_cifar(56), 0.85e6, 0.01),
        (lambda: resnet_cifar(110), 1.7e6, 0.02),
        (lambda: densenet_cifar(100, 12), 0.8e6, 0.05),
        (lambda: densenet_cifar(250, 24), 15.3e6, 0.01),
    ],
    ids=["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "densenet_bc_100", "densenet_bc_250"],
)
def test_cifar_builders_match_the_papers_counts(build, published, tolerance):
    assert trainable_count(build()) == pytest.approx(published, rel=tolerance)


@pytest.mark.full_size  # output shapes of the CIFAR builders at their full width
@pytest.mark.parametrize(
    "build, last_grid",
    [
        (alexnet_cifar, ("pool5", (4, 4))),
        (vgg16_cifar, ("block5_pool", (1, 1))),
        (googlenet_cifar, ("inception_5b", (4, 4))),
        (mobilenet_cifar, ("conv_dw_13", (2, 2))),
        (resnet_cifar, ("stage3_block3", (8, 8))),
        (resnext_cifar, ("stage3_block2", (8, 8))),
        (densenet_cifar, ("dense3", (8, 8))),
    ],
    ids=["alexnet", "vgg16", "googlenet", "mobilenet", "resnet", "resnext", "densenet"],
)
def test_cifar_variants_keep_a_spatial_grid_to_the_end(build, last_grid):
    model = build()
    layer, grid = last_grid
    assert model.output_shape == (None, 10)
    assert tuple(model.get_layer(layer).output.shape[1:3]) == grid


def test_alexnet_cifar_keeps_the_paper_layers_and_groups():
    model = alexnet_cifar(width=1.0)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convs] == [64, 192, 384, 256, 256]
    assert [layer.groups for layer in convs] == [1, 2, 1, 2, 2]
    assert [layer.name for layer in model.layers if "lrn" in layer.name] == ["lrn1", "lrn2"]
    single = alexnet_cifar(width=1.0, groups=1)
    grouped_saving = sum(c.count_params() for c in convs) - sum(
        layer.count_params() for layer in single.layers if isinstance(layer, keras.layers.Conv2D))
    assert grouped_saving < 0  # the split halves conv2, conv4 and conv5's weights


def test_googlenet_cifar_with_aux_heads_trains_on_32x32():
    training, inference = googlenet_cifar(width=0.125, aux_heads=True)
    assert training.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    x = np.zeros((2, 32, 32, 3), "float32")
    training.compile("sgd", loss=["sparse_categorical_crossentropy"] * 3,
                     loss_weights=list(AUX_LOSS_WEIGHTS.values()))
    training.train_on_batch(x, [np.zeros(2, int)] * 3)
    assert inference.output_shape == (None, 10)


def test_vgg16_batch_norm_follows_every_convolution():
    model = vgg16_cifar(width=0.125)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("BatchNormalization") == kinds.count("Conv2D") == 13
    assert not any(layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    plain = vgg16_cifar(width=0.125, batch_norm=False)
    assert [type(layer).__name__ for layer in plain.layers].count("BatchNormalization") == 0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: resnet_cifar(21), "6n \\+ 2"),
        (lambda: densenet_cifar(41), "6n \\+ 4"),
        (lambda: resnext_cifar((1, 1)), "`blocks` must be a sequence of 3 positive ints"),
        (lambda: mobilenet(stem_strides=3), "stem_strides"),
        (lambda: alexnet_cifar(groups=3), "groups"),
        (lambda: googlenet_cifar(include_top=False, aux_heads=True), "aux_heads"),
    ],
)
def test_cifar_builders_reject_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
