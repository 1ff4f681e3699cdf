"""The local BudAI-compatible pipeline server.

`budai_server.app.create_app(ServerConfig(...))` builds the aiohttp application; `budai-server`
(`budai_server.cli`, also `python -m budai_server`) runs it. See docs/server.md. Nothing is
imported here, so importing a submodule (the engine's pure parts, the config) stays cheap.
"""
