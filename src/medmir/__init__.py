"""medmir: private medical image retrieval with BiomedCLIP, from an offline pipeline to a static site."""

from typing import TYPE_CHECKING, Any

from medmir.core._version import __version__

if TYPE_CHECKING:
    from medmir.api import Collection, Filters, Result


def open(bundle: Any, pack: Any, **options: Any) -> "Collection":
    """Opens a bundle and its model pack for searching from Python: see medmir.api (imported here on first use, so
    `import medmir` stays light)."""
    from medmir.api import open as open_collection

    return open_collection(bundle, pack, **options)


__all__ = ["Collection", "Filters", "Result", "__version__", "open"]


def __getattr__(name: str) -> Any:
    if name in ("Collection", "Filters", "Result"):
        import medmir.api  # onnxruntime and numpy: loaded on first use, as by open()

        return getattr(medmir.api, name)
    raise AttributeError(f"module 'medmir' has no attribute {name!r}")
