"""dfcoach: a command-line coach for training a first deepfake face detector.

Importing this package stays cheap: torch, cv2 and kaggle are imported only by
the functions that need them.
"""

__version__ = "0.1.0"
