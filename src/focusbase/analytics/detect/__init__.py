"""Pure anomaly detection and forecasting over daily cost series: numpy and statsmodels in, dataclasses out."""
