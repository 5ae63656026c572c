"""Modelport: put a trained model in front of people, as a web page and a JSON API."""

__version__ = "0.1.0"
__all__ = ["Client", "ModelportError", "__version__"]


def __getattr__(name: str):
    # ``modelport.Client``, imported on first use: the server's processes never load it.
    if name in {"Client", "ModelportError"}:
        from modelport import client

        return getattr(client, name)
    raise AttributeError(f"module 'modelport' has no attribute {name!r}")
