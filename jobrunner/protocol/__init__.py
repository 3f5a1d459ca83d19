"""Sans-I/O core of the Auto endpoint protocol: wire types, limits, handshake, turns, lifecycle.

Nothing in this package opens a socket, reads a clock or touches a file:

* :mod:`~jobrunner.protocol.events`: the wire events and client messages, both directions;
* :mod:`~jobrunner.protocol.limits`: parameter ranges and defaults, as data;
* :mod:`~jobrunner.protocol.handshake`: the upgrade URL and headers as the official SDK sends
  them, and the client's check of the parameters;
* :mod:`~jobrunner.protocol.turns`: the client's turn state machine and turn records;
* :mod:`~jobrunner.protocol.lifecycle`: close codes, drain deadlines, the judgement of the
  server's close and the success rule.

The client (:mod:`jobrunner.client`) and the bundled server (:mod:`jobrunner.server`) share the
events and the limits' *data*; only the client uses the handshake checks, the turn state machine
and the lifecycle, so a bug cannot hide by being mirrored on both sides.
"""
