"""Bulk loading for the benchmarks: INSERT ... SELECT straight in the database."""

from typing import Any

Sql = tuple[str, list[Any]]


def insert_select(model: Any, values: dict[str, Sql], source: Sql, *, with_: Sql = ("", [])) -> Sql:
    """`INSERT INTO table (every column) SELECT ... FROM source` for `model`.

    Columns not in `values` (keyed by attname) get the field's default as a parameter, so a
    column added to the model later does not break the load.
    """
    from django.db import connection

    columns, exprs, params = [], [], list(with_[1])
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in values:
            sql, field_params = values[field.attname]
        else:
            default = field.get_default()
            sql, field_params = (
                "%s",
                [None if default is None else field.get_db_prep_save(default, connection)],
            )
        exprs.append(sql)
        params.extend(field_params)
    sql = (
        f"{with_[0]} INSERT INTO {model._meta.db_table} ({', '.join(columns)})"
        f" SELECT {', '.join(exprs)} FROM {source[0]}"
    )
    return sql, [*params, *source[1]]
