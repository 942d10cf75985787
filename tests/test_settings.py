"""The settings table (impl.settings): every variable is read, parsed with one wording for
bad values, documented in `--help` and in the README exactly as the table says."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from impl.settings import ENV_VARS, Settings, SettingsError, knobs
from tools.settings_table import README, with_table

# A value unlike the default for each kind of setting the table holds.
NOT_DEFAULT = {int: "7", float: "2.5", str: "elsewhere", bool: "1"}


def test_the_readme_table_is_the_one_the_settings_generate() -> None:
    readme = README.read_text(encoding="utf-8")
    assert readme == with_table(readme), "run: python tools/settings_table.py"


def test_every_field_is_a_row_of_the_table() -> None:
    assert [name for name, _ in knobs()] == [f.name for f in fields(Settings)]
    assert len(set(ENV_VARS)) == len(ENV_VARS)


@pytest.mark.parametrize(("name", "variable"), [(n, r.env) for n, r in knobs() if r.env])
def test_every_variable_sets_its_field(name: str, variable: str) -> None:
    default = getattr(Settings(), name)
    kind = type(default) if default is not None else str
    # store_engine's default follows this process's CHAT_STORE_ENGINE (the py-plain run)
    engine = "indexed" if default == "plain" else "plain"
    raw = {
        "cors_origins": "http://a.test",
        "store_engine": engine,
        "dev": "on",
        "journal_max_bytes": str(2 * 1024 * 1024),
        "log_format": "json",
        "seed_demo": "0",
    }.get(name, NOT_DEFAULT.get(kind, "x"))
    assert getattr(Settings.from_env({variable: raw}), name) != default


def test_an_empty_variable_keeps_the_default() -> None:
    assert Settings.from_env(dict.fromkeys(ENV_VARS, "")) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHAT_RATE_LIMIT": "many"}, "CHAT_RATE_LIMIT must be a whole number, got 'many'"),
        ({"CHAT_RATE_LIMIT": "0"}, "CHAT_RATE_LIMIT must be at least 1, got 0"),
        ({"CHAT_MULTIPART_ALLOWANCE_BYTES": "-1"}, "must be at least 0, got -1"),
        ({"REDIS_TIMEOUT_SECONDS": "soon"}, "REDIS_TIMEOUT_SECONDS must be a number, got 'soon'"),
        ({"SOCKET_EVENT_REFILL_PER_SECOND": "0"}, "must be more than 0, got 0"),
        ({"REDIS_BACKOFF_SECONDS": "nan"}, "must be more than 0, got nan"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert message in str(refused.value)


def test_lists_switches_and_case() -> None:
    settings = Settings.from_env(
        {"CORS_ORIGINS": " http://a.test , ,http://b.test", "CHAT_DEV": "0", "LOG_LEVEL": "DEBUG"}
    )
    assert settings.cors_origins == ("http://a.test", "http://b.test")
    assert settings.dev is None  # not "off": the store decides
    assert settings.log_level == "debug"


def test_serve_help_explains_every_variable_and_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "impl", "serve", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for _, row in knobs():
        for name in filter(None, (row.env, row.flag)):
            assert name in done.stdout, name


def test_importing_the_command_line_changes_no_warning_filter() -> None:
    code = "import warnings; before = list(warnings.filters); import impl.__main__; "
    code += "print(warnings.filters == before)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr
