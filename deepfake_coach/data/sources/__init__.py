"""Where a dataset comes from: the generated demo, an empty skeleton, Kaggle, FaceForensics++, a folder."""
