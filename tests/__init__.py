"""Tests of greentic-session: the contract in SEMANTICS.md, on every backend."""
