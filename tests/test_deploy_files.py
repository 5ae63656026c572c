"""The deployment files, checked as far as a machine without Docker or Kubernetes allows.

The Dockerfile is parsed (dockerfile-parse) and its health check run against a real server;
compose.yaml is loaded and its services held to the order they must start in; nginx's
configuration passes ``nginx -t``; the Kubernetes manifest is validated against the
schemas kubernetes-validate ships; the systemd unit passes ``systemd-analyze verify``. Each
is also checked against Modelport itself: its CLI's flags, its settings, its limits.
"""

from __future__ import annotations

import configparser
import contextlib
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import click
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from sqlalchemy.engine import make_url

from modelport.app import BODY_OVERHEAD, BODY_SLACK
from modelport.cli import main as modelport_cli
from modelport.cli.serve import gunicorn_options
from modelport.config import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_NGINX = ROOT / "deploy" / "compose" / "nginx.conf"
ENV_EXAMPLE = ROOT / "deploy" / "compose" / "modelport.env.example"
KUBERNETES = ROOT / "deploy" / "kubernetes" / "modelport.yaml"
SYSTEMD_UNIT = ROOT / "deploy" / "systemd" / "modelport.service"

REPLICAS = ("replica-1", "replica-2")
SETTING_NAMES = {PREFIX + f.name.upper() for f in fields(Settings)}
SERVER = gunicorn_options("127.0.0.1", 8000, workers=1, threads=1)
GRACEFUL_SECONDS = SERVER["graceful_timeout"]
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


# -- Dockerfile ---------------------------------------------------------------------------


def dockerfile() -> list[dict]:
    return DockerfileParser(str(DOCKERFILE)).structure


def final_stage() -> list[dict]:
    instructions = dockerfile()
    last_from = max(i for i, step in enumerate(instructions) if step["instruction"] == "FROM")
    return instructions[last_from:]


def values_of(stage: list[dict], instruction: str) -> list[str]:
    return [step["value"] for step in stage if step["instruction"] == instruction]


def only_value(stage: list[dict], instruction: str) -> str:
    found = values_of(stage, instruction)
    assert len(found) == 1, f"expected one {instruction}, found {found}"
    return found[0]


def image_cmd() -> list[str]:
    return json.loads(only_value(final_stage(), "CMD"))


def image_healthcheck() -> list[str]:
    """The HEALTHCHECK's command, in exec form, without its options."""
    _options, _, command = only_value(final_stage(), "HEALTHCHECK").partition("CMD ")
    return json.loads(command)


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values_of(final_stage(), "ENV"):
        env |= dict(pair.split("=", 1) for pair in value.split())
    return env


def image_user_id() -> int:
    return int(only_value(final_stage(), "USER").split(":")[0])


def served_port() -> int:
    command = image_cmd()
    return int(command[command.index("--port") + 1])


def command_line_options(words: list[str]) -> list[str]:
    return [word for word in words if word.startswith("--")]


def subcommand(*names: str) -> click.Command:
    command = modelport_cli
    for name in names:
        command = command.commands[name]
    return command


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in param.opts}


def test_the_image_runs_the_real_serve_command_as_an_unprivileged_user():
    assert json.loads(only_value(final_stage(), "ENTRYPOINT")) == ["modelport"]
    command = image_cmd()
    assert command[0] == "serve"
    assert set(command_line_options(command)) <= option_names(subcommand("serve"))
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert image_user_id() > 0


def test_the_image_exposes_and_health_checks_the_port_it_serves():
    assert only_value(final_stage(), "EXPOSE") == str(served_port())
    url = urlsplit(re.search(r"https?://[^'\"]+", image_healthcheck()[-1]).group())
    assert (url.port, url.path) == (served_port(), "/readyz")


def test_the_image_installs_the_wheel_without_extras_or_pytorch():
    runs = values_of(final_stage(), "RUN")
    installs = [run for run in runs if "pip install" in run]
    assert len(installs) == 1, installs
    installed = installs[0].split("pip install", 1)[1].split()
    wheels = [word for word in installed if not word.startswith("-")]
    assert len(wheels) == 1 and re.fullmatch(r"\S+/modelport-\*\.whl", wheels[0]), installed
    assert "[" not in installs[0], "an extra"
    assert not any("torch" in run for run in runs)
    builds = values_of(dockerfile(), "RUN")
    assert any("pip wheel" in run and "--no-deps" in run for run in builds)


def test_the_image_loads_every_model_while_it_is_built():
    env = image_env()
    checks = [run for run in values_of(final_stage(), "RUN") if "modelport models" in run]
    assert checks, "no RUN loads the models"
    assert env["MODELPORT_MODEL_STORE"] != env["MODELPORT_INSTANCE_PATH"]
    assert not Path(env["MODELPORT_MODEL_STORE"]).is_relative_to(env["MODELPORT_INSTANCE_PATH"])


def test_the_image_names_only_real_settings():
    named = {name for name in image_env() if name.startswith(PREFIX)}
    assert named and named <= SETTING_NAMES


def test_the_build_context_holds_only_what_the_image_is_built_from():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "everything not named is left out (.venv, instance, secrets)"
    kept = {pattern.removeprefix("!").rstrip("/") for pattern in patterns if pattern[0] == "!"}
    build_stage = dockerfile()[: dockerfile().index(final_stage()[0])]
    for copy in values_of(build_stage, "COPY"):
        *sources, _target = copy.split()
        assert set(sources) <= kept, f"COPY {copy}: not in the build context"


class StatusAnswer(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def answering(status: int) -> Iterator[int]:
    """A server on a free port that answers every GET with ``status``; its port."""
    handler = type("Answer", (StatusAnswer,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(command: list[str], port: int) -> int:
    """The image's health check, run by this interpreter against ``port`` instead of the
    image's own (which may be taken on this machine)."""
    program, *arguments = command
    assert program == "python"
    arguments = [word.replace(f":{served_port()}/", f":{port}/") for word in arguments]
    return subprocess.run([sys.executable, *arguments], capture_output=True).returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_health_check_passes_only_when_the_server_says_ready(status, healthy):
    with answering(status) as port:
        code = run_healthcheck(image_healthcheck(), port)
    assert (code == 0) is healthy


# -- compose.yaml -------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def service(name: str) -> dict:
    return compose()["services"][name]


def waits_for(name: str) -> dict[str, str]:
    return {other: rule["condition"] for other, rule in service(name)["depends_on"].items()}


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def test_compose_starts_postgres_then_migrations_then_replicas_then_nginx():
    assert waits_for("migrate") == {"postgres": "service_healthy"}
    for replica in REPLICAS:
        assert waits_for(replica) == {"migrate": "service_completed_successfully"}
    assert waits_for("nginx") == dict.fromkeys(REPLICAS, "service_healthy")
    assert service("migrate")["command"] == ["db", "upgrade"]
    assert "upgrade" in subcommand("db").commands


def test_compose_runs_two_identical_replicas_of_the_migrations_image():
    first, second = (service(name) for name in REPLICAS)
    assert first == second
    assert first["image"] == service("migrate")["image"]
    assert first["env_file"] == service("migrate")["env_file"]
    assert first["read_only"] is True
    assert image_env()["MODELPORT_INSTANCE_PATH"] in first["tmpfs"]
    assert first["healthcheck"]["test"] == ["CMD", *image_healthcheck()]


def test_compose_gives_replicas_time_to_write_what_they_hold():
    for replica in REPLICAS:
        assert seconds(service(replica)["stop_grace_period"]) > GRACEFUL_SECONDS


def test_compose_keeps_the_database_in_a_volume_and_checks_it_is_up():
    postgres = service("postgres")
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_nginx_mounts_a_config_file_of_the_repository_read_only():
    mounts = [volume.split(":") for volume in service("nginx")["volumes"]]
    assert len(mounts) == 1
    source, target, mode = mounts[0]
    assert (COMPOSE.parent / source).resolve() == COMPOSE_NGINX
    assert target.startswith("/etc/nginx/") and mode == "ro"
    assert service("nginx")["ports"] == ["8080:80"]


def test_the_env_example_has_every_setting_the_services_need():
    example = env_example()
    for compose_service in ("postgres", "migrate", *REPLICAS):
        assert f"{service(compose_service)['env_file']}.example" == str(
            ENV_EXAMPLE.relative_to(ROOT)
        )
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= example.keys()
    assert {"MODELPORT_DATABASE_URL", "MODELPORT_SECRET_KEY"} <= example.keys()
    assert {name for name in example if name.startswith(PREFIX)} <= SETTING_NAMES
    replica_env = {PREFIX + "INSTANCE_PATH": "/tmp"} | example | service("replica-1")["environment"]
    assert Settings.from_env(replica_env).secret_key


def test_the_env_example_reaches_the_compose_database_with_placeholder_secrets():
    example = env_example()
    url = make_url(example["MODELPORT_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host in compose()["services"] and url.host == "postgres"
    assert (url.username, url.password, url.database) == (
        example["POSTGRES_USER"],
        example["POSTGRES_PASSWORD"],
        example["POSTGRES_DB"],
    )
    for secret in ("POSTGRES_PASSWORD", "MODELPORT_SECRET_KEY"):
        assert example[secret].startswith("CHANGE-ME"), f"{secret} looks like a real secret"


def test_compose_names_only_real_settings():
    named = {name for name in service("replica-1")["environment"] if name.startswith(PREFIX)}
    assert named <= SETTING_NAMES


# -- nginx --------------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert found, "nginx is missing: scripts/install-system-packages.sh installs it"
    return found


def directive(config: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;{{}}\n]+);", config, flags=re.MULTILINE)


def size_in_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.strip().lower()).groups()
    return int(number) * SIZE_UNITS[unit]


def seconds(text: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", str(text).strip()).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[unit]


def nginx_test(config: Path, workdir: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` of an http-level ``config`` in a minimal main file, with every path nginx
    writes (pid, logs, temp files) in ``workdir``, so that it runs as any user."""
    (workdir / "nginx.conf").write_text(
        f"""pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{}}
http {{
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {config};
}}
"""
    )
    return subprocess.run(
        [nginx_binary(), "-t", "-q", "-e", str(workdir / "error.log")]
        + ["-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        capture_output=True,
        text=True,
    )


def test_nginx_accepts_the_compose_config(tmp_path):
    # nginx -t resolves every upstream server's name, and replica-1 and replica-2 exist only
    # on compose's network: they become 127.0.0.1 here. The access log goes to the temp
    # folder too (the image's /var/log/nginx is not writable by every user).
    config = COMPOSE_NGINX.read_text()
    for replica in REPLICAS:
        config = config.replace(f"server {replica}:", "server 127.0.0.1:")
    config = config.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "modelport.conf").write_text(config)
    done = nginx_test(tmp_path / "modelport.conf", tmp_path)
    assert done.returncode == 0, done.stderr


def test_nginx_refuses_a_broken_config(tmp_path):
    (tmp_path / "broken.conf").write_text("server { listen 80; proxy_pass; }\n")
    assert nginx_test(tmp_path / "broken.conf", tmp_path).returncode != 0


def test_nginx_balances_over_the_compose_replicas_on_the_served_port():
    servers = [value.split()[0] for value in directive(COMPOSE_NGINX.read_text(), "server")]
    assert servers == [f"{replica}:{served_port()}" for replica in REPLICAS]


def test_nginx_takes_bodies_as_large_as_modelport_does_and_no_larger():
    modelport_limit = int(Settings().max_upload_bytes * BODY_OVERHEAD) + BODY_SLACK
    (nginx_limit,) = directive(COMPOSE_NGINX.read_text(), "client_max_body_size")
    assert modelport_limit <= size_in_bytes(nginx_limit) <= modelport_limit + 1024**2


def test_nginx_keeps_upstream_connections_shorter_than_modelport_does():
    config = COMPOSE_NGINX.read_text()
    upstream = re.search(r"upstream\s+\w+\s*\{(.*?)\}", config, flags=re.DOTALL).group(1)
    (idle,) = directive(upstream, "keepalive_timeout")
    assert seconds(idle) < SERVER["keepalive"]
    assert directive(config, "proxy_http_version") == ["1.1"]
    assert 'Connection ""' in directive(config, "proxy_set_header")


def test_nginx_fails_over_posts_too_but_sends_one_to_each_replica_at_most():
    config = COMPOSE_NGINX.read_text()
    (rule,) = directive(config, "proxy_next_upstream")
    conditions = {"error", "timeout", "http_502", "http_503", "http_504", "non_idempotent"}
    assert conditions <= set(rule.split())
    (tries,) = directive(config, "proxy_next_upstream_tries")
    assert 0 < int(tries) <= len(REPLICAS)


def test_nginx_tells_modelport_who_the_client_is():
    headers = {
        value.split()[0]: value.split(None, 1)[1]
        for value in directive(COMPOSE_NGINX.read_text(), "proxy_set_header")
    }
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Host"] == "$host"
    assert service("replica-1")["environment"]["MODELPORT_TRUSTED_PROXIES"] == "1"


# -- Kubernetes ---------------------------------------------------------------------------


def manifests() -> list[dict]:
    return [document for document in yaml.safe_load_all(KUBERNETES.read_text()) if document]


def manifest(kind: str) -> dict:
    (found,) = [document for document in manifests() if document["kind"] == kind]
    return found


def server_container() -> dict:
    (container,) = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def env_names(container: dict) -> set[str]:
    return {variable["name"] for variable in container.get("env", [])}


def from_secret(container: dict) -> set[str]:
    return {
        variable["name"]
        for variable in container["env"]
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


def test_the_kubernetes_manifest_is_valid_for_a_recent_kubernetes():
    version = kubernetes_validate.latest_version()
    for document in manifests():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{document['kind']} {document['metadata']['name']}: {error.message}")
    kinds = sorted(document["kind"] for document in manifests())
    expected = ["Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"]
    assert kinds == expected, "and no Secret with values in the repository"


def test_the_schema_check_refuses_a_misspelled_field():
    deployment = manifest("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_probes_ask_the_served_port_for_readiness_and_liveness():
    container = server_container()
    (port,) = container["ports"]
    assert port["containerPort"] == served_port()
    probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] in {"/healthz", "/readyz"}
    for probe in (*probes.values(), container["startupProbe"]["httpGet"]):
        assert probe["port"] in (port["name"], port["containerPort"])


def test_the_pods_run_unprivileged_on_a_read_only_root():
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    job_pod = manifest("Job")["spec"]["template"]["spec"]
    for spec in (pod, job_pod):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == image_user_id()
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", image_env()["MODELPORT_INSTANCE_PATH"]} <= mounted
        empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        assert len(empty_dirs) == len(spec["volumes"])


def test_the_replicas_share_database_and_key_from_a_secret():
    assert {"MODELPORT_DATABASE_URL", "MODELPORT_SECRET_KEY"} <= from_secret(server_container())
    (migrate,) = manifest("Job")["spec"]["template"]["spec"]["containers"]
    assert "MODELPORT_DATABASE_URL" in from_secret(migrate)
    for container in (server_container(), migrate):
        assert {name for name in env_names(container) if name.startswith(PREFIX)} <= SETTING_NAMES


def test_the_job_migrates_the_database_with_the_real_command():
    (migrate,) = manifest("Job")["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["db", "upgrade"]
    assert "upgrade" in subcommand("db").commands
    assert migrate["image"] == server_container()["image"]


def test_the_deployment_serves_as_the_image_does_and_stops_gracefully():
    deployment = manifest("Deployment")
    assert server_container()["args"] == image_cmd()
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > GRACEFUL_SECONDS
    limits = server_container()["resources"]["limits"]
    workers = {v["name"]: v.get("value") for v in server_container()["env"]}["MODELPORT_WORKERS"]
    assert int(workers) <= float(limits["cpu"])
    assert server_container()["resources"]["requests"]["cpu"]


def test_prometheus_scrapes_each_pod_on_the_served_port():
    annotations = manifest("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(served_port())
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_autoscaler_and_disruption_budget_point_at_the_deployment():
    deployment = manifest("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service_spec = manifest("Service")["spec"]
    assert service_spec["selector"].items() <= labels.items()
    assert service_spec["ports"][0]["targetPort"] == server_container()["ports"][0]["name"]
    pdb = manifest("PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    target = manifest("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert manifest("HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2
    assert pdb["minAvailable"] < manifest("HorizontalPodAutoscaler")["spec"]["minReplicas"]


# -- systemd ------------------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(SYSTEMD_UNIT.read_text())
    return parser


def systemd_verify(text: str, workdir: Path) -> str:
    """What ``systemd-analyze verify`` says of a unit: nothing when all is well."""
    # verify insists that ExecStart's program exists: the unit names where Modelport is
    # installed on a server, here a stand-in script takes its place.
    program = unit()["Service"]["ExecStart"].split()[0]
    stand_in = workdir / "modelport"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    copy = workdir / "modelport.service"
    copy.write_text(text.replace(program, str(stand_in)))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/install-system-packages.sh installs it"
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True
    )
    said = done.stdout + done.stderr
    return f"exit {done.returncode}: {said}" if done.returncode else said


def test_systemd_accepts_the_unit(tmp_path):
    assert systemd_verify(SYSTEMD_UNIT.read_text(), tmp_path) == ""


def test_systemd_reports_a_misspelled_option(tmp_path):
    misspelled = SYSTEMD_UNIT.read_text().replace("ProtectSystem=", "ProtectSystm=")
    assert "ProtectSystm" in systemd_verify(misspelled, tmp_path)


def test_systemd_serves_unprivileged_restarts_and_stops_gracefully():
    service_section = unit()["Service"]
    program, *arguments = service_section["ExecStart"].split()
    assert Path(program).name == "modelport" and arguments[0] == "serve"
    assert set(command_line_options(arguments)) <= option_names(subcommand("serve"))
    assert service_section["User"] == "modelport"
    assert service_section["EnvironmentFile"].startswith("/etc/")
    assert service_section["Restart"] == "on-failure"
    assert service_section["KillSignal"] == "SIGTERM"
    assert seconds(service_section["TimeoutStopSec"]) > GRACEFUL_SECONDS


def test_systemd_writes_only_the_instance_folder():
    service_section = unit()["Service"]
    environment = dict(pair.split("=", 1) for pair in service_section["Environment"].split())
    assert service_section["ProtectSystem"] == "strict"
    assert service_section["ReadWritePaths"].split() == [environment["MODELPORT_INSTANCE_PATH"]]
    assert service_section["NoNewPrivileges"] == "yes"
    assert service_section["CapabilityBoundingSet"] == ""
