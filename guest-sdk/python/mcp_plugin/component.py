"""The entry module of a Python plugin's component: it imports the plugin
(``app``), whose decorators register its tools, resources, prompts and
completers, and offers componentize-py the four exports of the world.

Build with ``componentize-py ... componentize mcp_plugin.component``.
"""

import app  # noqa: F401  (the plugin registers itself on import)

from mcp_plugin import Completions, Prompts, Resources, Tools  # noqa: F401
