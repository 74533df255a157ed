"""Rows as protocol buffers for the BigQuery Storage Write API: a table spec's descriptor,
and each row serialized against it.

Why proto rows, not Arrow: the proto path is the Storage Write API's original and
documented format on the default stream (Arrow rows there are newer), it needs only
``protobuf``, which google-cloud-bigquery-storage already depends on (Arrow would add
pyarrow, ~100 MB, to the function), and a row is encoded on its own, so a row that cannot
be encoded is refused alone while its neighbours go on.

The descriptor is built from ``il_audit.schemas.tables``, so it follows the models like the
table schemas do. It is a self-contained proto2 ``DescriptorProto`` with no package (the
local stand-in resolves names without one): every field ``optional`` (a REQUIRED column
left empty is BigQuery's to refuse, per row), RECORD columns as nested messages declared
inside the table's message, REPEATED as ``repeated``. Values are encoded as the Storage
Write API documents for each type: TIMESTAMP as int64 microseconds since the epoch, DATE
as int32 days since the epoch, NUMERIC as its decimal string, JSON as JSON text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from il_audit._json import dumps
from il_audit.schemas.tables import ColumnSpec, TableSpec
from il_audit.subscriber_fn.errors import RowEncodingError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY: Final = date(1970, 1, 1)
_MICROSECOND: Final = timedelta(microseconds=1)

_FieldType = descriptor_pb2.FieldDescriptorProto.Type
_PROTO_TYPES: Final[dict[str, int]] = {
    "STRING": _FieldType.TYPE_STRING,
    "INT64": _FieldType.TYPE_INT64,
    "FLOAT64": _FieldType.TYPE_DOUBLE,
    "BOOL": _FieldType.TYPE_BOOL,
    "TIMESTAMP": _FieldType.TYPE_INT64,
    "DATE": _FieldType.TYPE_INT32,
    "NUMERIC": _FieldType.TYPE_STRING,
    "JSON": _FieldType.TYPE_STRING,
}


def _timestamp_micros(value: Any) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RowEncodingError(f"a TIMESTAMP needs an aware datetime, not {type(value).__name__}")
    return (value - _EPOCH) // _MICROSECOND


def _date_days(value: Any) -> int:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RowEncodingError(f"a DATE needs a date, not {type(value).__name__}")
    return (value - _EPOCH_DAY).days


def _numeric_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise RowEncodingError(f"a NUMERIC needs a number, not {type(value).__name__}")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise RowEncodingError("a NUMERIC must be finite")
    return format(number, "f")


def _json_text(value: Any) -> str:
    try:
        text = dumps(value)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return dumps(value, ascii_only=True)  # a lone surrogate, escaped as JSON allows
    except (TypeError, ValueError) as exc:
        raise RowEncodingError(f"a JSON value could not be written: {exc}") from exc
    return text


_CONVERTERS: Final[dict[str, Callable[[Any], Any]]] = {
    "TIMESTAMP": _timestamp_micros,
    "DATE": _date_days,
    "NUMERIC": _numeric_text,
    "JSON": _json_text,
}


def _nested_name(column: ColumnSpec) -> str:
    # Message names live beside field names; the suffix keeps them apart.
    return f"{column.name}__record"


def _message_descriptor(
    name: str, columns: tuple[ColumnSpec, ...], scope: str
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    full_name = f"{scope}.{name}"
    for number, column in enumerate(columns, start=1):
        field = message.field.add(name=column.name, number=number)
        field.label = (
            descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            if column.mode == "REPEATED"
            else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        )
        if column.type == "RECORD":
            nested = _message_descriptor(_nested_name(column), column.fields, full_name)
            message.nested_type.append(nested)
            field.type = _FieldType.TYPE_MESSAGE
            field.type_name = f"{full_name}.{nested.name}"
        else:
            field.type = _PROTO_TYPES[column.type]
    return message


class ProtoTable:
    """A table spec as a proto2 message: the writer schema, and rows encoded against it."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.descriptor: Final = _message_descriptor(spec.name, spec.columns, "")
        pool = descriptor_pool.DescriptorPool()
        file_name = f"il_audit_{spec.name}.proto"
        pool.Add(
            descriptor_pb2.FileDescriptorProto(
                name=file_name, syntax="proto2", message_type=[self.descriptor]
            )
        )
        message_type = pool.FindFileByName(file_name).message_types_by_name[spec.name]
        self._message_class = message_factory.GetMessageClass(message_type)

    def encode(self, row: Mapping[str, Any]) -> bytes:
        """``row`` serialized for the table; :class:`RowEncodingError` when it cannot be."""
        try:
            values = _values(row, self.spec.columns)
            message = self._message_class(**values)
            return message.SerializeToString()  # type: ignore[no-any-return]
        except RowEncodingError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            # protobuf's own checks: a wrong type, an int out of range, a lone surrogate.
            text = f"the row does not fit the {self.spec.name} table: {exc}"
            raise RowEncodingError(text) from exc

    def decode(self, data: bytes) -> Any:
        """A serialized row back as a message (tests and fakes read rows with it)."""
        message = self._message_class()
        message.ParseFromString(data)
        return message


def _values(row: Mapping[str, Any], columns: tuple[ColumnSpec, ...]) -> dict[str, Any]:
    known = {column.name: column for column in columns}
    unknown = [key for key in row if key not in known]
    if unknown:
        raise RowEncodingError(f"no such field: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        column = known[key]
        if column.mode == "REPEATED":
            if not isinstance(value, (list, tuple)):
                raise RowEncodingError(f"{key}: a REPEATED column needs a list")
            values[key] = [_value(column, item, key) for item in value if item is not None]
        else:
            values[key] = _value(column, value, key)
    return values


def _value(column: ColumnSpec, value: Any, path: str) -> Any:
    if column.type == "RECORD":
        if not isinstance(value, Mapping):
            raise RowEncodingError(f"{path}: a RECORD needs an object")
        return _values(value, column.fields)
    converter = _CONVERTERS.get(column.type)
    if converter is None:
        return value
    try:
        return converter(value)
    except RowEncodingError as exc:
        raise RowEncodingError(f"{path}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RowEncodingError(f"{path}: {exc}") from exc
