"""Renderers: each a pure function of the analysis."""
