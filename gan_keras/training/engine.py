"""The one part of a training step that differs per backend: taking gradients.

Everything else in a step (the networks, losses, augmentation, noise, the moving average) is Keras
layers and `keras.ops`. The gradient is each backend's own, as in Keras's guides
`custom_train_step_in_{tensorflow,jax,torch}`:

    tensorflow  a `tf.GradientTape` around the loss
    jax         `jax.value_and_grad` of a pure function: the variables' values are swapped in through
                a `keras.StatelessScope` and every other variable the loss updates (batch-norm
                statistics) comes back out of it
    torch       `torch.autograd.grad` of the loss the eager code computed

`value_and_grad(fn, variables)` runs `fn()` (which returns (loss, aux)) and returns
(loss, aux, gradients); `input_gradient(fn, x)` is d sum(fn(x)) / dx, itself differentiable for
the weights (what R1, R2 and WGAN-GP's penalty need).

Example:
    >>> w = keras.Variable(3.0)
    >>> loss, aux, grads = value_and_grad(lambda: (w * w, None), [w])
    >>> float(loss), float(grads[0])
    (9.0, 6.0)
"""

import keras

from gan_keras import backend


def value_and_grad(fn, variables):
    """Run `fn() -> (loss, aux)` and return (loss, aux, [d loss / d v for v in variables])."""
    return {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[backend.name()](fn, list(variables))


def dense(gradient):
    """A gradient as a dense tensor: TensorFlow gives an embedding's as `IndexedSlices`, which a
    `tf.cond` cannot return beside a dense one nor `+` add to one. None stays None."""
    if gradient is not None and backend.name() == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(gradient)
    return gradient


def _tensorflow(fn, variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss, aux = fn()
    return loss, aux, tape.gradient(loss, variables)


def _scope():
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    return get_stateless_scope()


def _jax(fn, variables):
    import jax

    outer = _scope()  # the step's scope (GAN.train_step under fit): every variable's current value
    differentiated = {id(v) for v in variables}

    def pure(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as inner:
            if outer is not None:
                for key, value in outer.state_mapping.items():
                    inner.state_mapping.setdefault(key, value)
            loss, aux = fn()
        updates = {key: value for key, value in inner.state_mapping.items()
                   if key not in differentiated and (outer is None or value is not outer.state_mapping.get(key))}
        return loss, (aux, updates)

    (loss, (aux, updates)), grads = jax.value_and_grad(pure, has_aux=True)([v.value for v in variables])
    if outer is not None:
        outer.state_mapping.update(updates)
    elif updates:
        raise RuntimeError("a loss that updates variables (batch-norm statistics) takes its gradient on JAX "
                           "inside a step (a StatelessScope holding every variable), as `GAN.train_step` runs it")
    return loss, aux, grads


def _torch(fn, variables):
    import torch

    loss, aux = fn()
    grads = torch.autograd.grad(loss, [v.value for v in variables], allow_unused=True)
    grads = [keras.ops.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    return loss, aux, grads


def input_gradient(fn, x):
    """d sum(fn(x)) / dx, kept differentiable for the weights `fn` reads."""
    return value_and_input_gradient(fn, x)[1]


def value_and_input_gradient(fn, x, differentiable=True):
    """(fn(x), d sum(fn(x)) / dx); with `differentiable`, the gradient can itself be differentiated for
    the weights `fn` reads (R1), else not (projection's step in latent space)."""
    x = keras.ops.convert_to_tensor(x)
    name = backend.name()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
            total = tf.reduce_sum(tf.cast(value, tf.float32))  # summed inside the tape, or no gradient
        return value, tape.gradient(total, x)
    if name == "jax":
        import jax

        outer = _scope()

        def total(x):
            # a scope of its own, whose updates (batch-norm statistics) come out as values, as on the others
            with keras.StatelessScope() as inner:
                if outer is not None:
                    inner.state_mapping.update(outer.state_mapping)
                value = fn(x)
            updates = {key: v for key, v in inner.state_mapping.items()
                       if outer is None or v is not outer.state_mapping.get(key)}
            return keras.ops.sum(keras.ops.cast(value, "float32")), (value, updates)

        summed, pullback, (value, updates) = jax.vjp(total, x, has_aux=True)
        if outer is not None:
            outer.state_mapping.update(updates)
        return value, pullback(keras.ops.ones_like(summed))[0]
    import torch

    x = x.detach().requires_grad_(True)
    value = fn(x)
    total = keras.ops.sum(keras.ops.cast(value, "float32"))
    gradient = torch.autograd.grad(total, x, create_graph=differentiable)[0]
    return (value if differentiable else value.detach()), gradient


def compiled(function, trains_weights=False):
    """`function` traced once and reused: `tf.function` on TensorFlow, `jax.jit` on JAX, PyTorch's eager
    call as it is. On JAX a function that `trains_weights` (Keras variables it updates) runs as it is:
    jax.jit would read them as constants."""
    name = backend.name()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    if name == "jax" and not trains_weights:
        import jax

        return jax.jit(function)
    return function

