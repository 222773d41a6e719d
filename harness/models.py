"""Model registry: a model is a function from an image tensor (0-255 floats) to a feature tensor.

The engine adds augmentation in front and the task's head behind, so a new model is a few lines.
Transfer models add a Keras application as a frozen `backbone` with its own input `preprocess`; their
registered function is then the head on the backbone's features (it also runs alone on cached features).
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import keras
from keras import layers

from harness.augment import Augment
from harness.errors import HarnessError
from harness.registry import Registry

WEIGHTS = ("imagenet", "none")  # or a path to a weights file


@dataclass(frozen=True)
class ModelSpec:
    name: str
    body: Callable  # (x: float tensor in 0..255, or the backbone's features) -> features tensor
    image_size: int
    description: str = ""
    backbone: Optional[Callable] = None  # keras.applications factory (include_top, weights, input_shape, pooling)
    preprocess: Optional[Callable] = None  # the backbone's own input scaling of 0..255 floats
    pooling: Optional[str] = None  # passed to the application: "avg" caches vectors, None feature maps
    weights: str = "none"  # what --weights defaults to
    weights_file: str = ""  # the file Keras keeps in ~/.keras/models/ for weights="imagenet"


MODELS = Registry("model")


def register_model(name: str, image_size: int, **transfer):
    """Register the decorated body under `name` with its default input size (and backbone, for transfer)."""
    def wrap(fn):
        MODELS.add(name, ModelSpec(name, fn, image_size, (fn.__doc__ or "").strip(), **transfer))
        return fn
    return wrap


def get(name: str) -> ModelSpec:
    return MODELS.get(name)


def _caffe(x):
    """VGG/ResNet ImageNet scaling: RGB -> BGR, minus the ImageNet channel means."""
    return layers.Lambda(lambda t: keras.ops.flip(t, axis=-1) - keras.ops.convert_to_tensor(
        [103.939, 116.779, 123.68], dtype=t.dtype), name="caffe_preprocess")(x)


def _raw(x):
    """EfficientNets rescale 0..255 inputs inside the application."""
    return x


def _conv_block(x, filters, convs=1, batchnorm=True):
    for _ in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batchnorm,
                          activation=None if batchnorm else "relu")(x)
        if batchnorm:
            # momentum 0.9, not 0.99: on a few hundred steps the moving statistics must settle within epochs,
            # or validation (which uses them) lags training and early stopping keeps a bad epoch
            x = layers.Activation("relu")(layers.BatchNormalization(momentum=0.9)(x))
    return layers.MaxPooling2D()(x)


@register_model("small-cnn", image_size=64)
def small_cnn(x):
    """Conv blocks 32-64-128 with max pooling, dropout and a dense head, as in the seed tutorials."""
    x = layers.Rescaling(1 / 255)(x)
    for filters in (32, 64, 128):
        x = _conv_block(x, filters)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(128, activation="relu")(x)
    return layers.Dropout(0.3)(x)


@register_model("vgg-small", image_size=150)
def vgg_small(x):
    """VGG-style CNN from scratch (dogs-vs-cats tutorial): conv blocks 32-64-128-128, dense 512, dropout 0.5."""
    x = layers.Rescaling(1 / 255)(x)
    for filters in (32, 64, 128, 128):
        x = _conv_block(x, filters, batchnorm=False)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    return layers.Dense(512, activation="relu")(x)


@register_model("vgg16", image_size=224)
def vgg16(x):
    """Full VGG16 trained from scratch (Pascal VOC tutorial): 13 convs in 5 blocks, two dense 4096 layers."""
    x = layers.Rescaling(1 / 255)(x)
    for filters, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        x = _conv_block(x, filters, convs, batchnorm=False)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dropout(0.5)(layers.Dense(4096, activation="relu")(x))
    return x


@register_model("resnet50", image_size=224, backbone=keras.applications.ResNet50, preprocess=_caffe,
                pooling="avg", weights="imagenet", weights_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
def resnet50(f):
    """ResNet-50 ImageNet backbone, frozen, average-pooled, + dropout and a new head (Marvel tutorial)."""
    return layers.Dropout(0.3)(f)


@register_model("vgg16-bottleneck", image_size=224, backbone=keras.applications.VGG16, preprocess=_caffe,
                weights="imagenet", weights_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
def vgg16_bottleneck(f):
    """Frozen VGG16 features + the animals tutorial's MLP: Dense 100 / 50 with LeakyReLU 0.3 and dropout."""
    f = layers.Flatten()(f)
    f = layers.Dropout(0.5)(layers.LeakyReLU(0.3)(layers.Dense(100)(f)))
    return layers.Dropout(0.3)(layers.LeakyReLU(0.3)(layers.Dense(50)(f)))


@register_model("efficientnet-b0", image_size=224, backbone=keras.applications.EfficientNetB0, preprocess=_raw,
                pooling="avg", weights="imagenet", weights_file="efficientnetb0_notop.h5")
def efficientnet_b0(f):
    """EfficientNet-B0 ImageNet backbone, frozen, average-pooled, + dropout 0.2: the default for photos."""
    return layers.Dropout(0.2)(f)


@register_model("efficientnetv2-b0", image_size=224, backbone=keras.applications.EfficientNetV2B0,
                preprocess=_raw, pooling="avg", weights="imagenet", weights_file="efficientnetv2-b0_notop.h5")
def efficientnetv2_b0(f):
    """EfficientNetV2-B0 ImageNet backbone, frozen, average-pooled, + dropout 0.2."""
    return layers.Dropout(0.2)(f)


def keras_cache() -> Path:
    """Where Keras keeps downloaded application weights: $KERAS_HOME/models, else ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME") or Path(os.path.expanduser("~")) / ".keras") / "models"


def resolve_weights(spec: ModelSpec, weights: Optional[str]) -> Optional[str]:
    """None (random init), a weights file, or "imagenet" when Keras must download the file itself."""
    weights = spec.weights if weights in (None, "default") else weights
    if weights == "none":
        return None
    if weights == "imagenet":
        if spec.backbone is None:
            raise HarnessError(f"Model {spec.name} is trained from scratch and has no ImageNet weights; use "
                               f"--weights none or a model with a backbone. Received: weights='imagenet'")
        cached = keras_cache() / spec.weights_file
        return str(cached) if cached.exists() else "imagenet"
    if not Path(weights).is_file():
        raise HarnessError(f"--weights must be one of {', '.join(WEIGHTS)} or an existing weights file. "
                           f"Received: weights={weights!r}")
    return str(weights)


def make_backbone(spec: ModelSpec, size: int, weights) -> keras.Model:
    """The spec's Keras application without its top, frozen, with `weights` (see resolve_weights)."""
    try:
        base = spec.backbone(include_top=False, weights=weights, input_shape=(size, size, 3), pooling=spec.pooling)
    except Exception as e:
        if weights != "imagenet" or (keras_cache() / spec.weights_file).exists():
            raise
        raise HarnessError(
            f"ImageNet weights for {spec.name} could not be downloaded ({type(e).__name__}); offline, put "
            f"{spec.weights_file} in {keras_cache()}/ (on Kaggle: attach it as a dataset and copy it there), "
            f"or pass --weights PATH or --weights none.") from None
    base.trainable = False
    return base


def frozen_features(spec: ModelSpec, x, size: int, weights, backbone_seed: int):
    """x (0..255 floats) -> the frozen backbone's features; the init depends only on `backbone_seed`."""
    keras.utils.set_random_seed(backbone_seed)
    base = make_backbone(spec, size, resolve_weights(spec, weights))
    return base(spec.preprocess(x), training=False)  # training=False: BatchNorm and dropout stay in inference


def _head(spec, features, outputs: int, task: str, seed: int):
    keras.utils.set_random_seed(seed)  # the head's init depends only on `seed`, in both the full and cached paths
    x = spec.body(features)
    return layers.Dense(outputs, activation=head_activation(task), dtype="float32", name="head")(x)


def build(spec: ModelSpec, size: int, outputs: int, task: str, augment=(), seed: int = 0, weights=None,
          backbone_seed=None, images=None) -> keras.Model:
    """uint8 images -> augmentation (training only) -> model body -> the task's head.

    With `images` (ondevice.DeviceImages) the model reads rows of those images instead, gathered on the device.
    With a backbone, the head is a model of its own (`head_of`), so it also runs alone on the backbone's features."""
    if images is None:
        inputs = x = keras.Input((size, size, 3), dtype="uint8", name="image")
    else:
        inputs = keras.Input((), dtype="int32", name="row")
        x = images(inputs)
    x = layers.Identity(dtype="float32")(keras.ops.cast(x, "float32"))
    if augment:
        x = Augment(augment, seed)(x)
    if spec.backbone is None:
        head = layers.Dense(outputs, activation=head_activation(task), dtype="float32", name="head")(spec.body(x))
        model = keras.Model(inputs, head, name=spec.name)
        if weights not in (None, "default", "none"):
            resolve_weights(spec, weights)  # refuses imagenet, checks the path
            model.load_weights(weights)
        return model
    x = frozen_features(spec, x, size, weights, seed if backbone_seed is None else backbone_seed)
    return keras.Model(inputs, build_head(spec, x.shape[1:], outputs, task, seed)(x), name=spec.name)


def head_of(model: keras.Model) -> keras.Model:
    """The head inside a model that `build` put on a backbone."""
    return model.get_layer(f"{model.name}-head")


def build_extractor(spec: ModelSpec, size: int, weights=None, backbone_seed: int = 0) -> keras.Model:
    """uint8 images -> the frozen backbone's features: computed once for cached-feature training."""
    inputs = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = layers.Identity(dtype="float32")(keras.ops.cast(inputs, "float32"))
    return keras.Model(inputs, frozen_features(spec, x, size, weights, backbone_seed), name=f"{spec.name}-features")


def build_head(spec: ModelSpec, feature_shape, outputs: int, task: str, seed: int = 0) -> keras.Model:
    """Cached features -> the same head `build` puts on the backbone, initialised the same way."""
    inputs = keras.Input(tuple(feature_shape), name="features")
    return keras.Model(inputs, _head(spec, inputs, outputs, task, seed), name=f"{spec.name}-head")


def unfreeze_top(model: keras.Model, fraction: float = 0.25) -> int:
    """Make the top `fraction` of the backbone's layers trainable (BatchNorm stays frozen); returns how many."""
    base = next(l for l in model.layers if isinstance(l, keras.Model))
    base.trainable = True
    layers_ = [l for l in base.layers if l.weights]
    cut = len(layers_) - max(1, round(len(layers_) * fraction))
    for i, layer in enumerate(layers_):
        layer.trainable = i >= cut and not isinstance(layer, layers.BatchNormalization)
    return sum(1 for l in layers_ if l.trainable)


# Ordinal grades are regressed (one linear unit, squared error), not classified: quadratic weighted kappa
# charges a wrong grade by its squared distance, which is what the squared error trains against, while a
# softmax's cross-entropy treats 0-vs-4 like 3-vs-4. Thresholds fitted on the OOF grades (harness.cuts) then
# make integers, as APTOS competitors did.
_TASK_HEADS = {"binary": ("sigmoid", "binary_crossentropy", "accuracy"),
               "multiclass": ("softmax", "sparse_categorical_crossentropy", "accuracy"),
               "multilabel": ("sigmoid", "binary_crossentropy", "binary_accuracy"),
               "ordinal": (None, "mean_squared_error", "mean_absolute_error")}


def head_activation(task: str):
    return _TASK_HEADS[task][0]


def default_batch(spec: ModelSpec, accelerator: str) -> int:
    """Images per device and step when --batch-size is not given: 64 on CPU; on an accelerator big steps keep it
    busy, bigger still behind a frozen backbone, which keeps no activations for gradients."""
    if accelerator == "cpu":
        return 64
    return 256 if spec.backbone is not None else 128


def loss_for(task: str) -> str:
    return _TASK_HEADS[task][1]


def fit_metric(task: str) -> str:
    """What Keras reports beside the loss while fitting (the curves plot it)."""
    return _TASK_HEADS[task][2]
