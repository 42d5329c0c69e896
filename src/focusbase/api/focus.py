"""HTTP routes: focus."""

from fastapi import APIRouter

router = APIRouter()
