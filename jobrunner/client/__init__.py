"""The realtime client: one file through one session of the Auto endpoint.

* :mod:`~jobrunner.client.auto`: :func:`~jobrunner.client.auto.transcribe_file`, the session's
  I/O; it asks :mod:`jobrunner.protocol` for every decision;
* :mod:`~jobrunner.client.transport`: websockets in, :mod:`jobrunner.errors` out; connect
  retries;
* :mod:`~jobrunner.client.source`: the pre-stream checks (there, readable, still the file that
  was enqueued) and the wire plan;
* :mod:`~jobrunner.client.readahead`: file reads in a worker thread, a batch ahead;
* :mod:`~jobrunner.client.sender`: chunks at the pacer's schedule, then our close;
* :mod:`~jobrunner.client.pacer`: the drift-free realtime schedule;
* :mod:`~jobrunner.client.results`: the session's result and live events.
"""
