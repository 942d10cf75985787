"""The spec's OpenAPI links drive a state machine (`schema.as_state_machine()`).

Links in openapi.yaml: create a chat (direct or group, purchase, support) -> list, send,
send a file, info, archive, mark read, events, add a participant; send -> edit, delete,
mark read, list before it; send a file -> the same plus download its attachment; add a
participant -> remove them. Schemathesis adds links it infers from the schema (list chats,
the dev user endpoints). Path parameters come only from links; bodies draw user and message
ids from the seeded world, so chats get created and the links have something to follow.

Every step runs every built-in check and the contract's envelope checks from fuzzkit.
Three checks need the recorded scenario this machine keeps: `use_after_free`,
`ensure_resource_availability`, and `object_level_authorization`, which replays each read
of a chat `owner` just created as `outsider` (in none of owner's chats) and fails if the
outsider gets it too (a server that skipped the participant check fails here at once).

The run counts the operations that answered 2xx and asserts a floor, so a spec edit that
breaks a link, or a server change that breaks a chain, shows up as lost reach.

Not reached: `POST /api/chat/purchase-request`. Schemathesis starts scenarios only from
operations it expects to succeed with generated data, and an operation whose body names an
id no operation produces (`purchaseRequestId`) is not one; no link leads to it either.
test_schemathesis.py and the idempotency property fuzz it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import schemathesis
from fuzzkit import BUDGET, build_world, fuzz_settings, load_schema, restore, snapshot
from hypothesis import settings

# The operations the spec's links connect.
LINKED = {
    "POST /api/chat",
    "POST /api/chat/purchase-request",
    "POST /api/chat/support",
    "GET /api/chat/{id}/info",
    "PUT /api/chat/{id}/archive",
    "POST /api/chat/{id}/participants",
    "DELETE /api/chat/{id}/participants/{participantId}",
    "GET /api/chat/{id}/messages",
    "POST /api/chat/{id}/messages",
    "POST /api/chat/{id}/messages/file",
    "PATCH /api/chat/{id}/messages/read",
    "PUT /api/chat/{id}/messages/{messageId}",
    "DELETE /api/chat/{id}/messages/{messageId}",
    "GET /api/chat/{id}/events",
    "GET /api/chat/{id}/attachments/{fileId}",
}
# Distinct operations that must answer 2xx at least once in a run. Runs of the ci profile
# reached 14 to 17 (11 to 14 of the linked ones); the long profile reached every linked
# operation but the purchase chat (see above).
MINIMUM_REACHED = 12

called: Counter[str] = Counter()
succeeded: Counter[str] = Counter()

# Rate limit lifted for the same reason as in test_schemathesis.py: one user sends all.
WORLD = build_world(fuzz_settings(rate_limit=1_000_000))
schema = load_schema(WORLD, max_examples=BUDGET.operation_examples, stateful=True)
SEEDED = snapshot(WORLD.app)


class ChatWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Every scenario starts from the same stored state. Hypothesis replays and shrinks
        # scenarios by their choices; were the store to keep what earlier scenarios did,
        # the same choices would meet other responses (FlakyStrategyDefinition), and a
        # failure could not be reproduced.
        restore(WORLD.app, SEEDED)

    def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
        super().after_call(response, case)
        label = f"{case.operation.method.upper()} {case.operation.path}"
        called[label] += 1
        if 200 <= response.status_code < 300:
            succeeded[label] += 1


def test_links_reach_the_api(record_property: Callable[[str, object], None]) -> None:
    ChatWorkflow.run(
        settings=settings(
            max_examples=BUDGET.stateful_examples,
            stateful_step_count=BUDGET.stateful_steps,
            deadline=None,
        )
    )
    reached = set(succeeded)
    print(
        f"\nstate machine: {len(reached)} operations answered 2xx, {len(reached & LINKED)} of"
        f" the {len(LINKED)} the spec links; {sum(called.values())} calls"
    )
    for label in sorted(called):
        print(f"  {succeeded[label]:4d} / {called[label]:4d} 2xx  {label}")
    record_property("operations_reached", len(reached))
    record_property("linked_operations_reached", len(reached & LINKED))
    assert len(reached) >= MINIMUM_REACHED, f"reached only {sorted(reached)}"
