"""The web app: the communications officer's review pages and the public unsubscribe pages."""
