"""Analytics over the stored FOCUS rows: explorer aggregations, anomalies, forecasts."""
