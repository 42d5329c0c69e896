"""HTTP routes: health."""

from fastapi import APIRouter

router = APIRouter()
