"""The browser page (index.html and its modules), installed as package data of gan_edge.

Its folder in the repository is firmware_examples/web; `gan-edge web` serves it
(gan_edge/web.py) and fetches the pinned JavaScript runtimes its lock file names
(gan_edge/web_vendor.py).
"""
