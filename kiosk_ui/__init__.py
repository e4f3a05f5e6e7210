"""Static pages served by campus-edge (no build step; shipped inside the wheel)."""
