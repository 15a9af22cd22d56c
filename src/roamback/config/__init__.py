"""Configuration: one YAML file validated into typed sections, environment overrides on top.

``load_config(path, os.environ)`` is the only way in; with no file the defaults are the embedded mode
(SQLite under ./var, the built-in ledger, the simulated switch, the API on 127.0.0.1:8080).
"""

from ._load import ENV_PREFIX, ConfigError, load_config
from ._sections import (
    ApiConfig,
    ApiKey,
    ChargingConfig,
    Config,
    DatabaseConfig,
    DiallingConfig,
    DirectoryConfig,
    HomeConfig,
    LedgerConfig,
    LoggingConfig,
    MessagesConfig,
    NodeConfig,
    OutboxConfig,
    PolicyConfig,
    SimulatedSwitchConfig,
    SqlDirectoryConfig,
    SwitchConfig,
    SwitchRule,
    mask_url,
)
from ._warnings import config_warnings

__all__ = [
    "ENV_PREFIX",
    "ApiConfig",
    "ApiKey",
    "ChargingConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DiallingConfig",
    "DirectoryConfig",
    "HomeConfig",
    "LedgerConfig",
    "LoggingConfig",
    "MessagesConfig",
    "NodeConfig",
    "OutboxConfig",
    "PolicyConfig",
    "SimulatedSwitchConfig",
    "SqlDirectoryConfig",
    "SwitchConfig",
    "SwitchRule",
    "config_warnings",
    "load_config",
    "mask_url",
]
