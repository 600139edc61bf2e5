"""Orders: the status state machine, their Firestore documents, and fulfilment."""
