"""trio-mailsync: keep many IMAP accounts in step and hear about new mail at once.

Layers, bottom to top (each imports only from those below it):

- :mod:`trio_mailsync.protocol`: the sans-IO IMAP client.
"""

__version__ = "0.1.0.dev0"
