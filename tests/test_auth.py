"""Who is asking: API tokens and people made with the CLI, signing in and out, roles, and
the migration that brought them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from conftest import AuthActions, bearer, data_uri, drawn_one, make_app
from sqlalchemy import text
from store_support import database_url, store  # noqa: F401 - fixtures

from modelport.cli import main
from modelport.store import Store
from modelport.store import people as pp
from modelport.store.migrate import current_revision, upgrade

JSON = {"Accept": "application/json"}


@pytest.fixture
def app(tmp_path, model_store):
    return make_app(tmp_path / "instance", model_store, ("digits-knn",))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def env(app) -> dict[str, str]:
    """The CLI's environment: the app's own instance, so the same database."""
    return {"MODELPORT_INSTANCE_PATH": app.instance_path}


def all_cells(app, table: str) -> str:
    with app.extensions["modelport_store"].engine.connect() as connection:
        return repr(connection.execute(text(f"SELECT * FROM {table}")).all())


def test_a_token_from_the_cli_is_printed_last_kept_hashed_and_revocable(
    app, client, cli_runner, env
):
    made = cli_runner.invoke(
        main, ["tokens", "create", "--role", "operator", "--name", "ci"], env=env
    )
    assert made.exit_code == 0, made.output
    token = made.output.splitlines()[-1]
    assert token.startswith("mp_") and len(token) > 40 and " " not in token
    stored = all_cells(app, "api_tokens")
    assert token not in stored  # only its SHA-256
    assert hashlib.sha256(token.encode()).hexdigest() in stored

    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.json == {"role": "operator", "name": "ci", "via": "token"}
    listed = cli_runner.invoke(main, ["tokens", "list"], env=env)
    assert "ci" in listed.output and "operator" in listed.output and token not in listed.output

    token_id = listed.output.splitlines()[1].split()[0]
    revoked = cli_runner.invoke(main, ["tokens", "revoke", token_id], env=env)
    assert revoked.exit_code == 0, revoked.output
    refused = client.get("/api/v1/predictions", headers=bearer(token))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.headers["X-Request-ID"]  # refused, and still logged like any request
    assert client.get("/api/v1/me", headers=bearer("mp_made-up")).status_code == 401
    # Another scheme (a proxy's Basic auth in front) is not ours: a visitor.
    assert client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).json["role"] == (
        "visitor"
    )
    assert cli_runner.invoke(main, ["tokens", "revoke", "999"], env=env).exit_code == 1
    teacher = cli_runner.invoke(main, ["tokens", "create", "--role", "visitor"], env=env)
    assert teacher.exit_code == 2  # only teachers and operators get tokens


def test_people_sign_in_with_a_password_from_the_cli(app, client, cli_runner, env):
    made = cli_runner.invoke(
        main,
        ["users", "create", "ada", "--role", "teacher", "--password-stdin"],
        env=env,
        input="a long passphrase\n",
    )
    assert made.exit_code == 0, made.output
    prompted = cli_runner.invoke(
        main, ["users", "create", "grace", "--role", "operator"], env=env, input="pw123456\n" * 2
    )
    assert prompted.exit_code == 0, prompted.output
    assert "pw123456" not in all_cells(app, "users")  # a salted hash, not the password
    taken = cli_runner.invoke(
        main, ["users", "create", "ada", "--role", "teacher", "--password-stdin"],
        env=env, input="another passphrase\n",
    )  # fmt: skip
    assert taken.exit_code == 1 and "already a user named 'ada'" in taken.output
    short = cli_runner.invoke(
        main, ["users", "create", "bob", "--role", "teacher", "--password-stdin"],
        env=env, input="short\n",
    )  # fmt: skip
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    listed = cli_runner.invoke(main, ["users", "list"], env=env).output
    assert "ada" in listed and "grace" in listed and "operator" in listed

    auth = AuthActions(app)
    page = client.get("/history")
    assert "Sign in" in page.text and "Your predictions" in page.text
    wrong = auth.login(client, "ada", "not the passphrase")
    assert wrong.status_code == 401
    assert "That name and password do not match" in wrong.text
    assert 'value="ada"' in wrong.text  # the name stays filled in
    assert client.get("/api/v1/me").json["role"] == "visitor"
    assert auth.login(client, "nobody", "a long passphrase").status_code == 401

    signed_in = auth.login(client, "ada", "a long passphrase")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert client.get("/api/v1/me").json == {"role": "teacher", "name": "ada", "via": "session"}
    page = client.get("/history")
    assert "Signed in as <strong>ada</strong> (teacher)" in page.text
    assert "Prediction history" in page.text and "Sign out" in page.text
    assert ">Review<" not in page.text  # operators only
    auth.logout(client)
    assert client.get("/api/v1/me").json["role"] == "visitor"

    deleted = cli_runner.invoke(main, ["users", "delete", "grace"], env=env)
    assert deleted.exit_code == 0
    assert auth.login(client, "grace", "pw123456").status_code == 401


def test_signing_in_goes_back_where_it_was_asked_and_only_on_this_site(app, client, auth):
    auth.user("lin", "operator")
    sent = client.get("/review")
    assert sent.status_code == 302 and sent.headers["Location"] == "/auth/login?next=/review"
    page = client.get("/auth/login?next=/review")
    response = client.post(
        "/auth/login", data={"name": "lin", "password": auth.PASSWORD, "next": "/review"}
    )
    assert response.headers["Location"] == "/review" and page.status_code == 200
    assert client.get("/review").status_code == 200
    auth.logout(client)
    for elsewhere in ["//evil.example/", "https://evil.example/", "/\\evil.example"]:
        response = client.post(
            "/auth/login", data={"name": "lin", "password": auth.PASSWORD, "next": elsewhere}
        )
        assert response.headers["Location"] == "/", elsewhere
        auth.logout(client)


def test_each_role_gets_what_it_may(app, client, auth):
    auth.user("tess", "teacher")
    auth.user("otto", "operator")
    accept = "/api/v1/predictions/0123456789abcdef0123/feedback/accept"
    anonymous = client.post(accept)
    assert anonymous.status_code == 401 and anonymous.json["error"] == "sign_in_required"
    assert client.post(accept, headers=auth.headers("teacher")).status_code == 403
    unknown = client.post(accept, headers=auth.headers("operator"))
    assert unknown.status_code == 404 and unknown.json["error"] == "unknown_feedback"

    auth.login(client, "tess")
    review = client.get("/review")
    assert review.status_code == 403 and "This needs an operator" in review.text
    auth.logout(client)
    auth.login(client, "otto")
    review = client.get("/review")
    assert review.status_code == 200 and "Nothing to review" in review.text
    assert ">Review<" in review.text  # in the navbar, for operators


def test_an_expired_or_deleted_sign_in_is_a_visitor_again(app, client, auth):
    auth.user("kim", "teacher")
    auth.login(client, "kim")
    assert client.get("/api/v1/me").json["role"] == "teacher"
    with client.session_transaction() as session:
        session["signed_in_at"] -= 13 * 3600
    assert client.get("/api/v1/me").json["role"] == "visitor"
    auth.login(client, "kim")
    pp.delete_user(auth.store, "kim")
    assert client.get("/api/v1/me").json["role"] == "visitor"


def test_teachers_and_operators_own_what_they_predict(app, client, auth):
    made = client.post(
        "/api/predict",
        json={"image": data_uri(drawn_one()), "model": "digits-knn"},
        headers=JSON | auth.headers("teacher"),
    )
    assert made.status_code == 200
    assert "session=" not in made.headers.get("Set-Cookie", "")  # programs get no cookie
    assert app.extensions["modelport"].recorder.flush(10)
    row = pp_prediction(app, made.json["id"])
    assert row.owner.startswith("token:")


def pp_prediction(app, prediction_id):
    from modelport.store import queries as q

    return q.get_prediction(app.extensions["modelport_store"], prediction_id)


def test_the_migration_keeps_feedback_given_before_it_as_suggestions(database_url):  # noqa: F811
    """A database made before 0002: its feedback came from anonymous callers."""
    old = Store(database_url)
    upgrade(old, "0001")
    now = datetime.now(UTC)
    with old.writing() as session:
        for prediction_id, label, said in [("a" * 20, "1", "7"), ("b" * 20, "1", "1")]:
            session.execute(
                text(
                    "INSERT INTO predictions (id, created_at, model, model_version, input_kind,"
                    " input_image, input_mime, predictions, label, score, latency_ms) VALUES"
                    " (:id, :at, 'digits-knn', '1', 'sketch', :img, 'image/png', '[]', :label,"
                    " 0.9, 1.0)"
                ),
                {"id": prediction_id, "at": now, "img": b"png", "label": label},
            )
            session.execute(
                text(
                    "INSERT INTO feedback (prediction_id, label, is_correct, created_at)"
                    " VALUES (:id, :said, :right, :at)"
                ),
                {"id": prediction_id, "said": said, "right": said == label, "at": now},
            )
    old.upgrade()
    assert current_revision(old) == "0004"
    from modelport.store import queries as q

    corrected = q.get_prediction(old, "a" * 20)
    assert corrected.owner is None  # nobody's: only teachers and operators see it
    assert corrected.feedback.status == "suggested"
    assert corrected.feedback.learned_label == "7"  # digits-knn learned it back then
    assert q.get_prediction(old, "b" * 20).feedback.learned_label is None
    assert [row.id for row in q.suggestions(old).rows] == ["a" * 20]
    old.dispose()


def test_people_and_tokens_in_the_store(store):  # noqa: F811
    row, token = pp.create_token(store, "teacher")
    assert row.name == "teacher" and pp.find_token(store, token).id == row.id
    assert pp.find_token(store, token + "x") is None and pp.find_token(store, "x") is None
    pp.revoke_token(store, row.id)
    assert pp.find_token(store, token) is None
    user = pp.create_user(store, "ada.l@example", "operator", "a long passphrase")
    assert pp.authenticate(store, "ada.l@example", "a long passphrase").id == user.id
    assert pp.authenticate(store, "ada.l@example", "wrong") is None
    for bad in ["", "has space", "x" * 65, "-dash-first"]:
        with pytest.raises(pp.PeopleError):
            pp.create_user(store, bad, "teacher", "a long passphrase")
    with pytest.raises(pp.PeopleError):
        pp.create_user(store, "carol", "visitor", "a long passphrase")
