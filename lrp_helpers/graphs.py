"""A TensorFlow graph with its own session: where `engine.Engine`, `engine.TransformerEngine`,
`analysis.Analyzer` and `concepts.Switch` rebuild a model to explain or change it, apart from the notebook's
graph. `close()`, or leaving a `with` block, frees the session."""

import contextlib

import tensorflow as tf


class OwnGraph:
    """The base of every class that runs a copy of a model: build and run `with self.inside():`."""

    def __init__(self):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)

    @contextlib.contextmanager
    def inside(self):
        with self.graph.as_default(), self.session.as_default():
            yield

    def rebuild(self, model):
        """A copy of Keras `model` (its config and weights) in this graph, in inference mode (learning phase
        0: BatchNorm's moving statistics, no dropout)."""
        config, weights = model.get_config(), model.get_weights()
        with self.inside():
            tf.keras.backend.set_learning_phase(0)
            rebuilt = type(model).from_config(config)
            rebuilt.set_weights(weights)
        return rebuilt

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
