"""Sans-I/O core of the Auto endpoint protocol: wire types, handshake, turn state.

Nothing in this package opens a socket, reads a clock or touches a file. The client
(:mod:`jobrunner.client`) and the bundled server (:mod:`jobrunner.server`) both use
:mod:`jobrunner.protocol.events` for the wire format; only the client uses the turn state
machine, so a bug cannot hide by being mirrored on both sides.
"""
