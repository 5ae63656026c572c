"""Debian's nginx in front of replicas on 127.0.0.1, with the shipped configuration
(deploy/nginx/modelport.conf): for the fleet test and the fleet benchmark."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

NGINX_SITE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "modelport.conf"


def nginx_site(ports: list[int], listen: int) -> str:
    """The shipped site with one upstream line per port in ``ports`` (in place of the
    shipped 8001 and 8002) and ``listen`` in place of port 80."""
    lines = NGINX_SITE.read_text().splitlines()
    shipped = [i for i, line in enumerate(lines) if line.strip().startswith("server 127.0.0.1:")]
    assert len(shipped) == 2 and "listen 80;" in "\n".join(lines)
    template = lines[shipped[0]]
    address = template.split()[1]
    replicas = [template.replace(address, f"127.0.0.1:{port}") for port in ports]
    lines[shipped[0] : shipped[-1] + 1] = replicas
    return "\n".join(lines).replace("listen 80;", f"listen 127.0.0.1:{listen};") + "\n"


def start_nginx(folder: Path, ports: list[int], listen: int) -> subprocess.Popen:
    """nginx in the foreground with everything under ``folder``. The wrapper adds only
    what a test needs: logs here, and the replicas tried as a response header."""
    folder.mkdir()
    (folder / "modelport.conf").write_text(nginx_site(ports, listen))
    user = "user root;" if os.geteuid() == 0 else ""  # its workers write under folder
    (folder / "nginx.conf").write_text(
        f"""
daemon off;
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    add_header X-Upstream $upstream_addr always;
    include {folder}/modelport.conf;
}}
"""
    )
    check = subprocess.run(
        ["nginx", "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "stderr.log", "wb"),  # noqa: SIM115 - lives as long as nginx
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{listen}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"nginx did not start: {(folder / 'error.log').read_text()}")
