"""course_lib: the helper package of the CNN course.

One module per idea, imported where needed (importing the package itself loads
nothing heavy):

- `runtime`: `setup_notebook()`, the first call of every notebook.
- `data`: the course's datasets, offline first, shaped like `keras.datasets`,
  and the experiments' training, validation and test splits (`load_splits`).
- `viz`: plotting helpers (image grids, training curves, filters, feature
  maps, receptive fields, confusion matrices, misclassified examples).
- `diagrams`: concept diagrams drawn from the models' own numbers (sliding
  window, im2col, Inception module, residual blocks, ...), each with its alt text.
- `autodiff`: gradients through the Keras backend's automatic differentiation.
- `ops`: the from-scratch NumPy reference (convolution, pooling, their
  gradients, parameter counts, the conv layer as a dense layer).
- `gradcheck`: numerical gradients and the relative errors that compare them
  with a backward pass (CS231n's, entry by entry, and a normwise one).
- `receptive_field`: receptive fields computed layer by layer and measured.
- `widgets`: the convolution and receptive-field explorers (ipywidgets) and the
  pure functions behind them.
- `layers`: the architectures' building blocks as Keras layers.
- `models`: model builders, from LeNet-5 to DenseNet.
- `blockcheck`: a block written by hand in plain Keras checked against
  course_lib's layer (same weights, same outputs).
- `analysis`: multiply-adds, parameters per layer (`layer_table`) and per block,
  measured throughput.
- `augment`: augmentation pipelines from Keras's preprocessing layers, class
  balancing and class-specific augmentation.
- `batches`: training batches made on the fly, each epoch drawn from `(seed,
  epoch)` (`SeededBatches`), and the recipe's flipped and shifted batches
  (`AugmentedBatches`).
- `mixup`: mixup as a layer (`MixUp`), a NumPy function (`mixup_batch`) and a
  dataset of mixed batches for `fit` (`MixUpBatches`).
- `tta`: test-time augmentation (`TTAModel`, `predict_tta`).
- `transfer`: new heads on frozen feature extractors, fine-tuning.
- `retrieval`: nearest-neighbour image search in a latent space.
- `pretrained`: the small backbone the course trains itself.
- `experiment`: the experiment harness (the training recipe, training and
  evaluation, runs over seeds, paired comparisons) that the training notebooks
  share; it re-exports the splits, batches and standardisation it uses.
- `standardization`: inputs standardised inside the model by the training
  set's per-channel mean and variance (`with_standardization`).
- `learning_rate_range`: the learning-rate range test, a diagnostic for
  choosing the learning rate.
- `batchnorm`: BatchNormalization's moving statistics (momentum for a run's
  length, re-estimation after training).
- `comparison`: the course's one statistical rule: paired differences over
  seeds, their 95 % interval, "clear effect" or "no clear effect at this budget".
- `studies`: recorded studies, experiments trained offline to a plateau over
  several seeds (`scripts/train_study.py`), read hash-checked.
- `zoo`: the recorded CIFAR-10 runs of every Part III architecture.
- `initializers`: Dirac (identity) initialisation of convolutions.
- `lookahead`: Lookahead, slow weights pulled toward the fast ones every few steps.
- `speedrun`: airbench94's recipe (CIFAR-10 to 94 % in ten epochs) in Keras 3.
- `distributed`: training on several devices (notebook 24), one sub-module per
  idea: `distributed.sharding` (checked `DataParallel` and meshes on JAX,
  AlexNet's two-device `LayoutMap`, where each variable lives, what the devices
  send), `distributed.scaling` (the cost of data parallelism on paper: ring
  all-reduce, Amdahl), `distributed.multiprocess` (cooperating processes under
  one deadline) and `distributed.worker` (the reference experiment and its
  worker process).
- `grading`: the graded assignments' checks as students call them (`call`,
  `assert_same_array`, the probes); its sub-modules are the instructor's grader:
  `grading.checks` (each assignment's checks and honour-code rules), `grading.judge`
  (scores a submission with otter's tests, within budgets), `grading.sandbox` (a
  submission's code in bubblewrap's OS sandbox, answering by data only) and
  `grading.report` (honour-code flags, feedback for students).
"""

# The package re-exports nothing: its modules are its API (`from course_lib.data import load_mnist`).
__all__ = []

__version__ = "0.1.0"
