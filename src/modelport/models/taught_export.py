"""A taught model as one self-contained ONNX file and its ``modelport.toml``.

The base model's graph (up to its ``embedding`` output) is followed by the head, in ONNX
operators: the embedding made unit length, its cosine similarity to every example (one
MatMul), each class's best (a mask and ReduceMax), and the softmax. The file answers
``probabilities`` (N, classes), carries the labels in its metadata, and runs anywhere ONNX
Runtime runs; ``modelport add`` takes the folder back.
"""

from __future__ import annotations

import json

import numpy as np

from modelport.models import toml_text
from modelport.models.runtimes import EMBEDDING
from modelport.models.taught import TEMPERATURE, TaughtModel

OUTPUT = "probabilities"
OPSET_AXES_AS_INPUT = 18  # ReduceL2 and ReduceMax take their axes as an input from here on


def onnx_bytes(model: TaughtModel) -> bytes:
    import onnx  # when a model is exported, not at every start
    from onnx import TensorProto, helper, numpy_helper

    graph_model = onnx.load(str(model.base.artifact))
    graph = graph_model.graph
    opset = next(o.version for o in graph_model.opset_import if o.domain in ("", "ai.onnx"))
    head = model.head
    constants = {
        "taught_examples": head.examples.T.astype(np.float32),  # (width, examples)
        "taught_mask": head.mask,  # (classes, examples)
        "taught_sharpness": np.array(1.0 / TEMPERATURE, np.float32),
        "taught_epsilon": np.array(1e-12, np.float32),
        "taught_axis_1": np.array([1], np.int64),
        "taught_axis_2": np.array([2], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, name=k) for k, v in constants.items())
    graph.node.extend(
        [
            _reduce("ReduceL2", EMBEDDING, "taught_norm", 1, 1, opset),
            helper.make_node("Max", ["taught_norm", "taught_epsilon"], ["taught_norm_safe"]),
            helper.make_node("Div", [EMBEDDING, "taught_norm_safe"], ["taught_unit"]),
            helper.make_node("MatMul", ["taught_unit", "taught_examples"], ["taught_cosine"]),
            helper.make_node("Unsqueeze", ["taught_cosine", "taught_axis_1"], ["taught_rows"]),
            helper.make_node("Add", ["taught_rows", "taught_mask"], ["taught_by_class"]),
            _reduce("ReduceMax", "taught_by_class", "taught_best", 2, 0, opset),
            helper.make_node("Mul", ["taught_best", "taught_sharpness"], ["taught_scores"]),
            helper.make_node("Softmax", ["taught_scores"], [OUTPUT], axis=1),
        ]
    )
    _drop_outputs(graph)
    graph.output.append(
        helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", len(head.classes)])
    )
    graph.name = model.name
    graph_model.doc_string = model.info.description
    del graph_model.metadata_props[:]
    for key, value in {
        "labels": json.dumps(head.classes),
        "modelport_taught_from": model.base.name,
        "modelport_version": model.version,
    }.items():
        graph_model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph_model)
    return graph_model.SerializeToString()


def _reduce(op: str, source: str, target: str, axis: int, keepdims: int, opset: int):
    from onnx import helper

    if opset >= OPSET_AXES_AS_INPUT:
        return helper.make_node(op, [source, f"taught_axis_{axis}"], [target], keepdims=keepdims)
    return helper.make_node(op, [source], [target], axes=[axis], keepdims=keepdims)


def _drop_outputs(graph) -> None:
    """Only the probabilities leave the graph; the base's classifier (which fed only its
    logits) goes, with the weights only it used."""
    logits = [o.name for o in graph.output if o.name != EMBEDDING]
    del graph.output[:]
    dead = [node for node in graph.node if set(node.output) & set(logits)]
    for node in dead:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for initializer in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(initializer)


def settings_toml(model: TaughtModel) -> str:
    settings = model.info.settings
    assert settings is not None
    document = {
        "name": model.name,
        "version": model.version,
        "description": model.info.description,
        "kind": "photo",
        "file": f"{model.name}.onnx",
        "labels": list(model.labels),
        "preprocess": settings.preprocess.model_dump(mode="json"),
        "output": {"probabilities": True},
        "training_data": model.info.metrics.get("training_data"),
    }
    header = [
        f"{model.name}: taught in Modelport on {model.base.name}'s embedding.",
        f"{model.name}.onnx answers the probabilities of the labels below (also in its",
        "metadata). `modelport add` takes a folder holding the two files.",
    ]
    return toml_text.dumps(document, header)
