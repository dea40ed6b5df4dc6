"""What media files are, read from their bytes: shared by messengers and model providers."""
