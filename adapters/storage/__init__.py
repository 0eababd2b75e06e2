"""Storage backends: the eventsourcing recorders and the read-model tables beside them."""
