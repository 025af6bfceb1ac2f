"""Type hints to JSON Schema, and JSON values back into typed arguments.

Runs on plain CPython (the schema module imports no bindings):
python3 -m unittest discover -s guest-sdk/python/tests
"""

import dataclasses
import enum
import sys
import unittest
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mcp_plugin"))

from _schema import Field, SchemaError, convert, schema_of, to_json_value  # noqa: E402


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(TypedDict):
    """A point on the plane."""

    x: float
    y: float


@dataclasses.dataclass
class Box:
    corner: Point
    label: str = "box"
    tags: list[str] = dataclasses.field(default_factory=list)


class SchemaOf(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(schema_of(str), {"type": "string"})
        self.assertEqual(schema_of(int), {"type": "integer"})
        self.assertEqual(schema_of(float), {"type": "number"})
        self.assertEqual(schema_of(bool), {"type": "boolean"})
        self.assertEqual(schema_of(Any), {})
        self.assertEqual(schema_of(type(None)), {"type": "null"})

    def test_containers(self):
        self.assertEqual(schema_of(list[int]), {"type": "array", "items": {"type": "integer"}})
        self.assertEqual(
            schema_of(set[str]), {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
        )
        self.assertEqual(
            schema_of(dict[str, float]),
            {"type": "object", "additionalProperties": {"type": "number"}},
        )
        self.assertEqual(
            schema_of(tuple[int, str]),
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            },
        )
        self.assertEqual(schema_of(tuple[int, ...]), {"type": "array", "items": {"type": "integer"}})

    def test_unions_literals_and_enums(self):
        self.assertEqual(
            schema_of(Optional[int]), {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        )
        self.assertEqual(schema_of(int | None), schema_of(Optional[int]))
        self.assertEqual(
            schema_of(Union[int, str]), {"anyOf": [{"type": "integer"}, {"type": "string"}]}
        )
        self.assertEqual(schema_of(Literal["a", "b"]), {"type": "string", "enum": ["a", "b"]})
        self.assertEqual(schema_of(Literal[1, "b"]), {"enum": [1, "b"]})
        self.assertEqual(schema_of(Color), {"enum": ["red", "blue"]})

    def test_annotations_add_description_and_keywords(self):
        self.assertEqual(
            schema_of(Annotated[int, Field("How many", minimum=1, exclusive_maximum=10)]),
            {"type": "integer", "description": "How many", "minimum": 1, "exclusiveMaximum": 10},
        )
        self.assertEqual(
            schema_of(Annotated[str, "A name"]), {"type": "string", "description": "A name"}
        )

    def test_objects(self):
        self.assertEqual(
            schema_of(Point),
            {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
                "description": "A point on the plane.",
            },
        )
        box = schema_of(Box)
        self.assertEqual(box["required"], ["corner"])
        self.assertEqual(box["properties"]["label"], {"type": "string", "default": "box"})
        self.assertEqual(box["properties"]["tags"], {"type": "array", "items": {"type": "string"}})

    def test_what_json_cannot_hold_is_refused_with_the_reason(self):
        with self.assertRaisesRegex(SchemaError, "base64"):
            schema_of(bytes)
        with self.assertRaisesRegex(SchemaError, "keys are strings"):
            schema_of(dict[int, str])
        with self.assertRaisesRegex(SchemaError, "no JSON Schema"):
            schema_of(complex)


class Convert(unittest.TestCase):
    def test_values_become_the_hinted_types(self):
        self.assertEqual(convert(3, float), 3.0)
        self.assertIsInstance(convert(3, float), float)
        self.assertIs(convert(True, float), True)  # a bool stays a bool
        self.assertEqual(convert("red", Color), Color.RED)
        self.assertEqual(convert(["a", "a"], set[str]), {"a"})
        self.assertEqual(convert([1, "x"], tuple[int, str]), (1, "x"))
        self.assertEqual(convert(None, Optional[int]), None)
        self.assertEqual(convert([1, 2], Optional[list[float]]), [1.0, 2.0])
        box = convert({"corner": {"x": 1, "y": 2}, "tags": ["t"]}, Box)
        self.assertEqual(box, Box(corner={"x": 1.0, "y": 2.0}, tags=["t"]))

    def test_results_become_plain_json(self):
        box = Box(corner={"x": 1.0, "y": 2.0})
        self.assertEqual(
            to_json_value({"box": box, "color": Color.BLUE, "pair": (1, 2)}),
            {"box": {"corner": {"x": 1.0, "y": 2.0}, "label": "box", "tags": []}, "color": "blue", "pair": [1, 2]},
        )


if __name__ == "__main__":
    unittest.main()
