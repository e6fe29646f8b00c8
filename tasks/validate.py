"""Validate a table against its schema contract: Great Expectations for values, our own check for Arrow types.

Great Expectations is imported inside the functions that run it (it takes seconds to import), so
importing this module is cheap. Types are not left to GX: they are checked by family on the Arrow
schema (synth.contract.check_arrow_types), because the pandas view GX sees cannot tell an int64
column with nulls from a double one.

A failed validation says what to do next: accept the new schema (`run --accept-schema`, which
re-infers the stored contract from this input and replaces it when the run succeeds), or edit the
contract; a contract the user wrote (`validation.contract`) is only ever edited by hand.

When the run trains on a sample of a larger input (`source.sample_rows`), `validation.scope` says
what is checked. `full`: every row of the input, record batch by record batch, the nulls, ranges
and allowed values added up with pyarrow.compute (synth.contract.scan), the column set and Arrow
types from the dataset's schema; Great Expectations runs on the training sample as well, and a
failure it finds that the full pass did not is reported as found in the sample. `sample`: Great
Expectations and the type check on the training sample only. Without sampling the whole input is
one table, checked as always. The result states the scope and the rows checked.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import pyarrow as pa

from synth.contract import (Contract, Failure, check_arrow_types, default_contract_path, infer_contract,
                            infer_contract_batches, load_contract, save_contract, scan_contract)
from synth.contract.scan import COLUMN_SET, EXAMPLES, in_set_expected, show_value, typed_bound, unexpected_observed
from synth import storage
from synth.errors import ConfigError, DataError
from synth.schema import arrow_type_from_string
from synth.storage import BATCH_ROWS, ParquetSource
from synth.tables import type_family
from tasks import log

FULL, SAMPLE = "full", "sample"  # validation scopes


class ValidationFailed(DataError):
    """The table breaks its contract; `failures` lists every broken rule, and the message ends with the
    next step. `explicit`: the contract is the user's own file (`validation.contract`), never rewritten."""

    def __init__(self, failures: tuple[Failure, ...], contract_path: str | None = None, explicit: bool = False,
                 result: "ValidationResult | None" = None):
        self.failures = tuple(failures)
        self.contract_path = contract_path
        self.explicit = explicit
        self.result = result  # the whole check (rows, scope, checks): what an orchestrator's UI shows
        lines = "\n".join(f"  - {f.line()}" for f in self.failures)
        super().__init__(f"the data breaks its schema contract ({contract_path or 'inferred'}): "
                         f"{len(self.failures)} failure(s)\n{lines}\n{next_step(contract_path, explicit)}")

    def __reduce__(self):  # pickle (Prefect states) with the constructor's arguments
        return type(self), (self.failures, self.contract_path, self.explicit, self.result)


def next_step(contract_path: str | None, explicit: bool) -> str:
    """What to do about a failed validation: the last line of its message."""
    if explicit:
        return f"next step: edit {contract_path} (validation.contract) if the change is intended"
    edit = f", or edit {contract_path}" if contract_path else ""
    return ("next step: if this change is intended, accept the new schema with "
            f"`prefect-synth run CONFIG --accept-schema` (or set validation.accept_schema: true){edit}")


@dataclass(frozen=True)
class ValidationResult:
    """What `validate_table` found, and which contract it used."""

    contract: Contract
    failures: tuple[Failure, ...]
    checks: int  # expectations and type checks evaluated
    rows: int
    contract_path: str | None = None  # read from here, or where an inferred contract belongs
    inferred: bool = False  # inferred from this very data: save it once the run has succeeded
    scope: str = FULL  # full: every row of the input was checked; sample: the training sample only
    source_rows: int | None = None  # rows in the whole input (None: `rows`, the input was one table)
    gx_rows: int | None = None  # rows Great Expectations ran on (None: `rows`)

    @property
    def success(self) -> bool:
        return not self.failures

    def scope_text(self) -> str:
        """The scope in words, for artifacts and logs."""
        source_rows = self.source_rows if self.source_rows is not None else self.rows
        if self.scope == SAMPLE:
            return (f"scope sample: the {self.rows:,}-row training sample of {source_rows:,} input rows "
                    "(Great Expectations and Arrow types)")
        if self.gx_rows is not None and self.gx_rows != self.rows:
            return (f"scope full: all {self.rows:,} input rows in record batches (pyarrow.compute), "
                    f"Great Expectations on the {self.gx_rows:,}-row training sample")
        return f"scope full: all {self.rows:,} input rows"

    def summary(self) -> dict:
        """JSON-ready summary for tracking: outcome, scope, counts, contract source and column types."""
        return {"success": self.success, "scope": self.scope, "rows_checked": self.rows, "checks": self.checks,
                "rows": self.rows, "source_rows": self.source_rows if self.source_rows is not None else self.rows,
                "gx_rows": self.gx_rows if self.gx_rows is not None else self.rows,
                "contract_path": self.contract_path, "inferred": self.inferred,
                "failures": [f.line() for f in self.failures],
                "columns": {c.name: {"type": c.arrow_type, "nullable": c.nullable} for c in self.contract.columns}}


def validate_table(table: pa.Table, contract: Contract) -> ValidationResult:
    """Check `table` against `contract`: column set, Arrow types, nulls, ranges and allowed values."""
    type_failures = check_arrow_types(contract, table.schema)
    expectations = build_expectations(contract, _value_checked(contract, table.schema))
    gx_failures = run_expectations(expectations, _to_pandas(table))
    failures = sorted(type_failures + gx_failures, key=lambda f: f.column is not None)  # column set first
    checks = len(expectations) + sum(1 for name in contract.names if name in table.column_names)
    return ValidationResult(contract, tuple(failures), checks=checks, rows=table.num_rows)


def validate_source(sample: pa.Table, source: ParquetSource, contract: Contract,
                    batch_rows: int = BATCH_ROWS) -> ValidationResult:
    """Scope full on an input too large to hold: every record batch of `source` checked and the counts
    added up (pyarrow.compute), and Great Expectations on `sample`, the training sample of it."""
    schema = source.schema()
    value_columns = _value_checked(contract, schema)
    scan = scan_contract(contract, schema, source.batches(batch_rows=batch_rows), value_columns)
    failures = scan.failures()
    expectations = build_expectations(contract, value_columns & set(sample.column_names))
    seen = {(f.expectation, f.column) for f in failures}
    for failure in run_expectations(expectations, _to_pandas(sample)):
        if (failure.expectation, failure.column) not in seen:  # else the full pass reported it, with all rows
            failures.append(replace(failure, observed=f"{failure.observed} (in the training sample)"))
    checks = len(expectations) + sum(1 for name in contract.names if name in schema.names)
    return ValidationResult(contract, tuple(failures), checks=checks, rows=scan.rows, scope=FULL,
                            source_rows=scan.rows, gx_rows=sample.num_rows)


def check_input(table: pa.Table, contract_path: str | None, output_path: str, scope: str = FULL,
                source: ParquetSource | None = None, batch_rows: int = BATCH_ROWS,
                accept_schema: bool = False) -> ValidationResult:
    """The `validate` step without its logging: the contract resolved, then the data checked.

    `source`: the whole input when `table` is only a sample of it (else None: `table` is the input).
    `accept_schema`: see `resolve_contract`.
    """
    contract, path, inferred = resolve_contract(table, contract_path, output_path, source, batch_rows,
                                                accept_schema)
    if source is None:
        result = validate_table(table, contract)
    elif scope == FULL:
        result = validate_source(table, source, contract, batch_rows)
    else:
        result = replace(validate_table(table, contract), scope=SAMPLE, source_rows=source.count_rows())
    return replace(result, contract_path=str(path), inferred=inferred)


def resolve_contract(table: pa.Table, contract_path: str | None, output_path: str,
                     source: ParquetSource | None = None, batch_rows: int = BATCH_ROWS,
                     accept_schema: bool = False) -> tuple[Contract, str, bool]:
    """The contract to validate against, where it lives, and whether it was just inferred.

    An explicit `contract_path` wins; else the contract inferred on an earlier run (beside the
    output) is used, so drift is caught; else one is inferred (not saved here) from the whole
    input: `table`, or, when `table` is a sample, every batch of `source` (a contract inferred from
    a sample would refuse the next sample's rarer values). `accept_schema` skips the stored
    contract and infers a new one, as on a first run (saved over the old one once the run succeeds).

    Raises:
        ConfigError: `accept_schema` with an explicit contract: that file is the user's to edit.
    """
    if contract_path is not None:
        if accept_schema:
            raise ConfigError(f"validation.accept_schema (--accept-schema) cannot accept a new schema: the "
                              f"contract is your own file at {contract_path} (validation.contract), which is "
                              f"never overwritten; edit it to accept the change, and run without --accept-schema")
        return load_contract(contract_path), str(contract_path), False
    beside = default_contract_path(output_path)
    if not accept_schema and storage.exists(beside):
        return load_contract(beside), beside, False
    if source is not None:
        return infer_contract_batches(source.schema(), source.batches(batch_rows=batch_rows)), beside, True
    return infer_contract(table), beside, True


# ---------------------------------------------------------------- Great Expectations


def build_expectations(contract: Contract, columns: set[str]) -> list[Any]:
    """GX expectations: the exact column set, plus the value rules of the contract's `columns`."""
    import great_expectations.expectations as gxe

    expectations = [gxe.ExpectTableColumnsToMatchSet(column_set=contract.names, exact_match=True)]
    for column in contract.columns:
        if column.name not in columns:
            continue
        if not column.nullable:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.min is not None or column.max is not None:
            expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=typed_bound(
                column, column.min), max_value=typed_bound(column, column.max)))
        if column.allowed is not None:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.allowed)))
    return expectations


def run_expectations(expectations: list[Any], frame: pd.DataFrame) -> list[Failure]:
    """Run `expectations` on `frame` in a throw-away GX context; the failed ones, in order."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # an ephemeral context announces its temporary docs folder at INFO on every run: noise
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = gx.ExpectationSuite(name="contract", expectations=expectations)
    asset = context.data_sources.add_pandas("frames").add_dataframe_asset("table")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
    results = batch.validate(suite, result_format="SUMMARY")
    return [_failure(r.expectation_config.type, r.expectation_config.kwargs, r.result, r.exception_info)
            for r in results.results if not r.success]


def _failure(kind: str, kwargs: dict, result: dict, exception_info: dict | None) -> Failure:
    column, error = kwargs.get("column"), _exception_message(exception_info)
    if kind == COLUMN_SET:
        mismatched = (result.get("details") or {}).get("mismatched") or {}
        observed = "; ".join(f"{label} {sorted(mismatched[key])}"
                             for key, label in (("missing", "missing"), ("unexpected", "extra")) if mismatched.get(key))
        return Failure(kind, None, f"exactly the contract's {len(kwargs['column_set'])} columns", error or observed)
    if kind == "expect_column_values_to_not_be_null":
        expected, what = "no nulls", "null"
    elif kind == "expect_column_values_to_be_between":
        low, high = (show_value(kwargs.get(k)) for k in ("min_value", "max_value"))
        expected, what = f"values in [{low}, {high}]", "outside"
    else:
        expected, what = in_set_expected(kwargs.get("value_set") or []), "not allowed"
    if error:
        return Failure(kind, column, expected, error)
    examples = [show_value(c["value"]) for c in result.get("partial_unexpected_counts") or []][:EXAMPLES]
    return Failure(kind, column, expected, unexpected_observed(result.get("unexpected_count"),
                                                               result.get("element_count"), what, examples))


def _exception_message(exception_info: dict | None) -> str | None:
    """GX reports errors either as one dict or as one dict per metric; the first message, if any."""
    infos = [exception_info] if exception_info and "raised_exception" in exception_info else \
        list((exception_info or {}).values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return f"error: {str(info.get('exception_message')).strip().splitlines()[0]}"
    return None


def _value_checked(contract: Contract, schema: pa.Schema) -> set[str]:
    """Columns whose values can be checked: present, and still of the contract's type family (a string
    column that turned numeric, or a timestamp that changed its time zone, gets the type failure, not
    a pile of comparison errors)."""
    checked = set()
    for column in contract.columns:
        index = schema.get_field_index(column.name)
        if index >= 0 and type_family(schema.field(index).type) == type_family(
                arrow_type_from_string(column.arrow_type)):
            checked.add(column.name)
    return checked


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The pandas view GX checks: dictionaries decoded (values, not categories), dates as datetime64."""
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names).to_pandas(date_as_object=False)


# ---------------------------------------------------------------- the steps


def validate(table: pa.Table, contract_path: str | None, output_path: str, scope: str = FULL,
             source: ParquetSource | None = None, batch_rows: int = BATCH_ROWS,
             accept_schema: bool = False) -> ValidationResult:
    """Validate the input against its schema contract; raise ValidationFailed if it breaks it.

    `table` is the input, or, with `source` given, a training sample of it: `scope` then says whether
    every row of `source` is checked (full) or the sample only (sample). `accept_schema`: infer the
    contract from this input instead of reading the stored one (see `resolve_contract`).
    """
    if accept_schema and contract_path is None:
        beside = default_contract_path(output_path)
        fate = "it replaces" if storage.exists(beside) else "it is stored at"
        log.info("accepting the input's schema: re-inferring the contract from this input; %s %s when the "
                 "run succeeds", fate, beside)
    result = check_input(table, contract_path, output_path, scope, source, batch_rows, accept_schema)
    path = result.contract_path
    log.info("validated against %s contract %s (%s)", "a newly inferred" if result.inferred else "the", path,
             result.scope_text())
    if not result.success:
        raise ValidationFailed(result.failures, str(path), explicit=contract_path is not None, result=result)
    log.info("validation passed: %d checks on %d rows", result.checks, result.rows)
    return result


def contract_rows(contract: Contract) -> list[dict]:
    """One row per column: the rules it was checked against (a table for an orchestrator's UI)."""
    def text(value) -> str:
        return "" if value is None else str(value)

    return [{"column": c.name, "arrow type": c.arrow_type, "nulls allowed": c.nullable, "min": text(c.min),
             "max": text(c.max), "allowed values": "" if c.allowed is None else f"{len(c.allowed)} values",
             "result": "passed"} for c in contract.columns]


def store_inferred_contract(result: ValidationResult) -> str | None:
    """Save a contract that `validate` inferred, so the next run checks drift against it; call after success."""
    if not result.inferred or result.contract_path is None:
        return None
    path = save_contract(result.contract, result.contract_path)
    log.info("stored the inferred schema contract at %s", path)
    return str(path)
