"""Bootstrap: turn a URL and options into an open store, and set a schema up ahead of use."""
