"""What every part stands on: settings, the Firestore client, logs, errors, HTTP JSON conventions."""
