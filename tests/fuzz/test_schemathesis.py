"""The spec fuzzes the implementation: every operation of openapi.yaml, in process, through
the examples, coverage and fuzzing phases, with every built-in check of schemathesis 4.32.5
on every operation:

    not_a_server_error, status_code_conformance, content_type_conformance,
    response_headers_conformance, response_schema_conformance, negative_data_rejection,
    positive_data_acceptance, missing_required_header, unsupported_method,
    allow_header_conformance, use_after_free, ensure_resource_availability, ignored_auth,
    object_level_authorization

plus the contract's own (`fuzzkit.problem_document`, `fuzzkit.success_envelope`). The app
validates its own responses too (`Settings(validate_responses=True)`).

Each request carries the token of `owner`, who created the group chat that every `{id}`
is pinned to; `{messageId}`, `{participantId}` and `{fileId}` are pinned to real ones of
that chat, so cases get past "not found" to the rules behind it. Bodies draw user and
message ids from the seeded world half of the time. What `positive_data_acceptance`
accepts per operation, and the two dev operations left out, are in `schemathesis.toml`
with their reasons.

Checks that need a history: `use_after_free`, `ensure_resource_availability` and
`object_level_authorization` (owner's reads replayed as `outsider`) judge a request by the
steps before it, so they bite in test_stateful.py; here they run and stay quiet.
"""

from __future__ import annotations

import schemathesis
from fuzzkit import BUDGET, build_world, fuzz_settings, load_schema

# Built when the module is imported: `schemathesis.pytest.from_fixture` would build it in
# a fixture instead, but schemathesis 4.32.5's lazy loader reads `Node._nodeid`, which
# pytest 9.2 no longer has (AttributeError), so the schema is loaded eagerly.
#
# The message rate limit is lifted here: every case is sent by one user, and at 20 per
# minute the send operations would answer 429 to nearly every case after the first few,
# hiding the content rules behind it. test_properties.py fuzzes the limiter itself.
WORLD = build_world(fuzz_settings(rate_limit=1_000_000))
schema = load_schema(WORLD, max_examples=BUDGET.operation_examples)


@schema.parametrize()
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()
