"""Errors of the CLI: what it reports in one line instead of a traceback."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import click

from il_audit.errors import AuditError


class BadSettingsError(click.ClickException, AuditError):
    """A setting holds a value il-audit cannot use: exit code 2, like bad usage."""

    exit_code = 2


class JobFailedError(click.ClickException, AuditError):
    """The work failed (a service refused or did not answer): exit code 1, one line."""

    exit_code = 1


def _verbose() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("verbose"))


@contextmanager
def bigquery_errors(where: str, timeout: float) -> Iterator[None]:
    """BigQuery's failures as one line naming the fix (the trace too with ``-v``).

    No credentials or no google-cloud-bigquery is configuration (exit 2); a refusal, an
    error answer or no answer within ``timeout`` seconds is a failed job (exit 1).
    ``where`` names the endpoint.
    """
    with _google_errors(
        "BigQuery",
        where,
        timeout,
        endpoint_setting="IL_BQ_API_ENDPOINT",
        roles="BigQuery Data Editor and Job User",
        package="google-cloud-bigquery",
    ):
        yield


@contextmanager
def pubsub_errors(where: str, timeout: float) -> Iterator[None]:
    """Pub/Sub's failures as one line naming the fix, as :func:`bigquery_errors`."""
    with _google_errors(
        "Pub/Sub",
        where,
        timeout,
        endpoint_setting="PUBSUB_EMULATOR_HOST",
        roles="Pub/Sub Editor",
        package="google-cloud-pubsub",
    ):
        yield


@contextmanager
def _google_errors(
    service: str, where: str, timeout: float, *, endpoint_setting: str, roles: str, package: str
) -> Iterator[None]:
    from google.api_core import exceptions as core_exceptions
    from google.auth.exceptions import DefaultCredentialsError
    from requests import RequestException

    try:
        yield
    except click.ClickException:
        raise
    except ImportError as exc:
        _trace()
        raise BadSettingsError(
            f"{exc}: this command needs {package}: pip install 'il-audit[subscriber]'"
        ) from exc
    except DefaultCredentialsError as exc:
        _trace()
        raise BadSettingsError(
            "no Google credentials: run `gcloud auth application-default login`, or use the "
            'dev stack (`il-audit dev up --bigquery`, then `eval "$(il-audit dev env)"`)'
        ) from exc
    except core_exceptions.Forbidden as exc:
        _trace()
        raise JobFailedError(
            f"{service} at {where} refused: {exc.message}: the account needs {roles} on the project"
        ) from exc
    except (
        core_exceptions.RetryError,
        core_exceptions.DeadlineExceeded,
        core_exceptions.ServiceUnavailable,
        TimeoutError,
        OSError,
        RequestException,
    ) as exc:
        _trace()
        raise JobFailedError(
            f"{service} at {where} did not answer within {timeout:g} s: check that it is "
            f"reachable ({endpoint_setting}, a stale `il-audit dev env`?), or raise --timeout"
        ) from exc
    except core_exceptions.GoogleAPICallError as exc:
        _trace()
        raise JobFailedError(f"{service} at {where} answered {exc.code}: {exc.message}") from exc


def _trace() -> None:
    if _verbose():
        click.echo(traceback.format_exc().rstrip(), err=True)
