"""Pure facts and rules of the school's afternoon: no SQL, no HTTP, no threads."""
