"""crm.settings with the timing knobs of the fault test turned down, so that recovery happens within
the test's few minutes instead of production's quarter hour. Behaviour is otherwise production's.

- a killed worker's unacknowledged tasks come back after 15 s (production: 15 min), looked for every 2 s;
- an Idempotency-Key whose request died with the database is freed after 15 s (production: 2 min);
- campaign batches of 20 recipients, so that a campaign spans the faults;
- no quiet hours: the campaign goes out whatever the hour the test runs at (production: 21:00–08:00 JST).
"""

from datetime import timedelta

from crm.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "visibility_timeout": 15,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
IDEMPOTENCY_STALE_AFTER = timedelta(seconds=15)
CAMPAIGNS_BATCH_SIZE = 20
CAMPAIGNS_MARK_SENT_PATIENCE = timedelta(seconds=120)
CAMPAIGNS_QUIET_HOURS = None
