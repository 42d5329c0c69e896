"""Pure anomaly detection and forecasting on daily cost series: numpy and statsmodels in, dataclasses out."""
