"""Model builders of the course, in the style of `keras.applications`.

Each builder takes `input_shape`, `classes`, `include_top`, `pooling` and
`classifier_activation` (plus the architecture's own knobs: width, depth,
growth rate, cardinality) and returns an untrained `keras.Model`: the course
downloads no weights. The `*_cifar` builders size each Part III architecture
for 32x32 CIFAR-10 images, the way its paper (or the common re-implementations)
scale it; `course_lib.zoo` holds their recorded CIFAR-10 runs. At full size the parameter counts equal the published
references (each docstring says which convention gives the count).

- `lenet5`: LeNet-5 (LeCun et al., 1998).
- `alexnet`: AlexNet (Krizhevsky et al., 2012), with or without the two-GPU split.
- `vgg16`: VGG16 (Simonyan and Zisserman, 2015).
- `nin`: Network in Network (Lin et al., 2014), CIFAR-10 layout.
- `googlenet`: GoogLeNet (Szegedy et al., 2015), optionally with auxiliary heads.
- `resnet`, `resnet50`: ResNet-18/34/50/101/152 (He et al., 2016); `resnet_cifar`: the
  paper's CIFAR-10 ResNets; `resnet9_cifar`: Page's ResNet-9 (DAWNBench, 2018).
- `mobilenet`: MobileNet v1 (Howard et al., 2017).
- `wide_resnet`: Wide ResNet (Zagoruyko and Komodakis, 2016).
- `resnext`, `resnext50_32x4d`: ResNeXt (Xie et al., 2017).
- `densenet`, `densenet121`: DenseNet-BC (Huang et al., 2017).
- `airbench94`: the network of Jordan's airbench94 (2024), `course_lib.speedrun` trains it.
"""

from course_lib.models.airbench import airbench94
from course_lib.models.alexnet import alexnet, alexnet_cifar
from course_lib.models.densenet import densenet, densenet121, densenet_cifar
from course_lib.models.googlenet import googlenet, googlenet_cifar
from course_lib.models.lenet5 import lenet5
from course_lib.models.mobilenet import mobilenet, mobilenet_cifar
from course_lib.models.nin import nin
from course_lib.models.resnet import resnet, resnet9_cifar, resnet50, resnet_cifar, wide_resnet
from course_lib.models.resnext import resnext, resnext50_32x4d, resnext_cifar
from course_lib.models.vgg import vgg16, vgg16_cifar

__all__ = [
    "airbench94",
    "alexnet",
    "alexnet_cifar",
    "densenet",
    "densenet121",
    "densenet_cifar",
    "googlenet",
    "googlenet_cifar",
    "lenet5",
    "mobilenet",
    "mobilenet_cifar",
    "nin",
    "resnet",
    "resnet50",
    "resnet9_cifar",
    "resnet_cifar",
    "resnext",
    "resnext50_32x4d",
    "resnext_cifar",
    "vgg16",
    "vgg16_cifar",
    "wide_resnet",
]
