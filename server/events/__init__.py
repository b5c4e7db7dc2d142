"""Live events: the outbox written with each change (`outbox`), who receives what
(`recipients`), the per-process hub that reads new events and fans them out to sockets
(`hub`), and the WebSocket endpoint (`socket`)."""
