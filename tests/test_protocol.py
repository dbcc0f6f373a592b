"""Every backend module fulfils the one written-down contract, fastbp.kernels.protocol."""

import importlib
import inspect

from fastbp.kernels import MODULES, protocol


def contract():
    return {name: inspect.signature(member) for name, member in vars(protocol.Kernels).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def test_the_protocol_names_every_kernel():
    assert set(contract()) == {"forward", "mean_loss", "gradients", "train",
                               "train_then_loss", "train_many", "epoch_seconds"}


def test_every_backend_has_the_protocols_signatures(backend):
    module = importlib.import_module(MODULES[backend])
    assert backend == module.NAME
    for name, wanted in contract().items():
        got = inspect.signature(getattr(module, name))
        expected = [(p.name, p.default) for p in wanted.parameters.values() if p.name != "self"]
        assert [(p.name, p.default) for p in got.parameters.values()] == expected, name


def test_a_network_hands_the_kernels_its_shape():
    import fastbp

    net = fastbp.Network([3, 4, 2], ["tanh", "softmax"], bias="fixed")
    shape = net.kernel_shape
    assert isinstance(shape, protocol.Shape)
    assert shape.layout is net.layout and shape.acts is net.activation_codes
    assert shape.train_bias is False and shape.n_params == net.params.size
