"""Kafka client authentication from the settings: SASL/SCRAM, optionally over TLS."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from marchwarden.settings import Settings


class BrokerAuthError(ValueError):
    """The broker authentication settings do not fit together; one line for a person."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    auth = settings.broker_auth
    if auth.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=str(auth.ca_file) if auth.ca_file else None)


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
    auth = settings.broker_auth
    if auth.security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": auth.security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if auth.security_protocol.startswith("SASL"):
        if not auth.username or auth.password is None:
            raise BrokerAuthError(
                "SASL needs MARCHWARDEN_BROKER_AUTH__USERNAME and MARCHWARDEN_BROKER_AUTH__PASSWORD"
            )
        options.update(
            sasl_mechanism=auth.sasl_mechanism,
            sasl_plain_username=auth.username,
            sasl_plain_password=auth.password.get_secret_value(),
        )
    return options


def faust_credentials(settings: Settings) -> Any:
    """The same for Faust's own consumer and producer (None: plaintext)."""
    auth = settings.broker_auth
    if auth.security_protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if auth.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    options = kafka_client_options(settings)
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        mechanism=auth.sasl_mechanism,
    )
