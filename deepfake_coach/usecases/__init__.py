"""The journey's steps, each written once: `dfcoach <command>` and the wizard both call these.

Each takes a request (the answers, already resolved), the Project, and the output/progress it
reports through, and returns what it made; showing that result is the caller's (ui/ renders it).
"""
