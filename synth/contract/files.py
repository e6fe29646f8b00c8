"""Contracts as YAML files (local or s3://): written one short mapping per column, read back with
every key and value checked, so that a hand edit that breaks a rule is named."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from synth import storage
from synth.contract.model import CONTRACT_VERSION, Bound, ColumnContract, Contract
from synth.errors import ConfigError, DataError
from synth.schema import ColumnKind, arrow_type_from_string, column_kind

_TOP_KEYS = ("version", "range_policy", "columns")
_COLUMN_KEYS = ("type", "nullable", "min", "max", "allowed")


def save_contract(contract: Contract, path: str | os.PathLike) -> Path | str:
    """Write `contract` as YAML (one short mapping per column), creating the folder if needed."""
    columns = {}
    for column in contract.columns:
        entry: dict[str, Any] = {"type": column.arrow_type, "nullable": column.nullable}
        if column.min is not None:
            entry["min"] = column.min
        if column.max is not None:
            entry["max"] = column.max
        if column.allowed is not None:
            entry["allowed"] = list(column.allowed)
        columns[column.name] = entry
    tree: dict[str, Any] = {"version": contract.version}
    if contract.range_policy is not None:
        tree["range_policy"] = contract.range_policy
    tree["columns"] = columns
    text = yaml.safe_dump(tree, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    text = "# Schema contract: see synth/contract.py. Edit bounds freely; delete a key to drop a rule.\n" + text
    storage.write_bytes(path, text.encode())  # creates the folder; an s3:// URI is one PUT
    return path if storage.is_remote(path) else Path(path)


def load_contract(path: str | os.PathLike) -> Contract:
    """Read a contract YAML written by `save_contract` or by hand.

    Raises:
        ConfigError: the file is missing or not YAML, or a key is unknown or has a bad value;
            the message names the file and the key (e.g. `columns.carat.min`).
    """
    raw = storage.read_bytes(path) if storage.is_remote(path) or Path(path).is_file() else None
    if raw is None:
        raise ConfigError(f"contract {path}: no such file")
    try:
        tree = yaml.safe_load(raw.decode("utf-8", errors="replace"))
    except yaml.YAMLError as e:
        raise ConfigError(f"contract {path}: not valid YAML ({e})") from e
    if not isinstance(tree, dict):
        raise ConfigError(f"contract {path}: the top level must be a mapping with 'version' and 'columns'")
    unknown = sorted(str(k) for k in tree if k not in _TOP_KEYS)
    if unknown:
        raise ConfigError(f"contract {path}: {unknown[0]}: unknown key (expected {', '.join(_TOP_KEYS)})")
    policy = tree.get("range_policy")
    if policy is not None and not isinstance(policy, str):
        raise ConfigError(f"contract {path}: range_policy: expected text saying how the ranges were drawn")
    if tree.get("version") != CONTRACT_VERSION:
        raise ConfigError(f"contract {path}: version: expected {CONTRACT_VERSION}, got {tree.get('version')!r}")
    columns = tree.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ConfigError(f"contract {path}: columns: expected a non-empty mapping of column name to rules")
    return Contract(columns=tuple(_parse_column(name, rules, path) for name, rules in columns.items()),
                    range_policy=policy)


def _parse_column(name: Any, rules: Any, path: Path) -> ColumnContract:
    where = f"contract {path}: columns.{name}"
    if not isinstance(name, str):
        raise ConfigError(f"{where}: column names must be strings; quote it ('{name}')")
    if not isinstance(rules, dict):
        raise ConfigError(f"{where}: expected a mapping like {{type: double, nullable: false}}")
    for key in rules:
        if key not in _COLUMN_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (expected one of {list(_COLUMN_KEYS)})")
    if "type" not in rules:
        raise ConfigError(f"{where}.type: missing (an Arrow type such as int64, double, string)")
    try:
        arrow_type = arrow_type_from_string(str(rules["type"]))
        kind = column_kind(name, arrow_type)
    except (ValueError, KeyError, DataError) as e:
        raise ConfigError(f"{where}.type: {rules['type']!r} is not a supported Arrow type ({e})") from e
    nullable = rules.get("nullable", True)
    if not isinstance(nullable, bool):
        raise ConfigError(f"{where}.nullable: expected true or false, got {nullable!r}")
    ranged = kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME)
    misplaced = ("allowed",) if ranged else ("min", "max")
    for key in misplaced:
        if rules.get(key) is not None:
            raise ConfigError(f"{where}.{key}: not allowed for a {kind.value} column ({arrow_type})")
    low, high = (_parse_bound(rules.get(k), kind, arrow_type, f"{where}.{k}") for k in ("min", "max"))
    return ColumnContract(name, str(arrow_type), nullable, low, high,
                          _parse_allowed(rules.get("allowed"), kind, f"{where}.allowed"))


def _parse_bound(value: Any, kind: ColumnKind, arrow_type: pa.DataType, where: str) -> Bound | None:
    if value is None:
        return None
    if kind is ColumnKind.CONTINUOUS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return value
    if isinstance(value, (dt.date, dt.datetime)):  # YAML reads unquoted 2021-01-04 as a date
        value = value.isoformat()
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: expected an ISO date or timestamp, got {value!r}") from e
    zoned = pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None
    if zoned and stamp.tz is None:
        raise ConfigError(f"{where}: {value!r} has no UTC offset but the column is {arrow_type}; "
                          f"write e.g. '{stamp.isoformat()}+00:00'")
    if not zoned and stamp.tz is not None:
        raise ConfigError(f"{where}: {value!r} has a UTC offset but the column ({arrow_type}) has no time zone")
    return str(value)


def _parse_allowed(value: Any, kind: ColumnKind, where: str) -> tuple[str | bool, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of values, e.g. [a, b]")
    wanted = bool if kind is ColumnKind.BOOLEAN else str
    for item in value:
        if not isinstance(item, wanted):
            hint = "; quote it" if wanted is str else ""
            raise ConfigError(f"{where}: {item!r} is not a {wanted.__name__}{hint}")
    return tuple(value)
