"""Schema contracts: the columns, Arrow types, nullability and value ranges a table must keep.

A contract is a small YAML file meant to be read and edited by hand::

    version: 1
    range_policy: 'observed min/max widened by 25% of the observed span on each side ...'
    columns:
      carat: {type: double, nullable: false, min: 0.2, max: 5.01}
      sold_at: {type: 'timestamp[us, tz=UTC]', nullable: true, min: '2021-01-04T00:00:00+00:00'}
      cut:
        type: string
        nullable: false
        allowed: [Fair, Good, Ideal, Premium, Very Good]

Per column: `type` is `str(pa.DataType)`; `nullable` says whether nulls (and NaN) may appear;
`min`/`max` bound numeric and datetime columns (datetimes as ISO strings, with a UTC offset exactly
when the column has a time zone); `allowed` lists the values of a string or boolean column. Every
bound is optional: a missing `min`, `max` or `allowed` means "anything goes". `range_policy` (optional,
text) says how an inferred contract drew its ranges (`RangePolicy`); it is for the reader.

The package is pure Python: it checks Arrow types itself, by family (`synth.tables.type_family`): a
column may change its physical encoding (`string` to `large_string`, as pandas 3 writes it; int32 to
int64; a timestamp's unit; date32 to date64) but not its logical type (int to double, string to int,
a timestamp's time zone). The contract keeps the exact type it saw; out-of-range values of a wider
int are the min/max rules' to catch. The value rules are run by `tasks/validate.py` through Great
Expectations.
"""
from synth.contract.files import load_contract, save_contract
from synth.contract.infer import ContractInference, infer_contract, infer_contract_batches, inferred_range
from synth.contract.model import (CONTRACT_VERSION, ColumnContract, Contract, Failure, InferenceRules, RangePolicy,
                                  check_arrow_types, default_contract_path)
from synth.contract.scan import ContractScan, scan_contract

__all__ = ["CONTRACT_VERSION", "ColumnContract", "Contract", "ContractInference", "ContractScan", "Failure",
           "InferenceRules", "RangePolicy", "check_arrow_types", "default_contract_path", "infer_contract",
           "infer_contract_batches", "inferred_range", "load_contract", "save_contract", "scan_contract"]
