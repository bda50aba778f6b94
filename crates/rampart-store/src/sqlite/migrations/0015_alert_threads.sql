-- What a channel answered for a delivered notice: Slack's message `ts`
-- for a Slack app channel, so the alert's later notices on that channel
-- go into the firing notice's thread. NULL for other channels.
ALTER TABLE alert_notifications ADD COLUMN remote_id TEXT;
-- An alert's notices per channel in order: a notice is claimed only once
-- every earlier one of its alert and channel is done, and reads the
-- firing notice's `remote_id`.
CREATE INDEX alert_notifications_alert ON alert_notifications (alert_id, channel, id);
