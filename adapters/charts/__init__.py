"""Charts for the operator: pictures of numbers."""
