"""Signals of the LINE channel, for apps that may not be imported by channels_hub (campaigns).

Sent inside the transaction of the change; receivers are one line into a service of their app.
"""

from django.dispatch import Signal

# kwargs: account_id (int), line_user_id (str), follows (bool), at (datetime of LINE's event)
line_follow_changed = Signal()
