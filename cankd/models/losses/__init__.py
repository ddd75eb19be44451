# One distillation method a file; each registers itself in cankd.registry.MODELS.
__all__ = []
