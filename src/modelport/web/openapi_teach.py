"""The taught models' part of ``/openapi.json``: their schemas and operations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from modelport.web import openapi as doc


class TaughtClass(BaseModel):
    label: str
    examples: int


class TaughtSummary(BaseModel):
    name: str
    base: str = Field(description="The photo model whose embedding it learns on.")
    classes: list[TaughtClass]
    examples: int
    trained: bool
    served: bool = Field(description="Served now at /api/v1/models/{name}/predict.")
    accuracy: float | None = Field(description="Leave-one-out accuracy when last trained.")
    created_at: str
    created_by: str | None
    page: str | None
    predict: str | None


class TaughtExample(BaseModel):
    id: int
    label: str
    source: str = Field(description="upload, camera or correction.")
    thumbnail: str = Field(description="The example's JPEG thumbnail.")


class Confusion(BaseModel):
    labels: list[str]
    counts: list[list[int]] = Field(description="counts[true][predicted], leave-one-out.")


class TaughtDetail(TaughtSummary):
    confusion: Confusion | None
    trained_at: str | None
    example_list: list[TaughtExample]
    added: list[int] | None = Field(None, description="The new examples' ids (after adding).")
    train_ms: float | None = Field(None, description="How long training took (after train).")


class TaughtList(BaseModel):
    models: list[TaughtSummary]


class TaughtCreate(doc._Open):
    name: str = Field(description="1 to 48 lowercase letters, digits or dashes.")


class ExamplesUpload(BaseModel):
    label: str = Field(description="The class these pictures show (1 to 64 characters).")
    file: list[bytes] = Field(
        description="One or more pictures (up to 50 at once).",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )
    source: str | None = Field(None, description="upload (the default) or camera.")


SCHEMAS: tuple[type[BaseModel], ...] = (TaughtList, TaughtDetail, TaughtCreate, ExamplesUpload)

TAG = ["Teach"]


def deletion(summary: str, parameters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        "delete": {
            "tags": TAG,
            "summary": summary,
            "parameters": parameters,
            "responses": {"204": {"description": "Deleted."}} | doc.errors(403, 404),
        }
    }


def operations() -> dict[str, dict[str, dict[str, Any]]]:
    name = doc.path_param("name", "The taught model's name.", {"type": "string"})
    example = doc.path_param("example_id", "An example's id.", {"type": "integer"})
    label = doc.path_param("label", "A class of the model.", {"type": "string"})
    detail = doc.json_content(doc.ref(TaughtDetail))
    return {
        "teach_api.list_taught": {
            "get": {
                "tags": TAG,
                "summary": "The taught models",
                "responses": doc.ok("Every taught model.", doc.json_content(doc.ref(TaughtList)))
                | doc.errors(),
            }
        },
        "teach_api.create_taught": {
            "post": {
                "tags": TAG,
                "summary": "Make a taught model (a teacher or an operator)",
                "requestBody": {
                    "required": True,
                    "content": doc.json_content(doc.ref(TaughtCreate)),
                },
                "responses": {"201": {"description": "Made.", "content": detail}}
                | doc.errors(400, 403, 409, 415),
            }
        },
        "teach_api.show_taught": {
            "get": {
                "tags": TAG,
                "summary": "A taught model, its examples and its evaluation",
                "parameters": [name],
                "responses": doc.ok("The taught model.", detail) | doc.errors(404),
            }
        },
        "teach_api.delete_taught": deletion("Delete a taught model and its examples", [name]),
        "teach_api.add_examples": {
            "post": {
                "tags": TAG,
                "summary": "Add pictures as examples of a class",
                "parameters": [name],
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": doc.ref(ExamplesUpload)}},
                },
                "responses": {"201": {"description": "Added.", "content": detail}}
                | doc.errors(400, 403, 404, 409, 413, 415, 422),
            }
        },
        "teach_api.example_thumbnail": {
            "get": {
                "tags": TAG,
                "summary": "An example's thumbnail",
                "parameters": [name, example],
                "responses": doc.ok("A JPEG.", doc.binary("image/jpeg")) | doc.errors(404),
            }
        },
        "teach_api.delete_example": deletion("Delete one example", [name, example]),
        "teach_api.delete_class": deletion("Delete a class (all its examples)", [name, label]),
        "teach_api.train_taught": {
            "post": {
                "tags": TAG,
                "summary": "Train: measure it (leave-one-out) and serve it",
                "description": "Needs two classes with two examples each. Then the model "
                "is served at /api/v1/models/{name}/predict and /models/{name}, and every "
                "new example (a correction too) counts at once.",
                "parameters": [name],
                "responses": doc.ok("Trained.", detail) | doc.errors(400, 403, 404),
            }
        },
        "teach_api.export_onnx": {
            "get": {
                "tags": TAG,
                "summary": "The model as one ONNX file (the CNN and the head)",
                "parameters": [name],
                "responses": doc.ok("ONNX.", doc.binary("application/octet-stream"))
                | doc.errors(404, 409),
            }
        },
        "teach_api.export_settings": {
            "get": {
                "tags": TAG,
                "summary": "The model folder's modelport.toml, for `modelport add`",
                "parameters": [name],
                "responses": doc.ok("TOML.", {"application/toml": {"schema": {"type": "string"}}})
                | doc.errors(404, 409),
            }
        },
    }
