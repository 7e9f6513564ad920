"""Python logging at DEBUG from the start of a process whose PYTHONPATH holds this folder (the
session's tiny `privrec run`, tests/conftest.py): its library log then holds every record."""
import logging

logging.basicConfig(level=logging.DEBUG)
