"""Settings: one pydantic-settings object, read from ``KAN_WB_*`` environment variables.

Routes get it through the cached :func:`get_settings` dependency; tests pass their own
``Settings`` to ``create_app`` instead of touching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server configuration; every limit the API enforces lives here."""

    model_config = SettingsConfigDict(env_prefix="KAN_WB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # The SQLite file (sessions, edits, checkpoints) lives here; ./data by default (as the
    # README says), made absolute at start so a later chdir cannot move it.
    data_dir: Path = Path("data")
    # The page's static files; default: web/ beside the server package (a source checkout or
    # an editable install). Set it when the package is installed elsewhere (the Dockerfile does).
    web_dir: Path | None = None

    # Model and request limits (422 when exceeded).
    max_edges: int = 10_000
    max_grid: int = 200
    max_k: int = 5
    max_depth: int = 8
    max_steps_per_request: int = 10_000
    max_train_num: int = 20_000
    # edges × (grid + k) × samples (see budget.py): bounds the time and memory of building,
    # scoring and refining a model. 20M: a [4,10,10,1] model at grid 10 with 1000+1000 samples
    # costs 3.9M; [2,3333,1] at grid 20 with 20 000 samples (21 GB on one GET) costs 5 000M.
    max_model_cost: int = 20_000_000

    # Uploads (CSV).
    max_upload_bytes: int = 5 * 1024 * 1024
    # Any request body (counted while it streams, chunked or not): the upload plus its form.
    max_body_slack: int = 64 * 1024
    max_csv_rows: int = 20_000
    max_csv_cols: int = 21

    # Sessions: stored (429 beyond) and kept in memory (idle ones evicted to disk first).
    max_sessions: int = 1_000
    max_live_sessions: int = 64
    idle_evict_s: float = 600.0
    # A session nobody has opened for this long is deleted (expiry.py); 0 keeps them forever.
    session_ttl_hours: float = 24 * 14
    # Creates per client address (ratelimit.py): a token bucket; 429 with Retry-After beyond.
    # The default lets a class of 30 behind one NAT address start at once; 0 turns it off.
    create_rate_per_min: float = 60.0
    create_burst: int = 60

    # Classes (docs/classes.md): live (not ended) classes, students and handed-out copies per
    # class (429 naming the setting beyond); a class its teacher has not opened for
    # class_ttl_hours is deleted with its hidden challenge session (expiry.py); 0 keeps them.
    max_classes: int = 100
    max_class_students: int = 60
    max_class_copies: int = 60
    class_ttl_hours: float = 24 * 14

    # Worker behaviour.
    # torch.set_num_threads is process-global; workers run with this budget (see sessions.py).
    torch_threads: int = 1
    # Training steps that run at once, across all sessions (scheduler.py: fair turns, edits and
    # reads beside them); 0: one less than the cores, at least one.
    train_slots: int = 0
    step_timeout_s: float = 60.0  # a step running longer marks the session errored
    play_max_steps: int = 100_000  # "play" trains until paused, or this many steps

    # Reads beside the workers (reads.py): formulas are simplified on this many threads, shared
    # by all sessions; a reader waits at most formula_wait_s (then a "still simplifying" answer).
    formula_threads: int = 2
    formula_wait_s: float = 120.0

    # Stream rates (per viewer; the computation behind them is shared per session).
    metrics_hz: float = 20.0
    edges_hz: float = 6.0  # a little over the 5/s target: frames land on step boundaries
    curve_samples: int = 64
    metrics_history: int = 2_000  # points kept in a snapshot's loss history
    # Undo snapshots kept per session on disk (the oldest edits go first; see store.py).
    max_history_mb: int = 256

    @property
    def max_body_bytes(self) -> int:
        return self.max_upload_bytes + self.max_body_slack

    @property
    def db_path(self) -> Path:
        return self.data_dir.resolve() / "workbench.sqlite3"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (environment-derived); tests override via ``create_app``."""
    return Settings()
