"""What every part of dfcoach talks through: the output (what is said), progress, and questions."""
