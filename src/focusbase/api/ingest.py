"""HTTP routes: ingest."""

from fastapi import APIRouter

router = APIRouter()
