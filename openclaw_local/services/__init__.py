"""Services: where engine, store and learner meet. Threads and processes live here.

The UI calls these; they never import the UI. Progress reaches the UI through
plain callbacks carrying the event dataclasses in :mod:`events`.
"""
