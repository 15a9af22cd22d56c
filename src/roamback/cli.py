"""The ``roamback`` command.

Configuration problems exit with status 2 and one line per bad key on stderr, never a traceback: the
reader is an operator fixing a file, not a developer. The service modules are imported inside each
command so that ``config check`` works on a machine (or in a CI step) that only validates files, and so
that the asyncio reactor is installed before anything can import the default one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import yaml

from . import __version__
from .config import Config, ConfigError, config_warnings, load_config

EXIT_CONFIG = 2


def install_reactor() -> None:
    """Install Twisted's asyncio reactor unless it already is (tests, ``python -m`` re-entry)."""
    if "twisted.internet.reactor" not in sys.modules:
        from twisted.internet import asyncioreactor

        asyncioreactor.install()
        return
    from twisted.internet import reactor
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    if not isinstance(reactor, AsyncioSelectorReactor):
        raise RuntimeError(f"another reactor ({type(reactor).__name__}) was installed before the asyncio one")


def _serve(args: argparse.Namespace, config: Config) -> int:
    install_reactor()
    from .app import serve

    return serve(config)


def _demo(args: argparse.Namespace, config: Config) -> int:
    install_reactor()
    from .demo import run

    return run(config, args)


def _simnet(args: argparse.Namespace, config: Config) -> int:
    install_reactor()
    from .simnet import SimnetConfigError, run_simnet
    from .simnet import load_config as load_simnet_config

    try:
        simnet_config = load_simnet_config(args.simnet_config)
    except SimnetConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    return run_simnet(simnet_config)


def _phone(args: argparse.Namespace, config: Config) -> int:
    host, _, port = args.simnet.rpartition(":")
    if not host or not port.isdigit():
        print(f"--simnet: {args.simnet!r} is not HOST:PORT", file=sys.stderr)
        return EXIT_CONFIG
    install_reactor()
    from .simnet import run_phone

    return run_phone(args.msisdn, host.strip("[]"), int(port), args.wait)


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    from .storage.migrate import upgrade

    upgrade(config.database.url)
    return 0


def _config_check(args: argparse.Namespace, config: Config) -> int:
    print("OK")
    for warning in config_warnings(config):
        print(f"warning: {warning}")
    if args.show:
        print(yaml.safe_dump(config.redacted(), sort_keys=False, allow_unicode=True), end="")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roamback", description="Roaming call-back gateway.")
    parser.add_argument("--version", action="version", version=f"roamback {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace, Config], int], help: str,
                parent: argparse._SubParsersAction = commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    demo = command("demo", _demo, "run the embedded service and show four call-backs end to end")
    for sub in (command("serve", _serve, "run the service until SIGTERM/SIGINT"), demo):
        sub.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded mode)")
    demo.add_argument("--charging", choices=("ledger", "diameter"), default="ledger",
                      help="charge with the built-in ledger (default) or over Diameter Ro against simnet's OCS")

    simnet = command("simnet", _simnet, "run the simulated SMSC + USSD centre and its handset control API")
    simnet.add_argument("--config", metavar="FILE", dest="simnet_config",
                        help="simnet YAML configuration (default: 127.0.0.1:2775, roamback/simnet, port 2776)")
    phone = command("phone", _phone, "an interactive handset on simnet: USSD strings, 'sms TO TEXT', 'inbox'")
    phone.add_argument("msisdn", metavar="MSISDN", help="the handset's number, e.g. 447700900001")
    phone.add_argument("--simnet", metavar="HOST:PORT", default="127.0.0.1:2776",
                       help="simnet's control API (default: 127.0.0.1:2776)")
    phone.add_argument("--wait", metavar="SECONDS", type=float, default=30.0,
                       help="after the end of input, how long to wait for pending screens and SMS (default 30)")
    for sub in (simnet, phone):
        sub.set_defaults(config=None)  # the service's configuration stays embedded: simnet has its own

    config_parser = command("config", _config_check, "configuration tools")
    config_commands = config_parser.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = command("check", _config_check, "validate a configuration file (environment included)",
                    config_commands)
    check.add_argument("config", metavar="FILE")
    check.add_argument("--show", action="store_true",
                       help="print the effective configuration, secrets hidden")

    db_parser = command("db", _db_upgrade, "database tools")
    db_commands = db_parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = command("upgrade", _db_upgrade, "migrate the database schema to the latest revision",
                      db_commands)
    upgrade.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded mode)")

    from .ops.admin import register as register_admin  # argparse only: no service module is imported

    register_admin(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    return args.run(args, config)
