"""The realtime client: pacing, the websocket transport, one file through one session."""
