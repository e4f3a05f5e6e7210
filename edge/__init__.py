"""campus-edge: the after-school custody chain at the school gate, offline first."""
