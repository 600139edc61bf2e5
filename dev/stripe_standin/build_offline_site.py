"""Build the offline site: web/ with the Stripe.js stand-in, and a Firebase config to serve it.

Writes, under the run's folder (.run/<run>/offline/, gitignored, rebuilt every time):

- functions/: links to every file of functions/ (firebase-tools only takes paths inside the
  config's folder), plus this run's settings in .env.local (params) and .secret.local (secrets),
  which the Functions emulator reads. functions/ itself, and any real keys in its own
  .env.local, are never touched or read.
- web/: a copy of web/ in which only the Stripe.js script URL in index.html changes, from
  https://js.stripe.com/v3/ to the stand-in server's /v3/. The page code is otherwise identical.
- firebase.json: derived from the root firebase.json (the deployed one, never edited for this):
  hosting serves the copy; the stand-in origin joins the CSP's script-src, connect-src and
  frame-src; the Emulator UI is off (offline its download fails and stops every emulator); no
  Firestore emulator (it runs from the jar on Java 17, see the notes); every emulator port
  firebase-tools opens (hosting, functions, hub, logging, eventarc, tasks, pubsub) is the run's,
  given by dev/stack.py. Every other header is kept.

    python dev/stripe_standin/build_offline_site.py --standin-origin http://127.0.0.1:8421
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STRIPE_JS_TAG = '<script src="https://js.stripe.com/v3/"></script>'
CSP_ADDITIONS = ("script-src", "connect-src", "frame-src")


def offline_html(html: str, standin_origin: str) -> str:
    if html.count(STRIPE_JS_TAG) != 1:
        raise SystemExit(f"web/index.html must contain exactly one {STRIPE_JS_TAG}")
    return html.replace(STRIPE_JS_TAG, f'<script src="{standin_origin}/v3/"></script>')


def add_to_csp(policy: str, origin: str) -> str:
    """The policy with `origin` appended to the directives the stand-in needs."""
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    names = [d.split()[0] for d in directives]
    missing = [n for n in CSP_ADDITIONS if n not in names]
    if missing:
        raise SystemExit(f"the CSP in firebase.json has no {', '.join(missing)}")
    return "; ".join(f"{d} {origin}" if d.split()[0] in CSP_ADDITIONS else d for d in directives)


def offline_config(
    config: dict[str, Any], standin_origin: str, ports: dict[str, int]
) -> dict[str, Any]:
    out = copy.deepcopy(config)
    # Rules and indexes serve deploys and the Firestore emulator, which is not started from here.
    out.pop("firestore", None)
    out["hosting"]["public"] = "web"
    out["functions"]["source"] = "functions"  # a symlink next to this config, see build()

    found = False
    for group in out["hosting"].get("headers", []):
        for header in group["headers"]:
            if header["key"].lower() == "content-security-policy":
                header["value"] = add_to_csp(header["value"], standin_origin)
                found = True
    if not found:
        raise SystemExit("firebase.json serves no Content-Security-Policy header")

    emulators = out["emulators"]
    emulators.pop("firestore", None)
    emulators["ui"] = {"enabled": False}
    set_emulator_ports(emulators, ports)
    return out


def set_emulator_ports(emulators: dict[str, Any], ports: dict[str, int]) -> None:
    """Give each emulator firebase-tools starts (hosting, functions, hub, logging, eventarc,
    tasks, pubsub, ui) its port: fixed, so that firebase-tools never picks one of its own."""
    for name, port in ports.items():
        emulators.setdefault(name, {"host": "127.0.0.1"})["port"] = port


def dotenv(values: dict[str, str]) -> str:
    return "".join(f"{key}={json.dumps(value)}\n" for key, value in values.items())


def link_functions(target: Path, params: dict[str, str], secrets: dict[str, str]) -> None:
    """A functions folder for the emulator: the real code, linked, with this run's settings.

    firebase-tools resolves paths against the config file's folder, refuses "../", and reads
    params only from dotenv files in the functions folder (not from the environment).
    """
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for entry in sorted((REPO / "functions").iterdir()):
        if not entry.name.startswith((".", "__pycache__")):  # no dotenv files, secrets or caches
            (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (target / ".env.local").write_text(dotenv(params), encoding="utf-8")
    (target / ".secret.local").write_text(dotenv(secrets), encoding="utf-8")


def build(
    standin_origin: str,
    out_dir: Path = REPO / ".run" / "offline",
    ports: dict[str, int] | None = None,
    params: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> Path:
    """Build the site into out_dir; return the path of its firebase.json.

    `params` and `secrets` are the Functions settings for this run (see
    functions/checkout/platform/settings.py).
    """
    standin_origin = standin_origin.rstrip("/")
    site = out_dir / "web"
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(REPO / "web", site)
    index = site / "index.html"
    index.write_text(
        offline_html(index.read_text(encoding="utf-8"), standin_origin), encoding="utf-8"
    )

    link_functions(out_dir / "functions", params or {}, secrets or {})

    config = json.loads((REPO / "firebase.json").read_text(encoding="utf-8"))
    config_path = out_dir / "firebase.json"
    config_path.write_text(
        json.dumps(offline_config(config, standin_origin, ports or {}), indent=2) + "\n",
        encoding="utf-8",
    )
    return config_path


def build_online(out_dir: Path, ports: dict[str, int]) -> Path:
    """For `make dev` with real Stripe on moved ports: the root firebase.json with these emulator
    ports, next to links to the real web/ and functions/ (so functions/.env.local and
    .secret.local, with the developer's keys, are the ones read). Returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("web", "functions"):
        link = out_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(REPO / name, target_is_directory=True)
    config = json.loads((REPO / "firebase.json").read_text(encoding="utf-8"))
    config.pop("firestore", None)  # rules and indexes serve deploys; Firestore runs from the jar
    config["emulators"].pop("firestore", None)
    set_emulator_ports(config["emulators"], ports)
    config_path = out_dir / "firebase.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return config_path


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Build .run/offline/ (web/ + firebase.json) for the stand-in."
    )
    parser.add_argument("--standin-origin", default="http://127.0.0.1:8421")
    parser.add_argument("--out", type=Path, default=REPO / ".run" / "offline")
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="EMULATOR=PORT",
        help="override an emulator port, e.g. hosting=5100 (repeatable)",
    )
    args = parser.parse_args()
    ports = {name: int(port) for name, port in (p.split("=", 1) for p in args.port)}
    print(build(args.standin_origin, args.out.resolve(), ports))


if __name__ == "__main__":
    main()
