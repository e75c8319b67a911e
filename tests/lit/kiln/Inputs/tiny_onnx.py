"""Writes a tiny ONNX model, y = MatMul(x, w) + b with a symbolic batch, and
random inputs for it: `tiny_onnx.py OUT_DIR`."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
rng = np.random.default_rng(7)
w = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["xw"], name="/proj/MatMul"),
     helper.make_node("Add", ["xw", "b"], ["y"], name="/proj/Add")],
    "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    initializer=[onnx.numpy_helper.from_array(w, "w"),
                 onnx.numpy_helper.from_array(b, "b")])
# IR version 8 so that onnxruntime 1.22 loads it too.
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                          ir_version=8)
onnx.checker.check_model(model)
onnx.save(model, f"{out}/tiny.onnx")
np.save(f"{out}/x.npy", rng.standard_normal((2, 4)).astype(np.float32))
