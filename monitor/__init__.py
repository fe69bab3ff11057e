"""Model monitoring: prediction records and feedback (SQLAlchemy), windowed metrics, data drift,
the actions degradation or drift triggers, and live updates for WebSocket subscribers."""
