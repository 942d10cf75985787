"""The Socket.IO tests: handshakes, rooms, events, typing and presence, payload rules,
abuse, the contract both ways, sandboxes over sockets, and a Node client."""
