"""The data asset inventory: a custom TFX component run after masking (see component.py)."""
