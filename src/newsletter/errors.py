"""The one base class of errors a user can cause and fix.

Every error whose message is meant for a person (a broken configuration file,
an unknown draft, a refused transition, a database that cannot be opened)
derives from :class:`UserError`. The CLI prints ``str(exc)`` as one line and
exits with code 2; the web app shows it as a French message. Anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; ``str(exc)`` is the message to show."""
