"""HTTP routes: imports."""

from fastapi import APIRouter

router = APIRouter()
