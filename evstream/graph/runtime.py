"""The threaded graph runtime: one thread per node, bounded edges, end-of-stream, stats.

Data flows one way: sources produce packets, transforms turn packets into
packets, sinks consume them. Every node runs in its own thread (Numba kernels
release the GIL, so nodes overlap); the edges between them are bounded queues
with a per-edge policy (:mod:`evstream.graph.edge`).

End of stream: when a source's ``generate()`` returns, it sends ``END`` on its
output edges. A node finishes once ``END`` arrived on *every* input edge: a
transform then emits ``flush()`` and forwards ``END``. So a diamond graph ends
exactly once, after every path has drained.

Stopping (Ctrl-C, SIGTERM, :meth:`Graph.stop`): sources stop producing and the
rest of the graph drains what was already read for ``grace_s`` seconds; past
that (or on a second signal) every queue is closed and every thread exits.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from evstream.errors import UserError
from evstream.graph.edge import END, POLICIES, Edge, Inbox
from evstream.graph.node import Node, Sink, Source, Transform, suggest
from evstream.graph.stats import NodeStats

__all__ = ["Graph", "GraphError", "NodeError"]


class GraphError(UserError):
    """The graph is wired wrongly (unknown input, port types that do not match, a cycle)."""


class NodeError(RuntimeError):
    """A node raised an unexpected exception while running (a bug, not a user error)."""


def kinds_match(produced: str | None, accepted: str) -> bool:
    """Whether an output of kind ``produced`` may feed a port accepting ``accepted``."""
    return produced is not None and (accepted == "any" or produced == "any" or produced == accepted)


class Graph:
    """A directed acyclic graph of nodes, run with one thread per node.

    Build it with :meth:`add` (inputs must already be in the graph) or load it
    from a TOML file with :func:`evstream.graph.load_graph`. :meth:`run`
    blocks until the stream ends or the graph is stopped and returns the stats.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._inboxes: dict[str, Inbox] = {}
        self._outputs: dict[str, list[Edge]] = {}
        self._stats: dict[str, NodeStats] = {}
        self._threads: list[threading.Thread] = []
        self._errors: list[tuple[str, BaseException]] = []
        self._stop_reason: str | None = None
        self._hard_stop_at: float | None = None
        self._ran = False

    # -- building ---------------------------------------------------------------
    def add(self, node: Node, input: Node | str | Sequence[Node | str] | dict[str, Any] | None = None,
            policy: str = "block", queue: int = 8) -> Node:
        """Add ``node`` fed by ``input`` and return it.

        Args:
            node: a :class:`Source`, :class:`Transform` or :class:`Sink` instance.
            input: upstream node(s) (objects or names) feeding the default input
                port, or a dict ``port -> upstream(s)`` for nodes with named ports.
            policy: ``"block"`` (lossless) or ``"drop-oldest"`` for the new input edges.
            queue: capacity of each new input edge, in packets.
        """
        if node.name in self.nodes:
            raise GraphError(f"node name {node.name!r} is used twice")
        if policy not in POLICIES:
            raise GraphError(f"node {node.name!r}: policy must be one of {', '.join(POLICIES)} (got {policy!r})")
        if not isinstance(queue, int) or isinstance(queue, bool) or queue < 1:
            raise GraphError(f"node {node.name!r}: queue must be an integer >= 1 packet (got {queue!r})")
        wiring = self._normalise_inputs(node, input)
        ports = node.ports()
        if isinstance(node, Source) and wiring:
            raise GraphError(f"node {node.name!r} ({node.type_name}) is a source and takes no input; remove its 'input'")
        for port, kind in ports.items():
            if port == next(iter(ports)) and not wiring.get(port):
                raise GraphError(f"node {node.name!r} ({node.type_name}) needs an input of kind {kind!r}; "
                                 "set its 'input' to an upstream node")
        for port, upstreams in wiring.items():
            if port not in ports:
                raise GraphError(f"node {node.name!r} ({node.type_name}) has no input port {port!r} "
                                 f"(ports: {', '.join(ports) or 'none'})")
            for up in upstreams:
                producer = self.nodes[up]
                if isinstance(producer, Sink):
                    raise GraphError(f"node {node.name!r}: input {up!r} is a sink ({producer.type_name}) and produces nothing")
                if not kinds_match(producer.output_kind, ports[port]):
                    raise GraphError(
                        f"node {node.name!r} ({node.type_name}): port {port!r} takes {ports[port]!r} "
                        f"but {up!r} ({producer.type_name}) produces {producer.output_kind!r}; "
                        f"insert a node that turns {producer.output_kind} into {ports[port]}")
        self.nodes[node.name] = node
        self._stats[node.name] = NodeStats(node.name, node.type_name)
        self._outputs[node.name] = []
        inbox = self._inboxes[node.name] = Inbox()
        for port, upstreams in wiring.items():
            for up in upstreams:
                edge = Edge(up, node.name, port, queue, policy)
                inbox.attach(edge)
                self._outputs[up].append(edge)
                self.edges.append(edge)
        return node

    def _normalise_inputs(self, node: Node, input: Any) -> dict[str, list[str]]:
        if input is None:
            return {}
        if not isinstance(input, dict):
            ports = node.ports()
            input = {next(iter(ports), "in"): input}
        wiring: dict[str, list[str]] = {}
        for port, ups in input.items():
            ups = [ups] if isinstance(ups, (str, Node)) else list(ups)
            names = []
            for up in ups:
                name = up.name if isinstance(up, Node) else up
                if name not in self.nodes:
                    raise GraphError(f"node {node.name!r}: input {name!r} is not a node of this graph"
                                     f"{suggest(name, self.nodes)}")
                names.append(name)
            wiring[port] = names
        return wiring

    # -- running ----------------------------------------------------------------
    def run(self, progress: bool = False, grace_s: float = 0.5, handle_signals: bool = True) -> dict[str, Any]:
        """Run to end of stream (or until stopped) and return the stats.

        Args:
            progress: show a progress bar for sources that report ``progress()``.
            grace_s: after a stop request, time the graph may drain before every
                queue is closed.
            handle_signals: when called from the main thread, SIGINT/SIGTERM stop
                the graph (a second signal stops it at once).

        Returns:
            ``{"nodes": {name: stats}, "wall_s": float, "stopped": reason or None}``.

        Raises:
            UserError: a node raised one (bad file, missing device...).
            NodeError: a node failed unexpectedly; the message names it.
        """
        if self._ran:
            raise GraphError("a Graph runs once; build a new one to run again")
        if not self.nodes:
            raise GraphError("the graph has no nodes")
        self._ran = True
        self._grace_s = grace_s
        t0 = time.perf_counter()
        restore = self._install_signals() if handle_signals else None
        bar = _ProgressBar(self) if progress else None
        try:
            for name, node in self.nodes.items():
                t = threading.Thread(target=self._run_node, args=(node,), name=f"evstream:{name}", daemon=True)
                self._threads.append(t)
                t.start()
            while any(t.is_alive() for t in self._threads):
                for t in self._threads:
                    t.join(0.05)
                if bar:
                    bar.update()
                if self._hard_stop_at is not None and time.perf_counter() >= self._hard_stop_at:
                    self._close_all()
        finally:
            if restore:
                restore()
            if bar:
                bar.close()
        result = {"nodes": self.stats(), "wall_s": round(time.perf_counter() - t0, 4), "stopped": self._stop_reason}
        for name, exc in self._errors:
            if isinstance(exc, UserError):
                raise exc
            raise NodeError(f"node {name!r} ({self.nodes[name].type_name}) failed: "
                            f"{type(exc).__name__}: {exc}") from exc
        return result

    def stop(self, reason: str = "stopped", grace_s: float | None = None) -> None:
        """Ask sources to stop; the graph drains for ``grace_s`` s, then every queue closes."""
        if self._stop_reason is None:
            self._stop_reason = reason
        for node in self.nodes.values():
            if isinstance(node, Source):
                node.stopping.set()
        grace = self._grace_s if grace_s is None else grace_s
        deadline = time.perf_counter() + grace
        if self._hard_stop_at is None or deadline < self._hard_stop_at:
            self._hard_stop_at = deadline

    def _close_all(self) -> None:
        for node in self.nodes.values():
            node.stopping.set()
        for inbox in self._inboxes.values():
            inbox.close()

    def _install_signals(self):  # noqa: ANN202 - returns a restore callback or None
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            name = signal.Signals(signum).name
            if self._stop_reason is not None:
                self.stop(name, grace_s=0.0)
            else:
                self.stop(name)

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, h in previous.items():
                signal.signal(sig, h)

        return restore

    # -- one node's thread ----------------------------------------------------------
    def _emit(self, name: str, packet: Any) -> None:
        for edge in self._outputs[name]:
            edge.inbox.put(edge, packet)

    def _run_node(self, node: Node) -> None:
        stats = self._stats[node.name]
        try:
            node.start()
            if isinstance(node, Source):
                self._run_source(node, stats)
            else:
                self._run_consumer(node, stats)
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            stats.error = f"{type(exc).__name__}: {exc}"
            self._errors.append((node.name, exc))
            # Downstream still drains what was read before the error; upstream stops.
            self._inboxes[node.name].close()
            self.stop(f"error in node {node.name!r}")
        finally:
            try:
                node.close()
            finally:
                self._emit(node.name, END)

    def _run_source(self, node: Source, stats: NodeStats) -> None:
        emit = self._emit
        name = node.name
        for packet in node.generate():
            stats.mark()
            stats.packets_out += 1
            stats.items_out += len(packet)
            emit(name, packet)
            if node.stopping.is_set():
                break

    def _run_consumer(self, node: Node, stats: NodeStats) -> None:
        inbox = self._inboxes[node.name]
        open_inputs = len(inbox.edges)
        is_transform = isinstance(node, Transform)
        emit = self._emit
        name = node.name
        while open_inputs:
            got = inbox.get()
            if got is None:
                return
            edge, packet, t_in = got
            if packet is END:
                open_inputs -= 1
                continue
            t_work = time.perf_counter_ns()
            stats.packets_in += 1
            stats.items_in += len(packet)
            if is_transform:
                for out in node.process(packet, edge.port):
                    stats.packets_out += 1
                    stats.items_out += len(out)
                    emit(name, out)
            else:
                node.consume(packet, edge.port)
            t_done = time.perf_counter_ns()
            stats.busy_ns += t_done - t_work
            stats.latency.add((t_done - t_in) / 1e3)
            stats.mark()
        if is_transform:
            for out in node.flush():
                stats.packets_out += 1
                stats.items_out += len(out)
                emit(name, out)

    # -- results --------------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-node stats (safe to call while running; values may be mid-update)."""
        out = {}
        for name, node in self.nodes.items():
            inputs = [e.stats() for e in self._inboxes[name].edges]
            out[name] = self._stats[name].as_dict(inputs, node.stats_extra())
        return out


class _ProgressBar:
    """A tqdm bar over the sources that report ``progress()`` (hidden when stderr is not a terminal)."""

    def __init__(self, graph: Graph) -> None:
        from tqdm import tqdm

        self.sources = [n for n in graph.nodes.values() if isinstance(n, Source)]
        self.bar = tqdm(total=None, unit="", disable=None, leave=False, desc="evstream")

    def update(self) -> None:
        done = total = 0.0
        for node in self.sources:
            p = node.progress()
            if p is None:
                continue
            done += p[0]
            total += p[1]
        if total:
            self.bar.total = 100.0
            self.bar.n = round(100.0 * min(done / total, 1.0), 1)
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()

