"""The node-graph runtime: sources, transforms and sinks wired by typed, bounded edges.

>>> from evstream.graph import Graph
>>> from evstream.graph.builtin import SyntheticSource, Identity, CountSink
>>> g = Graph()
>>> src = g.add(SyntheticSource("src", events=10_000, packet=1_000))
>>> mid = g.add(Identity("mid"), input=src)
>>> out = g.add(CountSink("out"), input=mid)
>>> g.run()["nodes"]["out"]["events_in"]
10000
"""

from evstream.graph.edge import POLICIES
from evstream.graph.loader import load_graph
from evstream.graph.node import Node, Param, ParamError, Sink, Source, Transform
from evstream.graph.registry import register
from evstream.graph.runtime import Graph, GraphError, NodeError

__all__ = ["POLICIES", "Graph", "GraphError", "Node", "NodeError", "Param", "ParamError", "Sink",
           "Source", "Transform", "load_graph", "register"]
