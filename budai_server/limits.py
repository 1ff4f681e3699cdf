"""Input limits shared by the routes, the batch item parser and the OpenAPI document (pure data)."""

from __future__ import annotations

MAX_TAGS = 50
MAX_TAG_LENGTH = 100

# Defaults of the configurable work limits (ServerConfig; docs/server.md "Limits").
MAX_STEPS_PER_DEFINITION = 500
MAX_DEFINITION_BYTES = 256 * 1024
MAX_PARAMS_BYTES = 256 * 1024
MAX_LOG_LINE_CHARS = 16 * 1024
MAX_LOG_LINES_PER_EXECUTION = 1_000_000
MAX_LOG_LINES_PER_SECOND = 200_000  # bursts as large; the log benchmark writes ~100,000 lines/s
TEMPLATE_RENDER_MAX_SECONDS = 1.0  # time budget of one template render or condition (engine/templates.py)
