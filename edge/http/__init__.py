"""HTTP, thin: the app factory, one router per resource, responses, staff auth."""
