"""Schemathesis runs the whole OpenAPI document of ``xrm serve`` against the ASGI
application on a seeded database: no 5xx, every response (errors included) as the
document says, every status code documented."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
pytest.importorskip("fastapi", reason="the web extra (xrm[web]) is not installed")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TEST_TYPES  # noqa: E402
from xrm import XRM, RolePolicy  # noqa: E402
from xrm.web import ApiKeys, create_app  # noqa: E402

#: examples per operation: the whole document (~35 operations) in well under two minutes
EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@schemathesis.serializer("application/x-ndjson")  # type: ignore[untyped-decorator]
def ndjson(ctx: Any, value: Any) -> bytes:
    """The import's body: JSON Lines (a generated string is sent as it is)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    rows = value if isinstance(value, list) else [value]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@pytest.fixture
def web_schema(app: XRM) -> Any:
    served = XRM(app.url, policy=RolePolicy(), default_region="FR", builtins=False,
                 discover=False)  # fmt: skip
    served.register(*TEST_TYPES, source="tests")
    with served.session(actor="seed", roles=["admin"]) as s:
        ada = s.parties.create(
            "person", "Ada Lovelace",
            contact_points=[{"kind": "email", "value": "ada@example.com"},
                            {"kind": "phone", "value": "+33612345678"}],
            tags=["vip"],
        )  # fmt: skip
        acme = s.parties.create("organization", "ACME")
        s.parties.create("person", "Ada Lovelace", contact_points=[{"kind": "email",
                         "value": "ada.lovelace@example.com"}])  # fmt: skip
        s.roles.assign(ada, "customer")
        s.relationships.create("works_for", ada, acme)
        s.consents.grant(ada, "marketing", source="web_form")
    keys = ApiKeys()
    key = keys.create("schemathesis", ["admin"])
    loaded = schemathesis.openapi.from_asgi("/openapi.json", create_app(served, keys))
    loaded.config.headers = {"Authorization": f"Bearer {key}"}
    yield loaded
    served.dispose()


def test_the_api_answers_as_its_openapi_document_says(web_schema: Any) -> None:
    # each operation on its own, valid and invalid input (schemathesis's pytest
    # parametrisation from a fixture does not run on this pytest version)
    failures: list[str] = []
    operations = [result.ok() for result in web_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case: Any) -> None:
            with warnings.catch_warnings():  # starlette's test client would like httpx2
                warnings.simplefilter("ignore")
                case.call_and_validate(checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            causes = getattr(exc, "exceptions", ())  # a flaky one: the first call's failure
            failures.append("\n".join([f"{operation.label}: {exc}", *map(str, causes)]))
    assert not failures, "\n\n".join(failures)
