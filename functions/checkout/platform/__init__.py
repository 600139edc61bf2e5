"""What every part stands on: settings, collection names, the Firestore client, logs, errors,
HTTP JSON conventions."""
