"""The entry module of a Python plugin's component: it imports the plugin
(``app``), whose decorators register its tools, resources, prompts and
completers, and offers componentize-py the four exports of the world.

Build with ``componentize-py ... componentize mcp_plugin.component``.

The component's memory is snapshotted once this module is imported, and
every instance starts from that snapshot, sharing its pages until it
writes to them. The objects made by then (modules, classes, the plugin's
registrations) live as long as the instance, so they are moved out of the
garbage collector's reach: otherwise an instance's first collection walks
them all and copies most of the snapshot's pages on its first call.
"""

import gc

import app  # noqa: F401  (the plugin registers itself on import)

from mcp_plugin import Completions, Prompts, Resources, Tools  # noqa: F401

gc.collect()
gc.freeze()
