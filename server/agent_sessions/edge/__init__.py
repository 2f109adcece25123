"""Envoy at the edge: its config and REST request validator (package data), rendered from Python."""
