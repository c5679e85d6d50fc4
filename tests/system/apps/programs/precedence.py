"""Also in lib/: the app's folder comes first on the import path."""
WHERE = "app"
