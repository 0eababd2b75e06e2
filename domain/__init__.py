"""The contract of greentic-session: types, rules, the `Session` aggregate, the store interface.

Applications import these names from the facade, `greentic_session`; the modules here are
for code that extends the store.
"""
