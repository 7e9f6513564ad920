"""One part of the report per module: each `section(...)` returns a page.Section."""
