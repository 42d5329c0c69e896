"""Analytics over stored FOCUS rows: the explorer query model, dashboards, savings, currency conversion,
anomalies and forecasts."""
