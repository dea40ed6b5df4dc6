"""Files people send, turned into text for the model."""
