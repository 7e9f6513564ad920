"""Helpers shared by the tests: paths, canary rows, test certificates, small models."""
