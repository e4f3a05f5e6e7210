"""Card readers behind one interface; ``registry.open_reader`` picks the driver from a spec."""
