"""Reference implementation of the marketplace Chat API (REST + Socket.IO).

`openapi.yaml` and `asyncapi.yaml` at the repository root are the contract; this package
serves them. Start it with `python -m impl serve`; build it in code with
`impl.app.create_app(Settings(...))`.
"""

__version__ = "0.1.0"
