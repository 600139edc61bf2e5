"""The checkout's core: plain functions over plain data, one job per module.

`functions/main.py` holds the HTTP entry points; everything they call lives here.
"""
