"""KAN Workbench server: FastAPI app driving kan_core training sessions.

Public entry points: :func:`server.main.create_app` and the ``kan-workbench`` console script
(:mod:`server.cli`).
"""

PROTOCOL_VERSION = 2
