"""Training and export; these modules may import PyTorch, the serving path never does."""
