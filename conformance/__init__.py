"""A conformance kit for the marketplace Chat API: its rules as a black-box suite that
speaks only HTTP and Socket.IO, so it can judge any implementation.

    python -m conformance --base-url URL        (or `chat-api conformance --base-url URL`)

Every answer is checked against the reference `openapi.yaml` and every event against
`asyncapi.yaml`, on top of named rules (`conformance.rules`), each with a stable id, one
sentence and the spec place it comes from. The kit imports nothing of the reference
server. docs/conformance.md says how to run it and read its reports.

    specs      the reference contracts and the checks against them
    http       the REST client; sockets   the Socket.IO client
    trace      what a rule saw; expect    what rules assert
    world      users and capabilities: the dev endpoints, or a fixture file
    registry   rules and sections; rules/   the rules themselves
    check      what a rule works with; runner   one run; reports   console, JUnit, HTML, JSON
    cli        the command line
"""

__version__ = "1.0.0"
