"""The SDK against the contract's real Python bindings, with the host's
functions replaced by fakes: the context's services (key-value, HTTP,
secrets, session state, the host's catalog), the plugin's spans, the resource, prompt and
completion exports, and what an uncaught exception leaves where.

The bindings are generated from the repository's `wit/` with componentize-py
(``COMPONENTIZE_PY``, or the copy ``scripts/setup-guest-python.sh``
installs under ``target/``): python3 -m unittest discover -s guest-sdk/python/tests
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Annotated, Optional

ROOT = Path(__file__).resolve().parents[3]


def _componentize_py() -> Optional[str]:
    candidates = [os.environ.get("COMPONENTIZE_PY"), str(ROOT / "target/guest-python/bin/componentize-py")]
    return next((c for c in candidates if c and shutil.which(c)), None)


def setUpModule():
    global BINDINGS, mcp, Err, types, kv_bindings, http_bindings, secrets_bindings
    global catalog_bindings, session_bindings, completions_bindings, context_bindings, sql_bindings
    command = _componentize_py()
    if command is None:
        raise unittest.SkipTest(
            "componentize-py not found: run scripts/setup-guest-python.sh or set COMPONENTIZE_PY"
        )
    BINDINGS = tempfile.TemporaryDirectory()
    subprocess.run(
        [command, "-d", str(ROOT / "wit"), "-w", "plugin", "bindings", BINDINGS.name],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, BINDINGS.name)
    sys.path.insert(0, str(ROOT / "guest-sdk/python"))
    import mcp_plugin
    from componentize_py_types import Err as err_type
    from wit_world.exports import completions
    from wit_world.imports import context, host_catalog, http, keyvalue, secrets, session_state, sql
    from wit_world.imports import types as wit_types

    mcp, Err, types = mcp_plugin, err_type, wit_types
    kv_bindings, http_bindings, secrets_bindings = keyvalue, http, secrets
    catalog_bindings, session_bindings, completions_bindings = host_catalog, session_state, completions
    context_bindings = context
    sql_bindings = sql


def tearDownModule():
    BINDINGS.cleanup()


class Fakes(unittest.TestCase):
    """Replace host functions for one test: ``self.fake(module, "name", fn)``."""

    def fake(self, module, name, function):
        original = getattr(module, name)
        setattr(module, name, function)
        self.addCleanup(setattr, module, name, original)

    def without(self, capability):
        from mcp_plugin import _facade

        original = _facade._PRESENT.pop(capability)
        self.addCleanup(_facade._PRESENT.__setitem__, capability, original)


class KeyValueStore(Fakes):
    def setUp(self):
        self.entries = {}
        self.ttls = {}

        def get(namespace, key):
            return self.entries.get((namespace, key))

        def set_(namespace, key, value, ttl_ms):
            self.entries[(namespace, key)] = value
            self.ttls[(namespace, key)] = ttl_ms

        def delete(namespace, key):
            return self.entries.pop((namespace, key), None) is not None

        def list_keys(namespace, prefix):
            return sorted(k for n, k in self.entries if n == namespace and k.startswith(prefix))

        def increment(namespace, key, delta):
            value = int(self.entries.get((namespace, key), b"0")) + delta
            self.entries[(namespace, key)] = str(value).encode()
            return value

        for name, function in [("get", get), ("set", set_), ("delete", delete), ("list_keys", list_keys), ("increment", increment)]:
            self.fake(kv_bindings, name, function)

    def test_a_handle_is_one_namespace(self):
        store = mcp.Context().keyvalue("cache")
        store.set("a", "text")
        store.set("b", b"\x00\x01", ttl=1.5)
        store.set_json("doc", {"x": [1, 2]})
        self.assertEqual(store.get("a"), b"text")
        self.assertEqual(store.get_text("a"), "text")
        self.assertEqual(store.get("b"), b"\x00\x01")
        self.assertEqual(store.get_json("doc"), {"x": [1, 2]})
        self.assertIsNone(store.get("missing"))
        self.assertIsNone(store.get_json("missing"))
        self.assertEqual(self.ttls[("cache", "b")], 1500)
        self.assertIsNone(self.ttls[("cache", "a")])
        self.assertEqual(store.increment("hits"), 1)
        self.assertEqual(store.increment("hits", 5), 6)
        self.assertEqual(store.keys(), ["a", "b", "doc", "hits"])
        self.assertEqual(store.keys("d"), ["doc"])
        self.assertTrue(store.delete("a"))
        self.assertFalse(store.delete("a"))
        self.assertEqual(mcp.Context().keyvalue("other").keys(), [])

    def test_a_refusal_is_a_context_error_with_its_kind(self):
        def denied(namespace, key):
            raise Err(types.FacadeError_Denied(f"namespace `{namespace}` is not declared"))

        self.fake(kv_bindings, "get", denied)
        with self.assertRaises(mcp.ContextError) as caught:
            mcp.Context().keyvalue("elsewhere").get("k")
        self.assertEqual(caught.exception.kind, "denied")
        self.assertEqual(str(caught.exception), "denied: namespace `elsewhere` is not declared")

    def test_a_ttl_must_be_positive(self):
        with self.assertRaises(ValueError):
            mcp.Context().keyvalue("cache").set("a", "b", ttl=0)


class Http(Fakes):
    def setUp(self):
        self.sent = []

        def send(request):
            self.sent.append(request)
            headers = [("Content-Type", "application/json"), ("X-Echo", request.url)]
            status = 404 if request.url.endswith("/missing") else 200
            return http_bindings.Response(status, headers, b'{"ok": true}', request.url + "?final")

        self.fake(http_bindings, "send", send)

    def test_a_request_reaches_the_host_as_the_contract_says(self):
        ctx = mcp.Context()
        response = ctx.http(mcp.Request.get("http://127.0.0.1:1/a", timeout=2).header("x-one", "1"))
        sent = self.sent[-1]
        self.assertEqual((sent.method, sent.url, sent.headers, sent.body, sent.timeout_ms), ("GET", "http://127.0.0.1:1/a", [("x-one", "1")], None, 2000))
        self.assertEqual(response.status, 200)
        self.assertTrue(response.is_success())
        self.assertEqual(response.header("content-type"), "application/json")
        self.assertIsNone(response.header("missing"))
        self.assertEqual(response.json(), {"ok": True})
        self.assertEqual(response.text(), '{"ok": true}')
        self.assertEqual(response.url, "http://127.0.0.1:1/a?final")
        self.assertIs(response.error_for_status(), response)

    def test_json_bodies_and_headers_given_as_a_dict(self):
        mcp.Context().http(mcp.Request.post("http://h/p", json={"a": 1}, headers={"x-two": "2"}))
        sent = self.sent[-1]
        self.assertEqual(sent.method, "POST")
        self.assertEqual(json.loads(sent.body), {"a": 1})
        self.assertEqual(sent.headers, [("x-two", "2"), ("content-type", "application/json")])
        with self.assertRaises(ValueError):
            mcp.Request.post("http://h/p", json={}, body="both")

    def test_an_error_status_is_a_response_until_asked(self):
        response = mcp.Context().http(mcp.Request("get", "http://h/missing"))
        self.assertEqual(self.sent[-1].method, "GET")
        self.assertFalse(response.is_success())
        with self.assertRaises(mcp.ContextError) as caught:
            response.error_for_status()
        self.assertEqual(caught.exception.kind, "failed")
        self.assertIn("status 404", str(caught.exception))

    def test_without_the_capability_the_error_names_it(self):
        self.without("http")
        with self.assertRaises(mcp.ContextError) as caught:
            mcp.Context().http(mcp.Request.get("http://h/"))
        self.assertEqual(caught.exception.kind, "not-declared")
        self.assertIn("`http` capability", str(caught.exception))


class SecretsAndSession(Fakes):
    def test_a_secret_is_read_by_name(self):
        self.fake(secrets_bindings, "get", lambda name: f"value of {name}")
        self.assertEqual(mcp.Context().secret("token"), "value of token")

    def test_an_unset_secret_fails_with_the_hosts_words(self):
        def unset(name):
            raise Err(types.FacadeError_Failed(f"secret `{name}` is not set"))

        self.fake(secrets_bindings, "get", unset)
        with self.assertRaises(mcp.ContextError) as caught:
            mcp.Context().secret("token")
        self.assertEqual((caught.exception.kind, caught.exception.message), ("failed", "secret `token` is not set"))

    def test_sql_binds_python_values_and_reads_typed_rows(self):
        seen = []

        def query(database, statement, params):
            seen.append((database, statement, params))
            return sql_bindings.QueryResult(
                ["id", "name", "doc", "raw", "ok", "gone"],
                [[sql_bindings.SqlValue_Integer(1), sql_bindings.SqlValue_Text("Ada"),
                  sql_bindings.SqlValue_Json('{"a": 1}'), sql_bindings.SqlValue_Blob(b"\x00"),
                  sql_bindings.SqlValue_Boolean(True), sql_bindings.SqlValue_Null()]],
                True,
            )

        self.fake(sql_bindings, "query", query)
        rows = mcp.Context().sql("crm").query("SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7", [1, "x", 2.5, None, True, b"b", {"k": 1}])
        database, _, params = seen[0]
        self.assertEqual(database, "crm")
        self.assertEqual(
            [type(p).__name__ for p in params],
            ["SqlValue_Integer", "SqlValue_Text", "SqlValue_Real", "SqlValue_Null",
             "SqlValue_Boolean", "SqlValue_Blob", "SqlValue_Json"],
        )
        self.assertEqual(params[6].value, '{"k": 1}')
        self.assertEqual(rows.rows, [[1, "Ada", {"a": 1}, b"\x00", True, None]])
        self.assertTrue(rows.truncated)
        self.assertEqual(rows.dicts()[0]["name"], "Ada")
        with self.assertRaises(TypeError):
            mcp.Context().sql("crm").query("SELECT ?1", [object()])

    def test_sql_transactions_and_refusals(self):
        batches = []
        self.fake(sql_bindings, "transaction", lambda db, statements: batches.append(statements) or [1, 2])
        changed = mcp.Context().sql("crm").transaction([("INSERT ?1", [1]), ("UPDATE", [])])
        self.assertEqual(changed, [1, 2])
        self.assertEqual([st.sql for st in batches[0]], ["INSERT ?1", "UPDATE"])

        def refuse(db, statement, params):
            raise Err(types.FacadeError_Denied("database `crm` refused it: read-only"))

        self.fake(sql_bindings, "execute", refuse)
        with self.assertRaises(mcp.ContextError) as caught:
            mcp.Context().sql("crm").execute("DELETE FROM t")
        self.assertEqual(caught.exception.kind, "denied")

    def test_a_grant_is_read_with_its_scope(self):
        self.fake(
            context_bindings,
            "grant",
            lambda name: context_bindings.CapabilityGrant(True, None, '{"databases": ["crm"], "write": false}'),
        )
        grant = mcp.Context().grant("sql")
        self.assertTrue(grant.granted)
        self.assertEqual(grant.scope, {"databases": ["crm"], "write": False})

    def test_session_state_holds_json(self):
        kept = {}
        self.fake(session_bindings, "set", lambda key, value: kept.__setitem__(key, value))
        self.fake(session_bindings, "get", lambda key: kept.get(key))
        self.fake(session_bindings, "list_keys", lambda: sorted(kept))
        session = mcp.Context().session
        session.set("v", {"n": 1})
        self.assertEqual(kept["v"], '{"n": 1}')
        self.assertEqual(session.get("v"), {"n": 1})
        self.assertEqual(session.get("missing", 7), 7)
        self.assertEqual(session.keys(), ["v"])


class Tracing(Fakes):
    def setUp(self):
        self.calls = []
        self.handles = iter(range(7, 100))

        def open_span(name, attributes):
            handle = next(self.handles)
            self.calls.append(("open", name, attributes, handle))
            return handle

        self.fake(context_bindings, "open_span", open_span)
        self.fake(context_bindings, "end_span", lambda span: self.calls.append(("end", span)))

    def test_a_span_is_opened_with_string_attributes_and_ended_on_exit(self):
        ctx = mcp.Context()
        with ctx.span("parse", rows=10, strict=True, name="n") as span:
            self.assertTrue(span.is_open)
            self.assertEqual(self.calls, [("open", "parse", [("rows", "10"), ("strict", "True"), ("name", "n")], 7)])
            with ctx.span("inner"):
                pass
        self.assertFalse(span.is_open)
        self.assertEqual(self.calls[1:], [("open", "inner", [], 8), ("end", 8), ("end", 7)])

    def test_a_span_ends_when_the_body_raises_and_the_exception_goes_on(self):
        error = KeyError("nope")
        with self.assertRaises(KeyError) as caught:
            with mcp.Context().span("fails", step=1):
                raise error
        self.assertIs(caught.exception, error)
        self.assertEqual(self.calls, [("open", "fails", [("step", "1")], 7), ("end", 7)])

    def test_without_a_handle_the_span_does_nothing(self):
        self.fake(context_bindings, "open_span", lambda name, attributes: self.calls.append(("open", name)))
        with mcp.Context().span("one too many") as span:
            self.assertFalse(span.is_open)
        with self.assertRaises(ValueError):
            with mcp.Context().span("still nothing"):
                raise ValueError("x")
        self.assertEqual(self.calls, [("open", "one too many"), ("open", "still nothing")])

    def test_the_trace_id_passes_through(self):
        self.fake(context_bindings, "trace_id", lambda: "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(mcp.Context().trace_id, "4bf92f3577b34da6a3ce929d0e0e4736")
        self.fake(context_bindings, "trace_id", lambda: None)
        self.assertIsNone(mcp.Context().trace_id)


class HostCatalog(Fakes):
    def setUp(self):
        text = types.EmbeddedResource("a://1", "text/plain", types.ResourceBody_Text("one"))
        blob = types.EmbeddedResource("a://1", None, types.ResourceBody_Blob(b"\x01"))
        self.fake(catalog_bindings, "list_resources", lambda: [types.ResourceDescriptor("a://1", "one", None, "first", "text/plain", 3)])
        self.fake(catalog_bindings, "list_resource_templates", lambda: [types.ResourceTemplate("a://{n}", "a", None, None, None)])
        self.fake(catalog_bindings, "read_resource", lambda uri: [text, blob])
        arguments = [types.PromptArgument("who", None, "Who", True)]
        self.fake(catalog_bindings, "list_prompts", lambda: [types.PromptDescriptor("hi", "Hi", None, arguments)])
        self.asked = []

        def get_prompt(name, arguments):
            self.asked.append((name, json.loads(arguments)))
            image = types.ContentBlock_Image(types.BinaryContent(b"png", "image/png"))
            return types.PromptResult("d", [
                types.PromptMessage(types.Role.USER, types.ContentBlock_Text("hello")),
                types.PromptMessage(types.Role.ASSISTANT, image),
            ])

        self.fake(catalog_bindings, "get_prompt", get_prompt)

    def test_the_catalog_answers_in_the_sdks_types(self):
        catalog = mcp.Context().catalog
        self.assertEqual(catalog.list_resources(), [mcp.ResourceDescriptor("a://1", "one", None, "first", "text/plain", 3)])
        self.assertEqual(catalog.list_resource_templates()[0].uri_template, "a://{n}")
        self.assertEqual(catalog.read_resource("a://1"), [
            mcp.ResourceContents("a://1", "one", None, "text/plain"),
            mcp.ResourceContents("a://1", None, b"\x01", None),
        ])
        prompts = catalog.list_prompts()
        self.assertEqual(prompts[0].arguments, (mcp.PromptArgument("who", None, "Who", True),))
        rendered = catalog.get_prompt("hi", {"who": "Ada"})
        self.assertEqual(self.asked, [("hi", {"who": "Ada"})])
        self.assertEqual(rendered.description, "d")
        self.assertEqual(rendered.messages[0], mcp.PromptMessage.user_text("hello"))
        self.assertEqual(rendered.messages[1], mcp.PromptMessage("assistant", mcp.Image(b"png", "image/png")))


# --- the exports --------------------------------------------------------------------


def _register_exports():
    """Resources, a template, a prompt and completers, registered once."""
    from mcp_plugin import Completion, Field, ResourceContents, complete_argument, prompt, resource, resource_template

    @resource("test://text", mime_type="text/plain")
    def text() -> str:
        """A text"""
        return "hello"

    @resource("test://blob", name="blob")
    def blob() -> bytes:
        return b"\x00\xff"

    @resource("test://json")
    def settings() -> dict:
        return {"a": 1}

    @resource("test://two")
    def two() -> list:
        return [ResourceContents(text="first"), ResourceContents(uri="test://other", blob=b"2", mime_type="x/y")]

    @resource("test://broken")
    def broken() -> str:
        raise KeyError("nope")

    @resource_template("test://items/{id}/{part}", mime_type="text/markdown")
    def item(id: int, part: str) -> str:
        return f"item {id + 1} {part}"

    @complete_argument(resource_template="test://items/{id}/{part}", argument="part")
    def parts(value: str, context: dict) -> list:
        return [f"{context.get('id', '?')}-{value}"]

    @prompt(title="Review")
    def review(code: Annotated[str, Field("The code")], focus: Optional[str] = None) -> list:
        """Review code"""
        return [f"Review {code}", mcp.PromptMessage.assistant_text(f"focus: {focus}")]

    @complete_argument(prompt="review", argument="focus")
    def focuses(value: str) -> Completion:
        return Completion.by_prefix(value, ["speed", "safety", "style"])


class Exports(Fakes):
    @classmethod
    def setUpClass(cls):
        _register_exports()

    def read(self, uri):
        return [(c.uri, c.mime_type, c.body.value) for c in mcp.Resources().read_resource(uri)]

    def test_resources_are_described_and_read(self):
        support = mcp.Resources().describe_resources()
        self.assertTrue(support.lists_resources)
        self.assertEqual([t.uri_template for t in support.templates], ["test://items/{id}/{part}"])
        listed = {r.uri: r for r in mcp.Resources().list_resources()}
        self.assertEqual((listed["test://text"].name, listed["test://text"].description), ("text", "A text"))
        self.assertEqual(listed["test://blob"].name, "blob")
        self.assertEqual(self.read("test://text"), [("test://text", "text/plain", "hello")])
        self.assertEqual(self.read("test://blob"), [("test://blob", "application/octet-stream", b"\x00\xff")])
        self.assertEqual(self.read("test://json"), [("test://json", "application/json", '{"a": 1}')])
        self.assertEqual(self.read("test://two"), [("test://two", None, "first"), ("test://other", "x/y", b"2")])

    def test_a_template_converts_its_variables(self):
        self.assertEqual(self.read("test://items/41/a%20b"), [("test://items/41/a%20b", "text/markdown", "item 42 a b")])

    def assertExportError(self, call, variant, fragment):
        with self.assertRaises(Err) as caught:
            call()
        self.assertEqual(type(caught.exception.value).__name__, f"ExportError_{variant}")
        self.assertIn(fragment, caught.exception.value.value)
        return caught.exception.value.value

    def test_unknown_uris_and_bad_variables_are_named(self):
        self.assertExportError(lambda: mcp.Resources().read_resource("test://nothing"), "NotFound", "no resource test://nothing")
        self.assertExportError(lambda: mcp.Resources().read_resource("test://items/x/a"), "InvalidParams", "`id` = 'x'")

    def test_a_failing_function_leaves_its_traceback_on_stderr_only(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            message = self.assertExportError(lambda: mcp.Resources().read_resource("test://broken"), "Failed", "KeyError")
        self.assertNotIn("Traceback", message)
        self.assertIn("Traceback (most recent call last)", stderr.getvalue())
        self.assertIn("in broken", stderr.getvalue())

    def test_prompts_are_described_and_rendered(self):
        [described] = [p for p in mcp.Prompts().list_prompts() if p.name == "review"]
        self.assertEqual((described.title, described.description), ("Review", "Review code"))
        self.assertEqual(
            [(a.name, a.description, a.required) for a in described.arguments],
            [("code", "The code", True), ("focus", None, False)],
        )
        rendered = mcp.Prompts().get_prompt("review", [("code", "x = 1"), ("focus", "speed")])
        self.assertEqual(
            [(m.role, m.content.value) for m in rendered.messages],
            [(types.Role.USER, "Review x = 1"), (types.Role.ASSISTANT, "focus: speed")],
        )
        self.assertExportError(lambda: mcp.Prompts().get_prompt("nope", []), "NotFound", "no prompt named nope")

    def test_completions_dispatch_by_reference(self):
        def complete(reference, argument, value, context=()):
            return mcp.Completions().complete(reference, argument, value, list(context))

        prompt_ref = completions_bindings.CompletionRef_Prompt
        template_ref = completions_bindings.CompletionRef_ResourceTemplate
        answer = complete(prompt_ref("review"), "focus", "s")
        self.assertEqual((answer.values, answer.total, answer.has_more), (["speed", "safety", "style"], 3, False))
        self.assertEqual(complete(prompt_ref("review"), "code", "").values, [])
        self.assertEqual(complete(template_ref("test://items/{id}/{part}"), "part", "p", [("id", "7")]).values, ["7-p"])
        self.assertExportError(lambda: complete(prompt_ref("nope"), "x", ""), "NotFound", "no prompt named nope")
        self.assertExportError(lambda: complete(prompt_ref("review"), "other", ""), "InvalidParams", "has no argument `other`")
        self.assertExportError(lambda: complete(template_ref("test://x/{y}"), "y", ""), "NotFound", "no resource template")

    def test_at_most_a_hundred_values_are_sent(self):
        many = mcp.Completion(str(i) for i in range(150))
        self.assertEqual((len(many.values), many.total, many.has_more), (100, 150, True))

    def test_a_resource_function_takes_no_arguments_and_a_template_its_variables(self):
        with self.assertRaises(mcp.SchemaError):
            mcp.resource("test://bad")(lambda name: name)
        with self.assertRaises(mcp.SchemaError):
            mcp.resource_template("test://bad/{a}")(lambda b: b)
        with self.assertRaises(mcp.UriTemplateError):
            mcp.resource_template("test://bad/{+a}")(lambda a: a)
        with self.assertRaises(mcp.SchemaError) as caught:
            mcp.prompt(name="numeric")(_numeric_prompt)
        self.assertIn("argument 'count' must be a str", str(caught.exception))


def _numeric_prompt(count: int) -> str:
    return str(count)


class ListingTools(unittest.TestCase):
    def test_listing_runs_no_tool_writes_nothing_and_answers_the_same_each_time(self):
        ran = []

        @mcp.tool(name="listing_counter")
        def listing_counter() -> str:
            ran.append(1)
            return "ran"

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            first = [t.name for t in mcp.Tools().list_tools()]
            second = [t.name for t in mcp.Tools().list_tools()]
        self.assertIn("listing_counter", first)
        self.assertEqual(first, second)
        self.assertEqual(ran, [], "listing the tools ran one")
        self.assertEqual((out.getvalue(), err.getvalue()), ("", ""))
        self.assertEqual(mcp.Tools().call_tool("listing_counter", "{}").content[0].value, "ran")


class TaskSupport(unittest.TestCase):
    def descriptor(self, name):
        [descriptor] = [t for t in mcp.Tools().list_tools() if t.name == name]
        return descriptor

    def test_a_call_runs_as_a_task_only_when_the_tool_says_so(self):
        @mcp.tool(name="task_default")
        def task_default() -> str:
            return "done"

        @mcp.tool(name="task_optional", task="optional", read_only=True)
        def task_optional(seconds: int) -> str:
            return f"waited {seconds}"

        @mcp.tool(name="task_required", task="required")
        def task_required() -> str:
            return "done"

        @mcp.tool(name="task_forbidden", task="forbidden")
        def task_forbidden() -> str:
            return "done"

        self.assertEqual(self.descriptor("task_default").task_support, types.TaskSupport.FORBIDDEN)
        self.assertEqual(self.descriptor("task_forbidden").task_support, types.TaskSupport.FORBIDDEN)
        optional = self.descriptor("task_optional")
        self.assertEqual(optional.task_support, types.TaskSupport.OPTIONAL)
        self.assertTrue(optional.annotations.read_only_hint)
        self.assertEqual(json.loads(optional.input_schema)["required"], ["seconds"])
        required = self.descriptor("task_required")
        self.assertEqual(required.task_support, types.TaskSupport.REQUIRED)
        self.assertIsNone(required.annotations)
        # The function is called the same way either way.
        self.assertEqual(mcp.Tools().call_tool("task_optional", '{"seconds": 2}').content[0].value, "waited 2")

    def test_an_unknown_task_value_is_refused_naming_the_allowed_ones(self):
        for value in ["sometimes", "Optional", True, None]:
            with self.assertRaises(ValueError) as caught:

                @mcp.tool(name="task_bad", task=value)
                def task_bad() -> str:
                    return "never"

            message = str(caught.exception)
            self.assertIn("tool 'task_bad'", message)
            self.assertIn("'forbidden', 'optional' or 'required'", message)
            self.assertIn(repr(value), message)
        self.assertNotIn("task_bad", [t.name for t in mcp.Tools().list_tools()])


class UncaughtInATool(Fakes):
    def test_the_model_reads_the_message_and_the_log_gets_the_traceback(self):
        @mcp.tool(name="explodes")
        def explodes() -> str:
            raise RuntimeError("kaboom")

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(Err) as caught:
            mcp.Tools().call_tool("explodes", "{}")
        self.assertEqual(caught.exception.value.message, "RuntimeError: kaboom")
        self.assertIn("Traceback (most recent call last)", stderr.getvalue())
        self.assertIn("in explodes", stderr.getvalue())

    def test_a_tool_error_is_not_logged(self):
        @mcp.tool(name="refuses")
        def refuses() -> str:
            raise mcp.ToolError("no")

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(Err) as caught:
            mcp.Tools().call_tool("refuses", "{}")
        self.assertEqual(caught.exception.value.message, "no")
        self.assertEqual(stderr.getvalue(), "")


if __name__ == "__main__":
    unittest.main()
