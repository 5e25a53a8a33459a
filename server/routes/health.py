from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from .. import PROTOCOL_VERSION
from ..deps import ManagerDep
from ..schemas import Health

router = APIRouter(prefix="/api", tags=["health"])


def _version() -> str:
    try:
        return version("kan-workbench")
    except PackageNotFoundError:
        return "0+unknown"


@router.get("/health", response_model=Health)
def health(manager: ManagerDep) -> dict:
    return {
        "status": "ok",
        "version": _version(),
        "protocol": PROTOCOL_VERSION,
        "sessions_live": manager.n_live,
    }
