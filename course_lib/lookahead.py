"""Lookahead: every few steps, pull the weights back toward a slow moving average of themselves."""

import keras

from course_lib._checks import check_number, check_positive_int

__all__ = ["Lookahead"]


class Lookahead(keras.callbacks.Callback):
    """Keeps slow weights and, every `every` steps, moves them toward the fast ones and copies them back.

    Every `every` training steps, for each float weight `w` of the model
    (trainable weights and BatchNormalization statistics alike), the slow
    copy `s` becomes `s + (1 - decay) * (w - s)` and `w` is set to `s`: the
    optimizer then continues from the average. Zhang et al. (2019) called
    this Lookahead; airbench94 (Jordan, 2024) uses it with a decay that grows
    over the run, `decay = peak * (step / total_steps) ** 3`, so that early
    training is left alone and the last steps are averaged most, and ends by
    copying the slow weights into the model. Like an exponential moving
    average of the weights (Keras's `use_ema` optimizers), it smooths the
    noise of the last steps; unlike it, the model trains on from the
    average.

    With the JAX backend, reading `self.model` in a callback synchronises the
    training state into the model's variables first, so the assignments here
    reach the next step on every backend.

    Args:
        total_steps: the number of training steps of the whole run.
        every: steps between updates (airbench: 5).
        peak_decay: the decay at the last step (airbench: 0.95 ** 5).
        power: exponent of the decay's growth (airbench: 3).

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> lookahead = Lookahead(total_steps=10, every=5)
    >>> _ = model.fit(keras.ops.ones((20, 2)), keras.ops.ones((20, 1)), batch_size=2, callbacks=[lookahead], verbose=0)
    >>> lookahead.updates
    2
    """

    def __init__(self, total_steps, every=5, peak_decay=0.95**5, power=3):
        super().__init__()
        self.total_steps = check_positive_int(total_steps, "total_steps")
        self.every = check_positive_int(every, "every")
        self.peak_decay = check_number(peak_decay, "peak_decay", 0, 1)
        self.power = check_number(power, "power", low=0)
        self.step = 0
        self.updates = 0
        self._slow = None

    def decay(self, step):
        """The decay of the update made after `step` steps."""
        return self.peak_decay * (min(step, self.total_steps) / self.total_steps) ** self.power

    def _weights(self):
        return [w for w in self.model.weights if "float" in str(w.dtype)]

    def on_train_begin(self, logs=None):
        if self._slow is None:
            self._slow = [keras.ops.copy(w.value) for w in self._weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every:
            return
        decay = self.decay(self.step)
        self._slow = [slow + (1 - decay) * (weight.value - slow) for weight, slow in zip(self._weights(), self._slow)]
        for weight, slow in zip(self._weights(), self._slow):
            weight.assign(slow)
        self.updates += 1

    def on_train_end(self, logs=None):
        for weight, slow in zip(self._weights(), self._slow):
            weight.assign(slow)
