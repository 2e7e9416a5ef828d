"""What every settings section shares: strict, frozen models and the HH:MM time pattern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
"""A time of day, 00:00 to 23:59."""


class Section(BaseModel):
    """A section of the settings file: unknown keys are refused, values never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
