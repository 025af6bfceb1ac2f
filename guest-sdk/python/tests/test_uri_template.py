"""URI templates of resource templates: parsing and matching.

Runs on plain CPython: python3 -m unittest discover -s guest-sdk/python/tests
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mcp_plugin"))

from _uri_template import UriTemplate, UriTemplateError  # noqa: E402


class Matching(unittest.TestCase):
    def test_variables_between_literals(self):
        template = UriTemplate("notes://{folder}/{name}.md")
        self.assertEqual(template.variables, ["folder", "name"])
        self.assertEqual(template.match("notes://work/plan.md"), {"folder": "work", "name": "plan"})

    def test_a_variable_never_spans_a_slash_query_or_fragment(self):
        template = UriTemplate("notes://{name}")
        self.assertIsNone(template.match("notes://a/b"))
        self.assertIsNone(template.match("notes://a?b"))
        self.assertIsNone(template.match("notes://a#b"))
        self.assertIsNone(template.match("notes://"))
        self.assertIsNone(template.match("other://a"))

    def test_values_are_percent_decoded(self):
        template = UriTemplate("notes://{name}")
        self.assertEqual(template.match("notes://caf%C3%A9%2F1"), {"name": "café/1"})
        self.assertIsNone(template.match("notes://bad%2"))
        self.assertIsNone(template.match("notes://bad%ZZ"))
        self.assertIsNone(template.match("notes://%FF"))

    def test_trailing_text_must_match_exactly(self):
        template = UriTemplate("notes://{name}.md")
        self.assertEqual(template.match("notes://a.md"), {"name": "a"})
        self.assertIsNone(template.match("notes://a.md.bak"))
        self.assertIsNone(template.match("notes://a.txt"))

    def test_a_template_without_variables_matches_only_itself(self):
        template = UriTemplate("config://app")
        self.assertEqual(template.match("config://app"), {})
        self.assertIsNone(template.match("config://app2"))


class Parsing(unittest.TestCase):
    def assertRefused(self, template, fragment):
        with self.assertRaises(UriTemplateError) as caught:
            UriTemplate(template)
        self.assertIn(fragment, str(caught.exception))
        self.assertIn(repr(template), str(caught.exception))

    def test_unbalanced_braces(self):
        self.assertRefused("notes://{name", "without a matching `}`")
        self.assertRefused("notes://name}", "without a matching `{`")

    def test_only_level_one_expressions(self):
        self.assertRefused("notes://{+path}", "RFC 6570 level 1")
        self.assertRefused("notes://{a,b}", "RFC 6570 level 1")
        self.assertRefused("notes://{name*}", "RFC 6570 level 1")
        self.assertRefused("notes://{}", "empty")
        self.assertRefused("notes://{na-me}", "variable name")

    def test_variables_need_literal_text_between_them_and_unique_names(self):
        self.assertRefused("notes://{a}{b}", "right after another variable")
        self.assertRefused("notes://{a}/{a}", "twice")

    def test_empty(self):
        self.assertRefused("", "is empty")


if __name__ == "__main__":
    unittest.main()
