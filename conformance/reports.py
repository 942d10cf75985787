"""What a run leaves for people and CI: a console summary, JUnit XML, a self-contained
HTML page and a JSON result, written into one folder.

    results.json   the target, the limits used, every rule (id, section, statement, spec
                   place and passage, status, message, time) and, for each failure, its
                   REST exchanges and Socket.IO log
    junit.xml      one testsuite per section, one testcase per rule: a failure element for
                   a failed rule, skipped (with the reason) for one not run
    report.html    the same for a reader: rules by section, failures opened with what was
                   sent and received and the spec passage the rule checks; no script, no
                   external resource
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from conformance.registry import SECTIONS
from conformance.runner import FAILED, NOT_RUN, PASSED, Outcome, Result
from conformance.specs import Contract
from conformance.trace import Exchange, SocketRecord

LABELS = {PASSED: "PASS", FAILED: "FAIL", NOT_RUN: "NOT RUN"}


def by_section(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.rule.section, []).append(outcome)
    return {s: grouped[s] for s in SECTIONS if s in grouped}


def totals(result: Result) -> str:
    counts = ", ".join(f"{result.count(s)} {s}" for s in LABELS)
    return f"{len(result.outcomes)} rules: {counts} in {result.seconds:.1f} s"


def describe_target(result: Result) -> str:
    world = result.world
    where = f", sandbox {world['sandbox']}" if world.get("sandbox") else ""
    return f"{result.base_url} ({world['mode']}{where})"


def describe_limits(result: Result) -> str:
    limits = result.limits
    source = "GET /api/chat/config" if result.limits_from == "config" else result.limits_from
    return (
        f"{limits.rate_messages} messages per {limits.window_s} s, "
        f"edit window {limits.edit_window_s} s, "
        f"{limits.max_message_length} characters (from {source})"
    )


# --- console -----------------------------------------------------------------------------


def console(result: Result, verbose: bool = False) -> str:
    lines = [
        f"Chat API conformance: {describe_target(result)}",
        f"limits: {describe_limits(result)}",
        "",
    ]
    for section, outcomes in by_section(result.outcomes).items():
        counts = {s: sum(o.status == s for o in outcomes) for s in LABELS}
        shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines.append(f"{section:<14} {shown}")
        for outcome in outcomes:
            if outcome.status == PASSED and not verbose:
                continue
            lines.append(f"  {LABELS[outcome.status]:<8} {outcome.rule.id}")
            if outcome.message:
                first = outcome.message.strip().splitlines()
                lines += [f"           {line}" for line in first[:4]]
    lines += ["", totals(result)]
    return "\n".join(lines)


# --- JSON --------------------------------------------------------------------------------


def outcome_json(outcome: Outcome, contract: Contract) -> dict[str, Any]:
    rule = outcome.rule
    found: dict[str, Any] = {
        "id": rule.id,
        "section": rule.section,
        "statement": rule.statement,
        "source": {"reference": rule.source.reference, "passage": contract.passage(rule.source)},
        "needs": list(rule.needs),
        "status": outcome.status,
        "message": outcome.message,
        "seconds": round(outcome.seconds, 3),
    }
    if outcome.kit_error:
        found["kitError"] = True
    if outcome.status == FAILED:
        found["exchanges"] = [e.as_json() for e in outcome.trace.exchanges]
        found["socketLog"] = [r.as_json() for r in outcome.trace.socket_log]
    return found


def as_json(result: Result, contract: Contract) -> dict[str, Any]:
    return {
        "kit": {"name": "chat-api conformance", "version": result.kit_version},
        "target": {"baseUrl": result.base_url, **result.world},
        "limits": {**asdict(result.limits), "from": result.limits_from},
        "startedAt": result.started_at,
        "seconds": round(result.seconds, 3),
        "summary": {
            "rules": len(result.outcomes),
            "passed": result.count(PASSED),
            "failed": result.count(FAILED),
            "notRun": result.count(NOT_RUN),
        },
        "rules": [outcome_json(o, contract) for o in result.outcomes],
    }


# --- JUnit -------------------------------------------------------------------------------


def junit(result: Result) -> bytes:
    suites = ET.Element(
        "testsuites",
        name="chat-api conformance",
        tests=str(len(result.outcomes)),
        failures=str(result.count(FAILED)),
        skipped=str(result.count(NOT_RUN)),
        time=f"{result.seconds:.3f}",
    )
    for section, outcomes in by_section(result.outcomes).items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=section,
            tests=str(len(outcomes)),
            failures=str(sum(o.status == FAILED for o in outcomes)),
            skipped=str(sum(o.status == NOT_RUN for o in outcomes)),
            time=f"{sum(o.seconds for o in outcomes):.3f}",
        )
        for outcome in outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=section,
                name=outcome.rule.id,
                time=f"{outcome.seconds:.3f}",
            )
            if outcome.status == FAILED:
                first = (
                    outcome.message.strip().splitlines()[0] if outcome.message.strip() else "failed"
                )
                failure = ET.SubElement(case, "failure", message=first[:500], type="RuleFailed")
                failure.text = (
                    f"{outcome.rule.statement}\n\n{outcome.message}\n\n{plain_trace(outcome)}"
                )
            elif outcome.status == NOT_RUN:
                ET.SubElement(case, "skipped", message=outcome.message[:500])
    ET.indent(suites)
    written: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return written


def plain_trace(outcome: Outcome) -> str:
    lines = []
    for exchange in outcome.trace.exchanges:
        lines.append(f"> {exchange.line}  {exchange.request_body[:300]}")
        lines.append(f"< {exchange.status}  {exchange.response_body[:300]}")
    for record in outcome.trace.socket_log:
        lines.append(f"~ {record.socket} {record.kind} {record.name} {record.payload[:300]}")
    return "\n".join(lines)


# --- HTML --------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2330;
       margin: 2rem auto; max-width: 70rem; padding: 0 1rem }
h1 { font-size: 1.5rem; margin-bottom: .2rem }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #d8dce5 }
h3 { font-size: 1rem }
.meta, .reason, .source { color: #4a5366 } .meta { margin: .1rem 0 }
.totals { font-size: 1.05rem; margin: 1rem 0 } .source { font-size: .85rem }
.badge { display: inline-block; min-width: 4.8rem; text-align: center; border-radius: 4px;
         padding: 0 .4rem; font-size: .8rem; font-weight: 600; margin-right: .6rem }
.passed .badge { background: #dcf3e3; color: #17632f }
.failed .badge { background: #fbdcdc; color: #9b1c1c }
.notrun .badge { background: #ecedf1; color: #4a5366 }
details { border: 1px solid #e3e6ee; border-radius: 6px; margin: .35rem 0; padding: .35rem .6rem }
details.failed { border-color: #f0b4b4 }
details.exchange { border: 0; padding: .1rem 0; margin: 0 }
summary { cursor: pointer } summary code { font-size: .9rem } .statement { color: #333b4d }
pre { background: #f6f7fa; border-radius: 4px; padding: .5rem; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; font-size: .82rem }
.why { background: #fff4f4 }
blockquote { margin: .3rem 0; padding: .2rem .8rem; border-left: 3px solid #b9c1d3 }
table { border-collapse: collapse; margin: .5rem 0 }
td, th { padding: .15rem .7rem; border-bottom: 1px solid #e3e6ee; text-align: left;
         font-size: .9rem; vertical-align: top }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _exchange_html(exchange: Exchange, opened: bool) -> str:
    """One exchange, folded unless `opened` (the last one, where a rule usually stops)."""
    request_headers = "\n".join(f"{k}: {v}" for k, v in exchange.request_headers.items())
    response_headers = "\n".join(f"{k}: {v}" for k, v in exchange.response_headers.items())
    operation = f" ({exchange.operation})" if exchange.operation else ""
    title = f"<strong>{_e(exchange.line)}</strong>{_e(operation)}"
    return (
        f'<details class="exchange"{" open" if opened else ""}>'
        f"<summary>{title} &rarr; <strong>{_e(exchange.status)}</strong></summary>"
        f"<pre>{_e(request_headers)}\n\n{_e(exchange.request_body)}</pre>"
        f"<pre>{_e(response_headers)}\n\n{_e(exchange.response_body)}</pre></details>"
    )


def _socket_html(records: list[SocketRecord]) -> str:
    rows = "".join(
        f"<tr><td>{_e(r.socket)}</td><td>{_e(r.kind)}</td><td>{_e(r.name)}</td>"
        f"<td><code>{_e(r.payload[:600])}</code></td></tr>"
        for r in records
    )
    head = "<tr><th>socket</th><th>what</th><th>event</th><th>payload</th></tr>"
    return f"<table>{head}{rows}</table>"


def _outcome_html(outcome: Outcome, contract: Contract) -> str:
    rule = outcome.rule
    css = outcome.status.replace(" ", "")
    opened = " open" if outcome.status == FAILED else ""
    badge = f'<span class="badge">{LABELS[outcome.status]}</span>'
    summary = (
        f'{badge}<code>{_e(rule.id)}</code> <span class="statement">{_e(rule.statement)}</span>'
    )
    parts = [
        f'<details id="{_e(rule.id)}" class="{css}"{opened}><summary>{summary}</summary>',
        f'<p class="source">From <code>{_e(rule.source.reference)}</code>:</p>'
        f"<blockquote>{_e(contract.passage(rule.source))}</blockquote>",
    ]
    if outcome.status == NOT_RUN:
        parts.append(f'<p class="reason">Not run: {_e(outcome.message)}</p>')
    if outcome.status == FAILED:
        parts.append(f'<pre class="why">{_e(outcome.message)}</pre>')
        exchanges = outcome.trace.exchanges
        if exchanges:
            parts.append(f"<h3>Requests and responses ({len(exchanges)})</h3>")
            parts += [_exchange_html(e, e is exchanges[-1]) for e in exchanges]
        if outcome.trace.socket_log:
            parts.append("<h3>Socket.IO</h3>" + _socket_html(outcome.trace.socket_log))
    parts.append("</details>")
    return "".join(parts)


def _index_html(result: Result, status: str, title: str) -> list[str]:
    """A list of the rules with `status`, each linking to its place below."""
    found = [o for o in result.outcomes if o.status == status]
    if not found:
        return []
    items = "".join(
        f'<li><a href="#{_e(o.rule.id)}"><code>{_e(o.rule.id)}</code></a> '
        f"{_e(o.message.strip().splitlines()[0] if o.message.strip() else '')}</li>"
        for o in found
    )
    return [f"<h2>{_e(title)}</h2><ul>{items}</ul>"]


def report_html(result: Result, contract: Contract) -> str:
    body = [
        "<h1>Chat API conformance report</h1>",
        f'<p class="meta">Target: {_e(describe_target(result))}</p>',
        f'<p class="meta">Limits checked: {_e(describe_limits(result))}</p>',
        f'<p class="meta">Started {_e(result.started_at)}; kit {_e(result.kit_version)}</p>',
        f'<p class="totals">{_e(totals(result))}</p>',
        *_index_html(result, FAILED, "Failed"),
        *_index_html(result, NOT_RUN, "Not run"),
    ]
    for section, outcomes in by_section(result.outcomes).items():
        counts = ", ".join(
            f"{sum(o.status == s for o in outcomes)} {s}"
            for s in LABELS
            if any(o.status == s for o in outcomes)
        )
        body.append(f"<h2>{_e(SECTIONS[section])} <small>({_e(counts)})</small></h2>")
        body += [_outcome_html(o, contract) for o in outcomes]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Chat API conformance: {_e(result.base_url)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write(result: Result, contract: Contract, folder: Path) -> list[Path]:
    """Write the three reports into `folder`; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "report.html": report_html(result, contract).encode("utf-8"),
        "junit.xml": junit(result),
        "results.json": (
            json.dumps(as_json(result, contract), indent=2, ensure_ascii=False) + "\n"
        ).encode("utf-8"),
    }
    for name, content in written.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in written]
