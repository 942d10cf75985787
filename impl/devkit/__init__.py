"""The contract-testing kit behind /api/dev: sandboxes (isolated worlds in one server),
injected faults, the request journal and what makes it safe to keep (redaction), and the
kit's operations. It steers the HTTP edge (its layers sit around Connexion) and works on
the domain; nothing below it imports it.
"""
