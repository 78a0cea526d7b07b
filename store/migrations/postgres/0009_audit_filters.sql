-- The audit log is read by user and by action (GET /api/audit?user=&action=), in order.
CREATE INDEX audit_log_user ON audit_log(username, seq);
CREATE INDEX audit_log_action ON audit_log(action, seq);
