"""Writes a small ONNX model for kiln-opt's import test: y = Softmax(x @ w + b)."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
b = numpy_helper.from_array(np.array([0.5, -1.0, 2.0], dtype=np.float32), "b")
graph = helper.make_graph(
    [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="/layer/MatMul"),
        helper.make_node("Add", ["xw", "b"], ["logits"], name="/layer/Add"),
        helper.make_node("Softmax", ["logits"], ["y"], name="/layer/Softmax", axis=-1),
    ],
    "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    initializer=[w, b],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
