from .engine import Classification, classify

__all__ = ["Classification", "classify"]
