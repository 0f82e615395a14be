"""Names the assets and the Dagster wiring share: the schedule's name and the run tags that say
who started a run, so the e-mail asset can tell a scheduled run from a manual one."""

SCHEDULE = "monthly_scorecards_schedule"
TRIGGER_TAG = "scorecards/trigger"
# The month the schedule's tick asked for. A run sends e-mail on its own only when Dagster's
# dagster/schedule_name is this schedule and this tag names the run's partition
# (assets/delivery.py); a re-execution copies both tags, so it is recognised by its parent run.
SCHEDULED_MONTH_TAG = "scorecards/scheduled_month"
