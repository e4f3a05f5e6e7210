"""Staff actions, checked then recorded: what an HTTP handler asks for, tested without HTTP.

Each module takes the node's parts it needs (the writer, the projection, the roster
in force) and either raises an error a person can act on or records one event.
"""
