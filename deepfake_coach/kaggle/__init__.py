"""Kaggle: finding, installing and checking a person's API credentials, and talking to Kaggle's API.

Nothing here imports the `kaggle` package: `import kaggle` authenticates at import
time and calls exit(1) with its own help text when it finds nothing. dfcoach uses
`kagglesdk` (the HTTP client the kaggle package is built on) directly, inside the
functions that need it, and reads the credentials itself in kaggle's own order.
"""
