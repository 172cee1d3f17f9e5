"""The inference service: `create_app(settings)` -> FastAPI, run by uvicorn (`dfcoach serve`).

`ServeSettings` is light to import (the doctor reads it); FastAPI is imported
only when `create_app` is first used.
"""

from deepfake_coach.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from deepfake_coach.serve.app import create_app

        return create_app
    raise AttributeError(name)
