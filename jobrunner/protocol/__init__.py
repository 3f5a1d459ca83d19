"""Sans-I/O core of the Auto endpoint protocol: wire types, handshake, turn state.

Nothing in this package opens a socket, reads a clock or touches a file. The client
(``jobrunner.transport``/``jobrunner.runner``) and the bundled server (``jobrunner.server``)
both use :mod:`jobrunner.protocol.events` for the wire format; only the client uses the
session state machine, so a bug cannot hide by being mirrored on both sides.
"""
