"""Each app registers what it holds about a person: an exporter, an eraser and the models and fields
they cover. `export_customer` and `erase_customer` (crm.privacy.services) run every source in
`position` order, so crm never imports the apps that hold personal data.

A source's `anonymises` maps a model label (``"loyalty.PointAccount"``) to the fields its eraser
anonymises; a model kept as it is (a ledger row that only points at the person) names its link to
the customer there, since erasure anonymises the customer that link points at. Models that hold
nothing about anyone are declared with `register_not_personal_data`; a test walks every model and
fails for one that is neither, so a new model holding personal data cannot be forgotten."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Person:
    """Who an export or erasure is about: the surviving customer and every record merged into it."""

    customer: Any  # crm.models.Customer, the survivor
    customer_ids: tuple[int, ...]  # the survivor's pk first, then the merged-away records'
    public_ids: tuple[str, ...]
    emails: tuple[str, ...] = ()  # every email and phone those records held (leads, suppressions)
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonalDataSource:
    key: str  # "<app>" or "<app>.<part>"
    export: Callable[[Person], dict]  # -> {section: data}; merged into the export document
    erase: Callable[[Person], dict]  # -> {what: rows changed}; runs inside erase_customer's transaction
    anonymises: dict[str, tuple[str, ...]] = field(default_factory=dict)
    position: int = 100  # lower runs first; crm's own part (the customer row, identities) runs at 90


_sources: dict[str, PersonalDataSource] = {}
_not_personal: dict[str, str] = {}


def register_personal_data(source: PersonalDataSource) -> None:
    _sources[source.key] = source


def personal_data_sources() -> list[PersonalDataSource]:
    return sorted(_sources.values(), key=lambda s: (s.position, s.key))


def register_not_personal_data(model_label: str, *, reason: str) -> None:
    """Declare that a model holds nothing about any customer (the shop's own configuration, stock)."""
    _not_personal[model_label] = reason


def not_personal_data() -> dict[str, str]:
    return dict(_not_personal)
