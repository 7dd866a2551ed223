"""Figures draw cached results and compute nothing heavy: the shared style (``plotting``) and every paper figure,
registered once by name (``figures``)."""
