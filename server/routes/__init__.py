"""Thin routers: validate, call the session (on its worker), return a schema."""
