"""Datasets: where images come from, how they are laid out, and whether they are fit to train on."""
