"""The Connexion app that serves openapi.yaml's operations: validation, security, handlers.

Built from the served copy of the spec (impl.specs), with the strict JSON body validators
(impl.web.validation), every failure rendered as the contract's problem document
(impl.web.problems), 405 decided by the most concrete path (impl.web.routes), and media
types matched case-insensitively.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import connexion
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from starlette.exceptions import HTTPException

from impl.settings import Settings
from impl.web.problems import make_renderer
from impl.web.routes import ConcretePathMethods, Routes
from impl.web.validation import LowercaseMediaType, validator_map

ROOT = Path(__file__).resolve().parents[2]


def connexion_app(settings: Settings, spec: dict[str, Any], routes: Routes) -> connexion.AsyncApp:
    app = connexion.AsyncApp(
        __name__,
        specification_dir=str(ROOT),
        validator_map=validator_map(settings),
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs/api"),
    )
    app.add_api(
        spec,
        pythonic_params=True,
        validate_responses=settings.validate_responses,
        strict_validation=True,
    )
    renderer = make_renderer(routes.methods)
    for exc in (Exception, HTTPException, connexion.ProblemException):
        app.add_error_handler(exc, renderer)
    app.add_middleware(
        ConcretePathMethods, position=MiddlewarePosition.BEFORE_ROUTING, routes=routes
    )
    app.add_middleware(LowercaseMediaType, position=MiddlewarePosition.BEFORE_VALIDATION)
    return app
