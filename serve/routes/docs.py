"""``GET /docs``: the OpenAPI reference, unable to touch anything else on this origin.

The operator dashboard keeps the admin key in this origin's session storage, and FastAPI's
stock page loads unpinned scripts from a CDN (``swagger-ui-dist@5``): whoever controls
that file would run on this origin. Here the scripts are pinned to one release, and the
page is served with ``Content-Security-Policy: sandbox`` (no ``allow-same-origin``), so it
runs in an opaque origin of its own: no storage, cookies or same-origin requests of ours,
and ``connect-src 'none'``. The schema is inlined, since the sandbox cannot fetch it;
"try it out" is off for the same reason (``/openapi.json`` serves the schema to tools).
"""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()

SWAGGER_UI_VERSION = "5.17.14"
ASSETS = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI_VERSION}"


def docs_policy(nonce: str) -> str:
    return "; ".join(
        (
            "sandbox allow-scripts",
            "default-src 'none'",
            f"script-src {ASSETS}/swagger-ui-bundle.js 'nonce-{nonce}'",
            f"style-src {ASSETS}/swagger-ui.css 'unsafe-inline'",
            "img-src data:",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    # "<" escaped: no string in the schema can close the script element.
    spec = json.dumps(request.app.openapi()).replace("<", "\\u003c")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>catalog-sync API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script nonce="{nonce}">
SwaggerUIBundle({{spec: {spec}, dom_id: "#swagger-ui", supportedSubmitMethods: []}});
</script></body></html>"""
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": docs_policy(nonce),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
