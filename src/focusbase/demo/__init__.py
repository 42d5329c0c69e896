"""Synthetic, realistic FOCUS demo data for tests, benchmarks and demos (`focusbase demo-data`)."""

from focusbase.demo.generator import DEFAULT_DAYS, DEFAULT_SEED, DEFAULT_START, DEMO_VERSIONS, DemoPlan, plan
from focusbase.demo.writer import FORMATS, DemoOutput, Format, format_for, generate, write_demo_data

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "DEMO_VERSIONS",
    "FORMATS",
    "DemoOutput",
    "DemoPlan",
    "Format",
    "format_for",
    "generate",
    "plan",
    "write_demo_data",
]
