"""The values settings may take, importable without Keras.

The command line builds its options (and ``--help``) from these before any backend
is imported; the modules that use them import them from here.
"""

PRECISIONS = ("float32", "mixed_bfloat16")
"""Keras dtype policies the models may be built with."""

ENGINES = ("classic", "fused")
"""The trainers :func:`~gan_cookbook.gan_model.make_trainer` makes: the classic
loop, or the fused step."""

DEFAULT_STEPS = 50
"""Steps :func:`~gan_cookbook.bench.benchmark` times by default."""

DEFAULT_WARMUP = 5
"""Steps :func:`~gan_cookbook.bench.benchmark` runs before timing by default."""

BACKENDS = ("tensorflow", "jax", "torch")
"""The Keras backends a command may run on (``bench --backend``)."""

ORACLES = ("random", "bayesian")
"""The oracles a search (:func:`~gan_cookbook.tune.tune`) may use: KerasTuner's
random search and its Bayesian optimisation (a Gaussian process; needs
scikit-learn). Hyperband is left out: it decides itself how many trials to run,
where ``trials`` sets their number."""
