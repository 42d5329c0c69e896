"""HTTP routes: batches."""

from fastapi import APIRouter

router = APIRouter()
