"""What a hosted instance must have set before it serves anyone; checked on every page load."""

from __future__ import annotations

from collections.abc import Mapping

# Streamlit option -> (the value hosted mode needs, why), compared as the option's value.
REQUIRED_OPTIONS: dict[str, tuple[object, str]] = {
    "server.enableXsrfProtection": (True, "XSRF protection must be on"),
    # Streamlit's enableCORS turns its CORS *protection* on: off, it sends Access-Control-Allow-Origin: *
    # and takes WebSocket connections from any origin (streamlit/config.py warns as much).
    "server.enableCORS": (True, "cross-origin access must be refused (CORS protection on)"),
    "client.showErrorDetails": ("none", "error details must be hidden from users"),
    "client.toolbarMode": ("minimal", "the toolbar must be minimal"),
}
MAX_UPLOAD_MB = 10
# Every option hardening_problems reads.
CHECKED_OPTIONS = (*REQUIRED_OPTIONS, "server.maxUploadSize", "server.address")
# What st.login needs in .streamlit/secrets.toml, [auth] (one provider, OpenID Connect).
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


def hardening_problems(options: Mapping[str, object], auth: Mapping[str, object] | None) -> list[str]:
    """Every reason this server must not run in hosted mode yet, each naming the setting to change."""
    problems = [
        f"{why}: set {name} = {_toml(wanted)} (it is {_toml(options.get(name))})"
        for name, (wanted, why) in REQUIRED_OPTIONS.items()
        if options.get(name) != wanted
    ]
    upload = options.get("server.maxUploadSize")
    if not isinstance(upload, int) or upload > MAX_UPLOAD_MB:
        problems.append(
            f"uploads must be capped at {MAX_UPLOAD_MB} MB or less: set server.maxUploadSize (it is {upload})"
        )
    if not options.get("server.address"):
        problems.append(
            "the address to serve on must be chosen explicitly: set server.address "
            "(e.g. --server.address 127.0.0.1 behind a proxy)"
        )
    missing = [key for key in AUTH_KEYS if not (auth or {}).get(key)]
    if missing:
        problems.append(
            "login is not configured: .streamlit/secrets.toml needs [auth] with " + ", ".join(missing)
        )
    return problems


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)
