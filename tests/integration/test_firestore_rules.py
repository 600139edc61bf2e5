"""firestore.rules, as the emulator enforces them on clients.

The Python server client sends `Authorization: Bearer owner`, which skips the rules, so the
rules are tested the way a browser reaches Firestore: the REST API with a Firebase user's ID
token (here an unsigned one, alg "none", which the emulator accepts) or with no token at all.
A private emulator, started with the repository's firestore.rules, keeps the shared one clean.
"""

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dev.stack import PROJECT_ID, ROOT
from tests.integration.private_servers import PrivateFirestore, private_firestore

COLLECTIONS = ["orders", "stripe_events", "checkouts", "anything_else"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def fake_id_token(uid: str = "alice") -> str:
    """A Firebase Auth ID token for `uid`, unsigned: the emulator does not check signatures."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT_ID}",
        "aud": PROJECT_ID,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "email": f"{uid}@example.com",
        "email_verified": True,
        "firebase": {"sign_in_provider": "password", "identities": {}},
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


USER = fake_id_token()
AUTHS = {"signed-in user": f"Bearer {USER}", "no token": None}


@pytest.fixture(scope="module")
def emulator() -> Iterator[PrivateFirestore]:
    with private_firestore(ROOT / "firestore.rules") as started:
        yield started


class Rest:
    def __init__(self, emulator: PrivateFirestore, authorization: str | None) -> None:
        self.base = f"http://{emulator.host}/v1/projects/{PROJECT_ID}/databases/(default)/documents"
        self.headers = {"Authorization": authorization} if authorization else {}

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, f"{self.base}{path}", json=body, headers=self.headers, timeout=10
        )


FIELDS = {"fields": {"status": {"stringValue": "paid"}}}


@pytest.fixture(scope="module")
def seeded(emulator: PrivateFirestore) -> None:
    owner = Rest(emulator, "Bearer owner")
    for collection in COLLECTIONS:
        response = owner.call("PATCH", f"/{collection}/existing", FIELDS)
        assert response.status_code == 200, response.text


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("who", list(AUTHS))
def test_clients_can_neither_read_nor_write(
    emulator: PrivateFirestore, collection: str, who: str
) -> None:
    client = Rest(emulator, AUTHS[who])
    attempts = {
        "create": client.call("POST", f"/{collection}?documentId=new_doc", FIELDS),
        "update": client.call("PATCH", f"/{collection}/existing", FIELDS),
        "delete": client.call("DELETE", f"/{collection}/existing"),
        "get": client.call("GET", f"/{collection}/existing"),
        "get missing": client.call("GET", f"/{collection}/missing"),
        "list": client.call("GET", f"/{collection}"),
        "query": client.call(
            "POST",
            ":runQuery",
            {"structuredQuery": {"from": [{"collectionId": collection}], "limit": 1}},
        ),
    }
    statuses = {name: response.status_code for name, response in attempts.items()}
    assert statuses == dict.fromkeys(attempts, 403)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("who", list(AUTHS))
def test_a_client_cannot_write_an_order_and_its_ledger_entry_in_one_commit(
    emulator: PrivateFirestore, who: str
) -> None:
    prefix = f"projects/{PROJECT_ID}/databases/(default)/documents"
    writes = [
        {"update": {"name": f"{prefix}/orders/pi_forged", **FIELDS}},
        {"update": {"name": f"{prefix}/stripe_events/evt_forged", **FIELDS}},
    ]
    response = Rest(emulator, AUTHS[who]).call("POST", ":commit", {"writes": writes})
    assert response.status_code == 403


def test_the_documents_are_untouched(emulator: PrivateFirestore, seeded: None) -> None:
    owner = Rest(emulator, "Bearer owner")
    for collection in COLLECTIONS:
        response = owner.call("GET", f"/{collection}")
        assert [d["name"].rsplit("/", 1)[1] for d in response.json()["documents"]] == ["existing"]


def test_the_fake_token_is_taken_for_a_signed_in_user(emulator: PrivateFirestore) -> None:
    """Control: the 403s above are the rules speaking, not a malformed token."""
    url = f"http://{emulator.host}/emulator/v1/projects/{PROJECT_ID}:securityRules"
    control = (
        "rules_version = '2';\nservice cloud.firestore { match /databases/{db}/documents {"
        " match /{d=**} { allow read: if request.auth.uid == 'alice'; } } }"
    )
    real = (ROOT / "firestore.rules").read_text()

    def load(rules: str) -> None:
        body = {"rules": {"files": [{"name": "firestore.rules", "content": rules}]}}
        requests.put(url, json=body, timeout=10).raise_for_status()

    load(control)
    try:
        assert Rest(emulator, AUTHS["signed-in user"]).call("GET", "/orders/x").status_code == 404
        assert Rest(emulator, AUTHS["no token"]).call("GET", "/orders/x").status_code == 403
    finally:
        load(real)
    assert Rest(emulator, AUTHS["signed-in user"]).call("GET", "/orders/x").status_code == 403
